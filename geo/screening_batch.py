"""Screening many sites in one set-based statement: a verdict row per site, in input order.

The sites come from the request (arrays unnested in SQL) or from the deposits table; every
site meets the zones through the same rule as a single screening (geo/protection.py), each
lookup driven by the GiST index of the zone parts, so rows stream out as they are decided.
"""

from __future__ import annotations

from geo.protection import zone_constrains
from geo.registry import HOLDING, effective_status_sql
from geo.screening import ScreeningOptions, verdict_sql
from geo.sites import Site
from geo.sql import Params, SqlQuery

# The columns of a batch row, in order (CSV header and GeoJSON properties alike).
COLUMNS = (
    "id", "name", "verdict", "constraining_zone_ids", "constraining_zones", "constraining_legal_effects",
    "site_area_ha", "holding_permits", "municipalities",
)


def posted_sites_source(sites: list[Site], params: Params) -> str:
    """SQL FROM item `s` of posted sites (key, name, geom grown by its buffer, depths, ord)."""
    arrays = (
        f"{params([s.key for s in sites])}::text[]", f"{params([s.name for s in sites])}::text[]",
        f"{params([s.wkb for s in sites])}::bytea[]", f"{params([s.buffer_m for s in sites])}::float8[]",
        f"{params([s.depth_top_m for s in sites])}::float8[]", f"{params([s.depth_bottom_m for s in sites])}::float8[]",
    )
    return (
        "(SELECT u.key, u.name, CASE WHEN u.buffer_m IS NULL THEN ST_GeomFromWKB(u.wkb, 4326) "
        "ELSE ST_Buffer(ST_GeomFromWKB(u.wkb, 4326)::geography, u.buffer_m, 'quad_segs=16')::geometry END AS geom, "
        "u.top AS depth_top_m, u.bottom AS depth_bottom_m, u.ord "
        f"FROM unnest({', '.join(arrays)}) WITH ORDINALITY AS u(key, name, wkb, buffer_m, top, bottom, ord)) s"
    )


def deposits_source(commodities: tuple[str, ...], area_code: str | None, params: Params) -> str:
    """SQL FROM item `s` of the deposits holding any of `commodities` (all when empty) that
    intersect the admin area `area_code` (anywhere when None), in id order."""
    conditions = ["TRUE"]
    if commodities:
        conditions.append(f"d.commodities && {params(list(commodities))}::text[]")
    if area_code:
        # As in /deposits: a deposit outline across a border belongs to both sides.
        conditions.append("EXISTS (SELECT 1 FROM admin_areas a "
                          f"WHERE a.code = {params(area_code)} AND ST_Intersects(a.geom, d.geom))")
    return (
        "(SELECT d.id::text AS key, d.name, d.geom, d.depth_top_m, d.depth_bottom_m, d.id AS ord "
        f"FROM deposits d WHERE {' AND '.join(conditions)}) s"
    )


def batch_query(source: str, params: Params, options: ScreeningOptions, geojson: bool) -> SqlQuery:
    """Rows (ord, GeoJSON Feature text) when geojson, else (ord, *COLUMNS) for CSV."""
    counted = list(options.legal_effects)
    effective = effective_status_sql("p", "current_date")
    values = {
        "id": "s.key",
        "name": "s.name",
        "verdict": verdict_sql("coalesce(c.effects, '{}')"),
        "constraining_zone_ids": "c.ids",
        "constraining_zones": "c.names",
        "constraining_legal_effects": "array_to_string(c.effects, ',')",
        "site_area_ha": "round((ST_Area(s.geom::geography) / 10000)::numeric, 4)",
        "holding_permits": "r.registry_numbers",
        "municipalities": "m.codes",
    }
    if geojson:
        properties = "json_build_object(" + ", ".join(f"'{k}', {values[k]}" for k in COLUMNS if k != "id") + ")"
        select = ("'{\"type\":\"Feature\",\"id\":' || to_json(s.key)::text || ',\"geometry\":' || "
                  f"ST_AsGeoJSON(s.geom) || ',\"properties\":' || {properties}::text || '}}'")
    else:
        select = ", ".join(f"{values[k]} AS {k}" for k in COLUMNS)
    text = (
        f"SELECT s.ord, {select} FROM {source} "
        "LEFT JOIN LATERAL (SELECT array_agg(DISTINCT z.legal_effect::text) AS effects, "
        "string_agg(z.id::text, ',' ORDER BY z.id) AS ids, string_agg(z.name, '; ' ORDER BY z.id) AS names "
        f"FROM protection_zones z WHERE {zone_constrains('z', 's', counted, params)}) c ON TRUE "
        "LEFT JOIN LATERAL (SELECT string_agg(p.registry_number, ',' ORDER BY p.registry_number) AS registry_numbers "
        "FROM permits p WHERE ST_Intersects(p.geom, s.geom) "
        f"AND {effective} = ANY({params(list(HOLDING))}::text[])) r ON TRUE "
        "LEFT JOIN LATERAL (SELECT string_agg(a.code, ',' ORDER BY a.code) AS codes FROM admin_areas a "
        "WHERE a.level = 'municipality' AND ST_Intersects(a.geom, s.geom)) m ON TRUE "
        "ORDER BY s.ord"
    )
    return SqlQuery(text, tuple(params.values))
