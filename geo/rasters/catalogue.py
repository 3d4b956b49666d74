"""Looking registered rasters up from the request-serving pool."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from geo.core.errors import NotFound
from geo.rasters.storage import COLUMNS, RasterInfo, info_from_row


async def raster_named(conn: asyncpg.Connection, name: str, directory: Path) -> RasterInfo:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM rasters WHERE name = $1", name)
    if row is None:
        raise NotFound(f"no raster named {name!r} (see /rasters)")
    return info_from_row(row, directory)


async def all_rasters(
    conn: asyncpg.Connection, directory: Path, *, screening_only: bool = False
) -> list[RasterInfo]:
    where = "WHERE screening" if screening_only else ""
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM rasters {where} ORDER BY name")
    return [info_from_row(r, directory) for r in rows]
