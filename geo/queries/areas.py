"""Administrative areas: finding the one a user means by INE code or name."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter

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
