"""Screening many sites in one set-based statement: a verdict row per site, in input order.

The sites come from the request (arrays unnested in SQL) or from the deposits table. Zones,
rights and municipalities meet all sites in three joins (zones through their parts and the
rule in geo/rules/protection.py), aggregated per site and joined back: no statement per site.
"""

from __future__ import annotations

from dataclasses import dataclass

from geo.core.sql import Params, Sql, SqlQuery, joined
from geo.features.geojson import feature_text_sql
from geo.features.items import ItemsQuery, where_sql
from geo.queries.screening import ScreeningOptions, verdict_sql
from geo.queries.sites import Site
from geo.rules.ground import ground_status_sql, on_site_sql
from geo.rules.protection import zones_constraining_each
from geo.rules.registry import HOLDING, effective_status_sql

# The columns of a batch row, in order (CSV header and GeoJSON properties alike).
COLUMNS = (
    "id",
    "name",
    "verdict",
    "ground_status",
    "constraining_zone_ids",
    "constraining_zones",
    "constraining_legal_effects",
    "site_area_ha",
    "holding_permits",
    "municipalities",
)


@dataclass(frozen=True)
class SiteSource:
    """Sites as a FROM item `s` (key, name, geom, depth_top_m, depth_bottom_m, ord), written
    wherever a join needs it, and the WITH clause it may rely on."""

    from_item: str
    with_clause: str = ""


def posted_sites_source(sites: list[Site], params: Params) -> SiteSource:
    """The posted sites, buffered once (a materialized CTE: every join reads the same rows)."""
    arrays = (
        f"{params([s.key for s in sites])}::text[]",
        f"{params([s.name for s in sites])}::text[]",
        f"{params([s.wkb for s in sites])}::bytea[]",
        f"{params([s.buffer_m for s in sites])}::float8[]",
        f"{params([s.depth_top_m for s in sites])}::float8[]",
        f"{params([s.depth_bottom_m for s in sites])}::float8[]",
    )
    return SiteSource(
        "posted s",
        "WITH posted AS MATERIALIZED (SELECT u.key, u.name, CASE WHEN u.buffer_m IS NULL "
        "THEN ST_GeomFromWKB(u.wkb, 4326) ELSE ST_Buffer(ST_GeomFromWKB(u.wkb, 4326)::geography, "
        "u.buffer_m, 'quad_segs=16')::geometry END AS geom, u.top AS depth_top_m, u.bottom AS depth_bottom_m, u.ord "
        f"FROM unnest({', '.join(arrays)}) WITH ORDINALITY AS u(key, name, wkb, buffer_m, top, bottom, ord)) ",
    )


def deposits_source(deposits: ItemsQuery, params: Params) -> SiteSource:
    """The deposits an items query of the `deposits` collection matches (a /deposits search:
    commodities, area, protection); a plain subquery, so that joins use the deposits' index."""
    return SiteSource(
        "(SELECT t.id::text AS key, coalesce(t.name, t.source_id) AS name, t.geom, t.depth_top_m, t.depth_bottom_m, t.id AS ord "
        f"FROM {deposits.collection.from_sql(params)} WHERE {where_sql(deposits, params)}) s"
    )


def batch_query(
    source: SiteSource, params: Params, options: ScreeningOptions, geojson: bool
) -> SqlQuery:
    """Rows (ord, GeoJSON Feature text) when geojson, else (ord, *COLUMNS) for CSV."""
    sites = source.from_item
    effective = effective_status_sql("p", "current_date")
    values = {
        "id": "s.key",
        "name": "s.name",
        "verdict": verdict_sql("coalesce(c.effects, '{}')"),
        "constraining_zone_ids": "c.ids",
        "constraining_zones": "c.names",
        "constraining_legal_effects": "array_to_string(c.effects, ',')",
        "site_area_ha": "round((ST_Area(s.geom::geography) / 10000)::numeric, 4)",
        "ground_status": ground_status_sql("r.on_site"),
        "holding_permits": "r.registry_numbers",
        "municipalities": "m.codes",
    }
    if geojson:
        properties = (
            "json_build_object("
            + ", ".join(f"'{k}', {values[k]}" for k in COLUMNS if k != "id")
            + ")"
        )
        select = feature_text_sql(Sql("s.key"), Sql("ST_AsGeoJSON(s.geom)"), Sql(properties))
    else:
        select = joined(", ", (f"{values[k]} AS {k}" for k in COLUMNS))
    text = (
        f"{source.with_clause}SELECT s.ord, {select} FROM {sites} "
        "LEFT JOIN (SELECT c.key, array_agg(DISTINCT c.legal_effect::text) AS effects, "
        "string_agg(c.id::text, ',' ORDER BY c.id) AS ids, string_agg(c.name, '; ' ORDER BY c.id) AS names "
        f"FROM ({zones_constraining_each(sites, 'ord', list(options.legal_effects), params)}) c "
        "GROUP BY c.key) c ON c.key = s.ord "
        "LEFT JOIN (SELECT s.ord AS key, string_agg(p.registry_number, ',' ORDER BY p.registry_number) AS registry_numbers, "
        f"array_agg({effective}::text) FILTER (WHERE {on_site_sql('p.geom', 's.geom')}) AS on_site "
        f"FROM {sites} JOIN permits p ON ST_Intersects(p.geom, s.geom) "
        f"WHERE {effective} = ANY({params(list(HOLDING))}::text[]) GROUP BY s.ord) r ON r.key = s.ord "
        "LEFT JOIN (SELECT s.ord AS key, string_agg(a.code, ',' ORDER BY a.code) AS codes "
        f"FROM {sites} JOIN admin_areas a ON a.level = 'municipality' AND ST_Intersects(a.geom, s.geom) "
        "GROUP BY s.ord) m ON m.key = s.ord "
        "ORDER BY s.ord"
    )
    return SqlQuery(text, tuple(params.values))
