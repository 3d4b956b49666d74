"""Reading the registry: rights as they stand on a day, one right, its history, its conflicts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from geo.catalog.collections import PERMITS
from geo.core.crs import CRS84
from geo.core.sql import Params, Sql, SqlQuery, text_array
from geo.features.extension import Extension, SqlPart, constant
from geo.features.items import ItemsQuery, feature_sql, shown_properties
from geo.queries.grid_cells import EXACT
from geo.rules import cuadricula as grid
from geo.rules.registry import CONCESSIONS, HOLDING, IN_FORCE, as_of_source, effective_status_sql

CELLS_PER_SQUARE_DEGREE = grid.PER_DEGREE * grid.PER_DEGREE


@dataclass(frozen=True)
class PermitSearch:
    """A registry query's own terms, checked (the shared ones come with the items query)."""

    as_of: date | None = None  # None: the registry now
    statuses: tuple[str, ...] = ()  # effective statuses on that day
    right_types: tuple[str, ...] = ()


def _day(as_of: date | None) -> SqlPart:
    """The day statuses are read on, as SQL: the one asked for, or today."""
    if as_of is None:
        return constant(Sql("current_date"))
    return lambda params: Sql(f"{params(as_of)}::date")


def permit_extension(search: PermitSearch, area: bytes | None) -> Extension:
    """The search's terms over the `permits` collection: statuses read on the day (from the
    rights' history for a past day), right types, the rights sharing ground with an area, and
    the properties /permits has always given (`status_on`, `cell_count`)."""
    day = _day(search.as_of)
    conditions: list[SqlPart] = []
    if search.statuses:
        statuses = list(search.statuses)
        conditions.append(
            lambda params: Sql(
                f"{effective_status_sql('t', day(params))} = ANY({params(statuses)}::text[])"
            )
        )
    if search.right_types:
        types = list(search.right_types)
        conditions.append(lambda params: Sql(f"t.right_type = ANY({params(types)}::text[])"))
    if area is not None:
        # A right in an area shares ground with it; one only touching its border is not in it.
        conditions.append(
            lambda params: Sql(f"ST_Relate(ST_GeomFromEWKB({params(area)}), t.geom, '2********')")
        )
    as_of = search.as_of
    return Extension(
        conditions=tuple(conditions),
        source=(lambda params: Sql(as_of_source(day(params), "t"))) if as_of else None,
        properties=(
            ("status", lambda params: Sql(effective_status_sql("t", day(params)))),
            ("status_on", day),
            # Exact for a right of whole cells: every cell is 1/180° × 1/180° in lon/lat.
            (
                "cell_count",
                constant(Sql(f"round(ST_Area(t.geom) * {CELLS_PER_SQUARE_DEGREE})::int")),
            ),
        ),
        # As of a day the rows come from the history (the day itself is a bound value).
        reads=("permit_history",) if as_of else (),
    )


def permit_query(query: ItemsQuery, search: PermitSearch) -> ItemsQuery:
    """The items query of the `permits` collection narrowed by the search; its `area` is
    shared ground rather than the engine's intersection, and corners are written exactly."""
    return replace(query, area=None, decimals=EXACT, extension=permit_extension(search, query.area))


# What a single right shows beyond the list's properties and the collection's details.
_DETAIL = (("commodity_list", "to_jsonb(t.commodities)"), ("retrieved_at", "t.retrieved_at"))


def one_query(permit_id: int) -> SqlQuery:
    """One right as a Feature, with its remarks and record time stamps."""
    params = Params()
    extension = permit_extension(PermitSearch(), None)
    detail = tuple((p.name, constant(p.expression)) for p in PERMITS.detail)
    detail += tuple((name, constant(Sql(sql))) for name, sql in _DETAIL)
    query = ItemsQuery(
        PERMITS, extension=replace(extension, properties=extension.properties + detail)
    )
    properties = tuple((name, part(params)) for name, part in shown_properties(query))
    feature = feature_sql(PERMITS, CRS84, properties, EXACT)
    text = f"SELECT {feature} FROM permits t WHERE t.id = {params(permit_id)}"
    return SqlQuery(text, tuple(params.values))


