"""Administrative areas: finding one by INE code or name, and listing them as features."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter
from geo.core.sql import Params, SqlQuery

# When a name is shared (León the province and León the municipality), the larger area wins.
_LEVEL_ORDER = (
    "array_position(ARRAY['country','autonomous_community','province','municipality'], level)"
)


@dataclass(frozen=True)
class AreaRef:
    code: str
    name: str
    level: str
    # The outline as EWKB, for queries that pass it as a constant (see geo/queries/deposits.py).
    outline: bytes


async def resolve_area(conn: asyncpg.Connection, text: str, parameter: str = "area") -> AreaRef:
    """The admin area a user means by an INE code ('24') or a name in any case or accents ('leon')."""
    row = await conn.fetchrow(
        "SELECT code, name, level, ST_AsEWKB(geom) AS outline FROM admin_areas "
        "WHERE code = $1 OR name_folded = $2 "
        f"ORDER BY code = $1 DESC, {_LEVEL_ORDER} LIMIT 1",
        text.strip(),
        v.fold(text),
    )
    if row:
        return AreaRef(row["code"], row["name"], row["level"], row["outline"])
    names = [r["name"] for r in await conn.fetch("SELECT name FROM admin_areas")]
    hint = v.suggest(text, names)
    reason = f"unknown area {text!r}" + (f"; did you mean {hint!r}?" if hint else "")
    raise InvalidParameter(
        parameter, reason, "an INE code (24, 24089) or an area name (León, Ponferrada); see /areas"
    )


def areas_query(level: str | None) -> SqlQuery:
    """Admin areas as (code, GeoJSON feature text) rows, optionally of one level."""
    params = Params()
    where = f"WHERE level = {params(level)}" if level else ""
    text = (
        'SELECT code, \'{"type":"Feature","id":\' || to_json(code)::text || \',"geometry":\' || '
        "ST_AsGeoJSON(geom) || ',\"properties\":' || json_build_object("
        "'code', code, 'name', name, 'level', level, 'parent_code', parent_code, "
        "'area_ha', round((ST_Area(geom::geography) / 10000)::numeric, 2), "
        "'source', source, 'licence', licence)::text || '}' "
        f"FROM admin_areas {where} ORDER BY code"
    )
    return SqlQuery(text, tuple(params.values))
