"""The state of the data a cached answer was made from: the day and the tables' change counters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import asyncpg

from geo.core.sql import SqlQuery

DataState = tuple[date, tuple[int, ...]]


def _state_sql(tables_param: str) -> str:
    # The change counters of migration 0005, bumped in every writing transaction, and the day,
    # since which protection zones are in force follows current_date.
    return (
        "SELECT current_date, array_agg(version ORDER BY table_name), count(*) "
        f"FROM table_changes WHERE table_name = ANY({tables_param}::text[])"
    )


def _state_of(row: Sequence[Any], tables: tuple[str, ...]) -> DataState | None:
    day, versions, tracked = row
    if tracked < len(set(tables)):
        return None
    return (day, tuple(versions))


async def data_state(conn: asyncpg.Connection, tables: tuple[str, ...]) -> DataState | None:
    """The day and the change counters of these tables; None if one is not change-tracked
    (then nothing would tell when an answer made from it goes stale)."""
    return _state_of(await conn.fetchrow(_state_sql("$1"), sorted(set(tables))), tables)


async def value_and_state(
    conn: asyncpg.Connection, query: SqlQuery
) -> tuple[Any, DataState | None]:
    """The one value of `query` and the state of its tables in the same round trip. One
    statement reads both from one snapshot, so the state is exactly that of the data the value
    was made from, whatever was written (or, on a replica, replayed) meanwhile."""
    n = len(query.values) + 1
    row = await conn.fetchrow(
        f"SELECT ({query.text}), s.* FROM ({_state_sql(f'${n}')}) s",
        *query.values,
        sorted(set(query.tables)),
    )
    return row[0], _state_of(row[1:], query.tables)
