"""Finding a place, a deposit or a mining right by what a user types: a name in any case and
accents, or a registry number. Row-level security decides which deposits and rights a caller
finds, as everywhere."""

from __future__ import annotations

from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter
from geo.core.sql import Params, SqlQuery

MIN_LENGTH = 2
# Lower case without the accents Spanish names carry, in SQL (as vocabulary.fold does in
# Python for the text searched for); admin areas keep their folded name in a column.
_FOLD = "translate(lower({}), 'áéíóúüñàèìòùâêîôûç', 'aeiouunaeiouaeiouc')"


def _like(text: str) -> str:
    """The text as a LIKE pattern's literal part (its wildcards escaped)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_query(q: str, limit: int) -> SqlQuery:
    """(kind, id, title, GeoJSON Feature text) rows: areas, deposits and rights matching q,
    those starting with it first, at most `limit`."""
    folded = v.fold(q)
    if len(folded) < MIN_LENGTH:
        raise InvalidParameter(
            "q", f"{q!r} is too short to search for", f"at least {MIN_LENGTH} characters"
        )
    params = Params()
    anywhere = params("%" + _like(folded) + "%")
    start = params(_like(folded) + "%")
    number = params(_like(q.strip().upper()) + "%")
    deposit_name = _FOLD.format("d.name")
    permit_name = _FOLD.format("p.name")
    candidates = f"""
        SELECT 'area' AS kind, a.code AS id, a.name AS title, a.level AS detail, a.geom,
               a.name_folded LIKE {start} AS starts, 0 AS rank
        FROM admin_areas a WHERE a.name_folded LIKE {anywhere}
        UNION ALL
        SELECT 'deposit', d.id::text, coalesce(d.name, d.source_id), array_to_string(d.commodities, ', '),
               d.geom, {deposit_name} LIKE {start}, 1
        FROM deposits d WHERE {deposit_name} LIKE {anywhere}
        UNION ALL
        SELECT 'permit', p.id::text, p.registry_number || ' ' || p.name, p.status, p.geom,
               p.registry_number LIKE {number} OR {permit_name} LIKE {start}, 2
        FROM permits p WHERE p.registry_number LIKE {number} OR {permit_name} LIKE {anywhere}
    """
    text = f"""
        SELECT kind, id, title, json_build_object(
            'type', 'Feature', 'id', kind || ':' || id,
            'bbox', json_build_array(ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)),
            'geometry', ST_AsGeoJSON(ST_PointOnSurface(geom), 6)::json,
            'properties', json_build_object('kind', kind, 'id', id, 'title', title, 'detail', detail)
        )::text
        FROM ({candidates}) c
        ORDER BY starts DESC, rank, length(title), title
        LIMIT {params(limit)}
    """
    return SqlQuery(text, tuple(params.values))
