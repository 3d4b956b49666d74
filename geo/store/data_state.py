"""The state of the data a cached answer was made from: the day and the tables' change counters."""

from __future__ import annotations

from datetime import date

import asyncpg

# The change counters of migration 0005, bumped in every writing transaction, and the day,
# since which protection zones are in force follows current_date.
_STATE = (
    "SELECT current_date, array_agg(version ORDER BY table_name), count(*) "
    "FROM table_changes WHERE table_name = ANY($1::text[])"
)


async def data_state(
    conn: asyncpg.Connection, tables: tuple[str, ...]
) -> tuple[date, tuple[int, ...]] | None:
    """The day and the change counters of these tables; None if one is not change-tracked
    (then nothing would tell when an answer made from it goes stale)."""
    day, versions, tracked = await conn.fetchrow(_STATE, sorted(set(tables)))
    if tracked < len(set(tables)):
        return None
    return (day, tuple(versions))
