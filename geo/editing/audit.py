"""Reading the audit trail: who wrote which record when, from where, and what it was before and
after. Row-level security decides which entries a caller sees (an entry is as confidential as
its record); the service's role can read the trail but never change it."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import orjson

from geo.core.sql import Params

_COLUMNS = (
    "id, at, actor, organisation_id, channel, client, request_id, table_name, record_id, action, "
    "before, after"
)


async def audit_entries(
    pool: asyncpg.Pool,
    table: str | None,
    record: int | None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10_000,
    oldest_first: bool = False,
) -> list[dict]:
    params = Params()
    conditions = ["true"]
    if table is not None:
        conditions.append(f"table_name = {params(table)}")
    if record is not None:
        conditions.append(f"record_id = {params(record)}")
    if actor is not None:
        conditions.append(f"actor = {params(actor)}")
    if since is not None:
        conditions.append(f"at >= {params(since)}")
    if until is not None:
        conditions.append(f"at < {params(until)}")
    order = "id" if oldest_first else "id DESC"
    statement = (
        f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(conditions)} "
        f"ORDER BY {order} LIMIT {int(limit)}"
    )
    async with pool.acquire() as conn:
        rows = await conn.fetch(statement, *params.values)
    return [
        {
            **dict(row),
            "at": row["at"].isoformat(),
            "before": None if row["before"] is None else orjson.loads(row["before"]),
            "after": None if row["after"] is None else orjson.loads(row["after"]),
        }
        for row in rows
    ]
