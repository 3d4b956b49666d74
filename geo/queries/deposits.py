"""The deposit search: which deposits hold a commodity, in an area, inside or outside protection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from geo.catalog.collections import DEPOSIT_DETAIL, DEPOSIT_PROPERTIES
from geo.core import vocabulary as v
from geo.core.sql import Params, SqlQuery
from geo.rules.protection import zone_constrains

Protection = Literal["any", "inside", "outside"]


@dataclass(frozen=True)
class DepositSearch:
    """A parsed, validated deposit search (all values already checked against the vocabulary)."""

    commodities: tuple[str, ...] = ()
    # The outline (EWKB) of the admin area the deposits must intersect.
    area: bytes | None = None
    protection: Protection = "any"
    legal_effects: tuple[str, ...] = v.RESTRICTING_LEGAL_EFFECTS
    bbox: tuple[float, float, float, float] | None = None
    limit: int = 100
    after_id: int | None = None
    # MDoPI classes of the latest assessment; empty: any.
    mdopi: tuple[str, ...] = ()


# Every table a search reads (protection_zone_parts follows protection_zones).
SEARCHED_TABLES = ("deposits", "admin_areas", "protection_zones", "deposit_assessments")


def _properties(properties, with_zones: bool = False) -> str:
    """SQL json object of the properties: those of the `deposits` collection (geo/catalog/collections.py),
    so /deposits and /collections/deposits/items show a deposit alike."""
    pairs = [(p.name, p.sql) for p in properties]
    if with_zones:
        pairs += [("protection_zones", "zones.names"), ("legal_effects", "zones.effects")]
    return "json_build_object(" + ", ".join(f"'{k}', {e}" for k, e in pairs) + ")"


def where_sql(search: DepositSearch, params: Params, with_cursor: bool = False) -> str:
    """SQL: the conditions a deposit row `t` meets to match the search (the cursor optional)."""
    conditions = ["TRUE"]
    if search.commodities:
        conditions.append(f"t.commodities && {params(list(search.commodities))}::text[]")
    if search.area:
        # A deposit is in an area when it intersects it (a polygon deposit across a border
        # belongs to both sides). The outline is a constant rather than a join to admin_areas:
        # the planner then knows how much of the table the area covers, and for a page of a
        # wide area walks the ids instead of collecting and sorting every match (20x faster
        # over 100,000 deposits, see benchmarks/README.md).
        conditions.append(f"ST_Intersects(t.geom, ST_GeomFromEWKB({params(search.area)}))")
    if search.bbox:
        west, south, east, north = search.bbox
        envelope = f"ST_MakeEnvelope({params(west)}, {params(south)}, {params(east)}, {params(north)}, 4326)"
        conditions.append(f"ST_Intersects(t.geom, {envelope})")
    if search.protection != "any":
        constrained = (
            "EXISTS (SELECT 1 FROM protection_zones z WHERE "
            f"{zone_constrains('z', 't', list(search.legal_effects), params)})"
        )
        conditions.append(constrained if search.protection == "inside" else f"NOT {constrained}")
    if search.mdopi:
        conditions.append(
            "(SELECT x.mdopi_class FROM deposit_assessments x WHERE x.deposit_id = t.id "
            f"ORDER BY x.id DESC LIMIT 1) = ANY({params(list(search.mdopi))}::text[])"
        )
    if with_cursor and search.after_id is not None:
        conditions.append(f"t.id > {params(search.after_id)}")
    return " AND ".join(conditions)


def page_query(search: DepositSearch) -> SqlQuery:
    """One row per feature, as finished GeoJSON text, in id order; limit + 1 rows to see a next page."""
    params = Params()
    with_zones = search.protection == "inside"
    zones = ""
    if with_zones:
        zones = (
            ", LATERAL (SELECT string_agg(z.name, '; ' ORDER BY z.name) AS names, "
            "string_agg(DISTINCT z.legal_effect, ', ') AS effects FROM protection_zones z WHERE "
            f"{zone_constrains('z', 't', list(search.legal_effects), params)}) zones"
        )
    properties = _properties(DEPOSIT_PROPERTIES, with_zones)
    where = where_sql(search, params, with_cursor=True)
    # The page's rows are chosen first and only they are joined to their zones: joined before
    # the ORDER BY … LIMIT, the zone lookup ran for every match (5,053 rows for a 101-row page
    # of the inside headline over 100,000 deposits, see benchmarks/README.md).
    page = (
        f"SELECT t.* FROM deposits t WHERE {where} ORDER BY t.id LIMIT {params(search.limit + 1)}"
    )
    text = (
        'SELECT t.id, \'{"type":"Feature","id":\' || t.id || \',"geometry":\' || '
        "ST_AsGeoJSON(t.geom) || ',\"properties\":' || " + properties + "::text || '}' "
        f"FROM ({page}) t{zones} ORDER BY t.id"
    )
    return SqlQuery(text, tuple(params.values))


def count_query(search: DepositSearch) -> SqlQuery:
    """The exact number of deposits matching the search, all pages together."""
    params = Params()
    where = where_sql(search, params)
    return SqlQuery(
        f"SELECT count(*) FROM deposits t WHERE {where}", tuple(params.values), SEARCHED_TABLES
    )


def one_query(deposit_id: int) -> SqlQuery:
    """One deposit as a GeoJSON Feature, with every attribute of its record."""
    params = Params()
    properties = _properties(DEPOSIT_PROPERTIES + DEPOSIT_DETAIL)
    text = (
        'SELECT \'{"type":"Feature","id":\' || t.id || \',"geometry":\' || '
        "ST_AsGeoJSON(t.geom) || ',\"properties\":' || " + properties + "::text || '}' "
        f"FROM deposits t WHERE t.id = {params(deposit_id)}"
    )
    return SqlQuery(text, tuple(params.values))