def history_query(permit_id: int) -> SqlQuery:
    """The changes of one right, oldest first: when, from which day, by whom, and each changed
    field's value before and after (the geometry only named, not repeated)."""
    params = Params()
    text = (
        "SELECT json_build_object('changed_at', h.changed_at, 'effective_on', h.effective_on, "
        "'changed_by', h.changed_by, 'action', h.action, "
        "'status', coalesce(h.after ->> 'status', h.before ->> 'status'), "
        "'changes', (SELECT coalesce(jsonb_object_agg(k, CASE WHEN k = 'geom' THEN '\"changed\"'::jsonb "
        "ELSE jsonb_build_object('before', h.before -> k, 'after', h.after -> k) END), '{}'::jsonb) "
        "FROM jsonb_object_keys(coalesce(h.after, h.before)) k "
        "WHERE k NOT IN ('updated_at', 'created_at') AND (h.before -> k) IS DISTINCT FROM (h.after -> k)))::text "
        f"FROM permit_history h WHERE h.permit_id = {params(permit_id)} ORDER BY h.effective_on, h.id"
    )
    return SqlQuery(text, tuple(params.values))


# Why another right stands in this one's way, strongest reason first.
CONFLICT_REASONS = {
    "concession_overlap": "two concessions may not share a cell",
    "granted_right": "the other right is granted (or extended) on this ground",
    "earlier_application": "the other right was applied for earlier and is still pending",
}


# More than any right can stand in the way of (a right is at most a few hundred cells): the
# conflicts are one whole answer, never paged.
MAX_CONFLICTS = 100_000


def _conflicting_rights(permit_id: int, params: Params) -> Sql:
    """The other rights (each row `t` a right, with the reason and the shared cells' count,
    hectares, ids and outline) standing in the way of right `permit_id`."""
    other_status = effective_status_sql("q", "current_date")
    concessions = text_array(CONCESSIONS)
    reason = (
        f"CASE WHEN p.right_type = ANY({concessions}) AND q.right_type = ANY({concessions}) "
        "THEN 'concession_overlap' "
        f"WHEN {other_status} = ANY({text_array(IN_FORCE)}) THEN 'granted_right' "
        "WHEN q.applied_on < p.applied_on THEN 'earlier_application' END"
    )
    return Sql(
        "(SELECT q.*, o.reason, s.n AS shared_cell_count, s.ha AS shared_ha, "
        "s.ids AS shared_cells, s.geom AS shared_geom "
        "FROM permits p JOIN permits q ON q.id <> p.id AND ST_Intersects(q.geom, p.geom) "
        f"CROSS JOIN LATERAL (SELECT {reason} AS reason, ST_Intersection(p.geom, q.geom) AS shared) o "
        "CROSS JOIN LATERAL (SELECT count(*) AS n, sum(c.area_ha) AS ha, "
        "array_agg(c.id ORDER BY c.id) AS ids, ST_Simplify(ST_Union(c.geom), 0) AS geom "
        f"FROM {grid.sql_cells('o.shared')} WHERE ST_Intersects(c.core, o.shared)) s "
        f"WHERE p.id = {params(permit_id)} AND {other_status} = ANY({text_array(HOLDING)}) "
        "AND o.reason IS NOT NULL AND s.n > 0) t"
    )


def conflicts_query(permit_id: int) -> ItemsQuery:
    """The rights that stand in the way of right `permit_id`, as items of `permits` in id
    order: each right's geometry is the cells it shares with this one, its properties the
    other right, the reason, and the cells' ids, count and area.

    A right holds ground while it is applied, admitted, granted or extended (read today).
    It stands in the way when it shares a cell with this right (a positive area, not just a
    side) and it is granted, or was applied for strictly earlier, or both rights are
    concessions. A right without an application date has no priority by date."""
    properties = (
        ("permit_id", "t.id"),
        ("registry_number", "t.registry_number"),
        ("name", "t.name"),
        ("holder", "t.holder"),
        ("right_type", "t.right_type"),
        ("status", effective_status_sql("t", "current_date")),
        ("applied_on", "t.applied_on"),
        ("granted_on", "t.granted_on"),
        ("reason", "t.reason"),
        ("shared_cell_count", "t.shared_cell_count"),
        ("shared_area_ha", "round(t.shared_ha::numeric, 2)"),
        ("shared_cells", "to_json(t.shared_cells)"),
    )
    return ItemsQuery(
        PERMITS,
        limit=MAX_CONFLICTS,
        properties=(),
        decimals=EXACT,
        extension=Extension(
            source=lambda params: _conflicting_rights(permit_id, params),
            properties=tuple((name, constant(Sql(sql))) for name, sql in properties),
            geometry=constant(Sql("t.shared_geom")),
        ),
    )


def summary_query(permit_id: int) -> SqlQuery:
    """The right's registry number and status today (None if there is no such right)."""
    params = Params()
    return SqlQuery(
        "SELECT json_build_object('id', p.id, 'registry_number', p.registry_number, 'right_type', "
        f"p.right_type, 'status', {effective_status_sql('p', 'current_date')}, 'applied_on', p.applied_on)::text "
        f"FROM permits p WHERE p.id = {params(permit_id)}",
        tuple(params.values),
    )
