"""How often tables have changed (migration 0005's counters): the data part of every ETag."""

from __future__ import annotations

import asyncpg


async def table_versions(conn: asyncpg.Connection, tables: tuple[str, ...]) -> tuple[int, ...] | None:
    """The change counters of these tables, or None if one of them is not tracked (its
    responses then carry no ETag rather than one that could go stale)."""
    rows = await conn.fetch(
        "SELECT table_name, version FROM table_changes WHERE table_name = ANY($1::text[])", list(tables)
    )
    versions = {r["table_name"]: r["version"] for r in rows}
    if len(versions) < len(set(tables)):
        return None
    return tuple(versions[t] for t in tables)
