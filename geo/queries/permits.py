"""Reading the registry: rights as they stand on a day, one right, its history, its conflicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from geo.core.sql import Params, SqlQuery, text_array
from geo.queries.grid_cells import EXACT
from geo.rules import cuadricula as grid
from geo.rules.registry import CONCESSIONS, HOLDING, IN_FORCE, as_of_source, effective_status_sql

CELLS_PER_SQUARE_DEGREE = grid.PER_DEGREE * grid.PER_DEGREE


@dataclass(frozen=True)
class PermitSearch:
    """A parsed, validated registry query."""

    as_of: date | None = None  # None: the registry now
    statuses: tuple[str, ...] = ()  # effective statuses on that day
    right_types: tuple[str, ...] = ()
    area_code: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    limit: int = 100
    after_id: int | None = None


def _day(search_day: date | None, params: Params) -> str:
    return f"{params(search_day)}::date" if search_day else "current_date"


def _source(search_day: date | None, day: str) -> str:
    return as_of_source(day) if search_day else "permits p"


def _properties(day: str) -> str:
    """SQL json object of a right's flat properties, its status read on `day`."""
    pairs = [
        ("registry_number", "p.registry_number"),
        ("name", "p.name"),
        ("holder", "p.holder"),
        ("right_type", "p.right_type"),
        ("section", "p.section"),
        ("status", effective_status_sql("p", day)),
        ("registry_status", "p.status"),
        ("status_on", day),
        ("applied_on", "p.applied_on"),
        ("granted_on", "p.granted_on"),
        ("expires_on", "p.expires_on"),
        ("commodities", "array_to_string(p.commodities, ', ')"),
        # Exact for a right of whole cells: every cell is 1/180° × 1/180° in lon/lat.
        ("cell_count", f"round(ST_Area(p.geom) * {CELLS_PER_SQUARE_DEGREE})::int"),
        ("area_ha", "round((ST_Area(p.geom::geography) / 10000)::numeric, 2)"),
        ("authority", "p.authority"),
        ("source", "p.source"),
        ("source_id", "p.source_id"),
        ("licence", "p.licence"),
    ]
    return "json_build_object(" + ", ".join(f"'{k}', {e}" for k, e in pairs) + ")"


def _feature(day: str) -> str:
    return (
        f'\'{{"type":"Feature","id":\' || p.id || \',"geometry":\' || ST_AsGeoJSON(p.geom, {EXACT}) '
        f"|| ',\"properties\":' || {_properties(day)}::text || '}}'"
    )


def _where(search: PermitSearch, params: Params, day: str, with_cursor: bool) -> str:
    conditions = ["TRUE"]
    if search.statuses:
        conditions.append(
            f"{effective_status_sql('p', day)} = ANY({params(list(search.statuses))}::text[])"
        )
    if search.right_types:
        conditions.append(f"p.right_type = ANY({params(list(search.right_types))}::text[])")
    if search.area_code:
        # A right in an area shares ground with it; one only touching its border is not in it.
        conditions.append(
            "EXISTS (SELECT 1 FROM admin_areas a WHERE a.code = "
            f"{params(search.area_code)} AND ST_Relate(a.geom, p.geom, '2********'))"
        )
    if search.bbox:
        west, south, east, north = search.bbox
        conditions.append(
            f"ST_Intersects(p.geom, ST_MakeEnvelope({params(west)}, {params(south)}, "
            f"{params(east)}, {params(north)}, 4326))"
        )
    if with_cursor and search.after_id is not None:
        conditions.append(f"p.id > {params(search.after_id)}")
    return " AND ".join(conditions)


def page_query(search: PermitSearch) -> SqlQuery:
    """(id, feature text) rows in id order, limit + 1 of them to see a next page."""
    params = Params()
    day = _day(search.as_of, params)
    text = (
        f"SELECT p.id, {_feature(day)} FROM {_source(search.as_of, day)} "
        f"WHERE {_where(search, params, day, True)} ORDER BY p.id LIMIT {params(search.limit + 1)}"
    )
    return SqlQuery(text, tuple(params.values))


