"""Streaming GeoJSON FeatureCollections whose features PostGIS has already written as text."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from starlette.responses import StreamingResponse

from geo.core.sql import SqlQuery
from geo.store.counts import UNCACHED, CountCache

GEOJSON = "application/geo+json"
CHUNK_ROWS = 500


async def _features(
    pool: asyncpg.Pool,
    page: SqlQuery,
    limit: int,
    count: SqlQuery | None,
    tail: Callable[[int, Any, int | None], dict],
    counts: CountCache,
) -> list[bytes]:
    """The collection's bytes, in chunks of CHUNK_ROWS features: page rows are (keyset value,
    feature text); limit + 1 rows are read so that the tail knows whether there is a next page
    (last key, or None). The page is read in one round trip and its connection given back
    before the first byte goes out, so a client that hangs up mid-body holds no connection."""
    counting = asyncio.create_task(counts.count(pool, count)) if count else None
    try:
        async with pool.acquire() as conn:
            rows = await conn.fetch(page.text, *page.values)
        matched = await counting if counting else None
    finally:
        if counting and not counting.done():
            counting.cancel()
    more = len(rows) > limit
    rows = rows[:limit]
    members = tail(len(rows), rows[-1][0] if more else None, matched)
    chunks = [b'{"type":"FeatureCollection","features":[']
    for start in range(0, len(rows), CHUNK_ROWS):
        features = ",".join(feature for _, feature in rows[start : start + CHUNK_ROWS])
        chunks.append((b"," if start else b"") + features.encode())
    chunks.append(b"]," + orjson.dumps(members)[1:])
    return chunks


def feature_collection_tail(returned: int, matched: int | None, links: list[dict]) -> dict:
    """The members after `features`: counts, links and time stamp (OGC API Features)."""
    members: dict = {"numberReturned": returned}
    if matched is not None:
        members["numberMatched"] = matched
    members["links"] = links
    members["timeStamp"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
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
    chunks = await _features(pool, page, limit, count, tail, counts)

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return StreamingResponse(body(), media_type=media_type, headers=headers)
