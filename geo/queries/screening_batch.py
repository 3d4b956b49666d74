"""Screening many sites in one set-based statement: a verdict row per site, in input order.

The sites come from the request (arrays unnested in SQL) or from the deposits table. Zones,
rights and municipalities meet all sites in three joins (zones through their parts and the
rule in geo/rules/protection.py), aggregated per site and joined back: no statement per site.

A batch is not an items query, though the deposits it screens are chosen by one
(`deposits_source`: the engine's conditions of a /deposits search) and its GeoJSON features
are written by the engine's feature_text_sql. Its rows are a table of verdicts — the same
columns as CSV, GeoPackage and GeoJSON, in the sites' order — over sites that are either
posted (no collection holds them) or a whole selection of deposits; it is never paged or
counted, and its three joins aggregate over all the sites at once (one hashed join per kind),
where the engine's joins look up each row of a page. The answer is streamed from a cursor
(api/streaming.py for GeoJSON, a CSV of the same rows, geo/io/screening_files.py for files).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from geo.core.sql import Params, Sql, SqlQuery, joined
from geo.features.geojson import feature_text_sql
from geo.features.items import ItemsQuery, where_sql
from geo.queries.screening import ScreeningOptions, verdict_sql
from geo.queries.site_geometry import buffered_sql
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
    # An SQL box every site lies in (a partition's): the joins then read only what is in it.
    within: str | None = None


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
        "THEN ST_GeomFromWKB(u.wkb, 4326) "
        f"ELSE {buffered_sql('ST_GeomFromWKB(u.wkb, 4326)', 'u.buffer_m')} "
        "END AS geom, u.top AS depth_top_m, u.bottom AS depth_bottom_m, u.ord "
        f"FROM unnest({', '.join(arrays)}) WITH ORDINALITY AS u(key, name, wkb, buffer_m, top, bottom, ord)) ",
    )


# A deposit as a site: its id is the key and orders the rows.
_DEPOSIT_SITE = "t.id::text AS key, coalesce(t.name, t.source_id) AS name, t.geom, t.depth_top_m, t.depth_bottom_m, t.id AS ord"


def deposits_source(deposits: ItemsQuery, params: Params) -> SiteSource:
    """The deposits an items query of the `deposits` collection matches (a /deposits search:
    commodities, area, protection); a plain subquery, so that joins use the deposits' index."""
    return SiteSource(
        f"(SELECT {_DEPOSIT_SITE} "
        f"FROM {deposits.collection.from_sql(params)} WHERE {where_sql(deposits, params)}) s"
    )


def deposit_ids_source(
    ids: Sequence[int], bounds: tuple[float, float, float, float], params: Params
) -> SiteSource:
    """The deposits of these ids (a partition of a search, chosen beforehand), all within
    `bounds` (lon/lat). The box is what makes a partition cheap: every join below finds its
    deposits through the deposits' GiST index, and the box keeps that index from handing it
    the other partitions' deposits only for the ids to throw them away. The ids are one hashed
    set, built once: an `id = ANY(array)` filter searches the array linearly for every row
    (50x slower at 16,000 ids), and the array written into each join is planned four times."""
    box = f"ST_MakeEnvelope({', '.join(params(float(c)) for c in bounds)}, 4326)"
    return SiteSource(
        f"(SELECT {_DEPOSIT_SITE} FROM deposits t WHERE t.geom && {box} "
        "AND t.id IN (SELECT id FROM partition_ids)) s",
        f"WITH partition_ids AS MATERIALIZED (SELECT unnest({params(list(ids))}::bigint[]) AS id) ",
        box,
    )


def _within(geom: str, box: str | None) -> str:
    # Implied by the join (every site lies in the box) and so changes no answer; it lets the
    # planner read only the rights and municipalities of a partition's region.
    return f" AND {geom} && {box}" if box else ""


def batch_query(
    source: SiteSource,
    params: Params,
    options: ScreeningOptions,
    geojson: bool,
    on: date | None = None,
    with_wkb: bool = False,
) -> SqlQuery:
    """Rows (ord, GeoJSON Feature text) when geojson, else (ord, *COLUMNS) for CSV, and the
    site's geometry as WKB after them when with_wkb. Zones and rights as they stand on `on`
    (default: the database's current_date)."""
    sites = source.from_item
    day = "current_date" if on is None else f"{params(on)}::date"
    effective = effective_status_sql("p", day)
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
        if with_wkb:
            select = Sql(select + ", ST_AsBinary(s.geom) AS geometry")
    text = (
        f"{source.with_clause}SELECT s.ord, {select} FROM {sites} "
        "LEFT JOIN (SELECT c.key, array_agg(DISTINCT c.legal_effect::text) AS effects, "
        "string_agg(c.id::text, ',' ORDER BY c.id) AS ids, string_agg(c.name, '; ' ORDER BY c.id) AS names "
        f"FROM ({zones_constraining_each(sites, 'ord', list(options.legal_effects), params, day, source.within)}) c "
        "GROUP BY c.key) c ON c.key = s.ord "
        "LEFT JOIN (SELECT s.ord AS key, string_agg(p.registry_number, ',' ORDER BY p.registry_number) AS registry_numbers, "
        f"array_agg({effective}::text) FILTER (WHERE {on_site_sql('p.geom', 's.geom')}) AS on_site "
        f"FROM {sites} JOIN permits p ON ST_Intersects(p.geom, s.geom){_within('p.geom', source.within)} "
        f"WHERE {effective} = ANY({params(list(HOLDING))}::text[]) GROUP BY s.ord) r ON r.key = s.ord "
        "LEFT JOIN (SELECT s.ord AS key, string_agg(a.code, ',' ORDER BY a.code) AS codes "
        f"FROM {sites} JOIN admin_areas a ON a.level = 'municipality' AND ST_Intersects(a.geom, s.geom){_within('a.geom', source.within)} "
        "GROUP BY s.ord) m ON m.key = s.ord "
        "ORDER BY s.ord"
    )
    return SqlQuery(text, tuple(params.values))