def count_query(search: PermitSearch) -> SqlQuery:
    params = Params()
    day = _day(search.as_of, params)
    text = f"SELECT count(*) FROM {_source(search.as_of, day)} WHERE {_where(search, params, day, False)}"
    return SqlQuery(text, tuple(params.values))


def one_query(permit_id: int) -> SqlQuery:
    """One right as a Feature, with its remarks and record time stamps."""
    params = Params()
    text = (
        f'SELECT \'{{"type":"Feature","id":\' || p.id || \',"geometry":\' || ST_AsGeoJSON(p.geom, {EXACT}) '
        f"|| ',\"properties\":' || ({_properties('current_date')}::jsonb || jsonb_build_object("
        "'commodity_list', to_jsonb(p.commodities), 'remarks', p.remarks, 'retrieved_at', p.retrieved_at, "
        "'created_at', p.created_at, 'updated_at', p.updated_at))::text || '}' "
        f"FROM permits p WHERE p.id = {params(permit_id)}"
    )
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


def conflicts_query(permit_id: int) -> SqlQuery:
    """The rights that stand in the way of right `permit_id`, one Feature each: the shared
    cells as geometry, with the other right, the reason, and the cells' ids, count and area.

    A right holds ground while it is applied, admitted, granted or extended (read today).
    It stands in the way when it shares a cell with this right (a positive area, not just a
    side) and it is granted, or was applied for strictly earlier, or both rights are
    concessions. A right without an application date has no priority by date."""
    params = Params()
    other_status = effective_status_sql("q", "current_date")
    concessions = text_array(CONCESSIONS)
    reason = (
        f"CASE WHEN t.right_type = ANY({concessions}) AND q.right_type = ANY({concessions}) "
        "THEN 'concession_overlap' "
        f"WHEN {other_status} = ANY({text_array(IN_FORCE)}) THEN 'granted_right' "
        "WHEN q.applied_on < t.applied_on THEN 'earlier_application' END"
    )
    properties = (
        "json_build_object('permit_id', q.id, 'registry_number', q.registry_number, 'name', q.name, "
        f"'holder', q.holder, 'right_type', q.right_type, 'status', {other_status}, "
        "'applied_on', q.applied_on, 'granted_on', q.granted_on, 'reason', o.reason, "
        "'shared_cell_count', s.n, 'shared_area_ha', round(s.ha::numeric, 2), "
        "'shared_cells', to_json(s.ids))"
    )
    text = (
        'SELECT q.id, \'{"type":"Feature","id":\' || q.id || \',"geometry":\' || '
        f"ST_AsGeoJSON(s.geom, {EXACT}) || ',\"properties\":' || {properties}::text || '}}' "
        f"FROM permits t JOIN permits q ON q.id <> t.id AND ST_Intersects(q.geom, t.geom) "
        f"CROSS JOIN LATERAL (SELECT {reason} AS reason, ST_Intersection(t.geom, q.geom) AS shared) o "
        "CROSS JOIN LATERAL (SELECT count(*) AS n, sum(c.area_ha) AS ha, array_agg(c.id ORDER BY c.id) AS ids, "
        f"ST_Simplify(ST_Union(c.geom), 0) AS geom FROM {grid.sql_cells('o.shared')} "
        "WHERE ST_Intersects(c.core, o.shared)) s "
        f"WHERE t.id = {params(permit_id)} AND {other_status} = ANY({text_array(HOLDING)}) "
        "AND o.reason IS NOT NULL AND s.n > 0 ORDER BY q.id"
    )
    return SqlQuery(text, tuple(params.values))


def summary_query(permit_id: int) -> SqlQuery:
    """The right's registry number and status today (None if there is no such right)."""
    params = Params()
    return SqlQuery(
        "SELECT json_build_object('id', p.id, 'registry_number', p.registry_number, 'right_type', "
        f"p.right_type, 'status', {effective_status_sql('p', 'current_date')}, 'applied_on', p.applied_on)::text "
        f"FROM permits p WHERE p.id = {params(permit_id)}",
        tuple(params.values),
    )
