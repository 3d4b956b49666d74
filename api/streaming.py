"""Streaming GeoJSON FeatureCollections whose features PostGIS has already written as text."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

import asyncpg
import orjson
from starlette.responses import StreamingResponse

from geo.counts import UNCACHED, CountCache
from geo.sql import SqlQuery

GEOJSON = "application/geo+json"
CHUNK_ROWS = 500


async def _features(
    pool: asyncpg.Pool,
    page: SqlQuery,
    limit: int,
    count: SqlQuery | None,
    tail: Callable[[int, Any, int | None], dict],
    counts: CountCache,
) -> AsyncIterator[bytes]:
    """The collection's bytes: page rows are (keyset value, feature text); limit + 1 rows are
    read so that the tail knows whether there is a next page (last key, or None)."""
    counting = asyncio.create_task(counts.count(pool, count)) if count else None
    try:
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            returned, last_key, more = 0, None, False
            chunk = [b'{"type":"FeatureCollection","features":[']
            async for key, feature in conn.cursor(page.text, *page.values, prefetch=min(limit + 1, 1000)):
                if returned == limit:
                    more = True
                    break
                chunk.append((b"," if returned else b"") + feature.encode())
                returned += 1
                last_key = key
                if len(chunk) >= CHUNK_ROWS:
                    yield b"".join(chunk)
                    chunk = []
        matched = await counting if counting else None
        members = tail(returned, last_key if more else None, matched)
        chunk.append(b"]," + orjson.dumps(members)[1:])
        yield b"".join(chunk)
    finally:
        if counting and not counting.done():
            counting.cancel()


def feature_collection_tail(
    returned: int, matched: int | None, links: list[dict]
) -> dict:
    """The members after `features`: counts, links and time stamp (OGC API Features)."""
    members: dict = {"numberReturned": returned}
    if matched is not None:
        members["numberMatched"] = matched
    members["links"] = links
    members["timeStamp"] = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return members


async def stream_features(
    pool: asyncpg.Pool,
    page: SqlQuery,
    limit: int,
    count: SqlQuery | None,
    tail: Callable[[int, Any, int | None], dict],
    media_type: str = GEOJSON,
    headers: dict | None = None,
    counts: CountCache = UNCACHED,
) -> StreamingResponse:
    """A streaming response; the query runs before the response starts, so its errors are
    still answered as problem+json rather than as a truncated body. The count comes from
    `counts` when it has it for the current data."""
    body = _features(pool, page, limit, count, tail, counts)
    first = await body.__anext__()

    async def rest() -> AsyncIterator[bytes]:
        yield first
        async for part in body:
            yield part

    return StreamingResponse(rest(), media_type=media_type, headers=headers)
