"""Streaming GeoJSON FeatureCollections whose features PostGIS has already written as text.

Rows come from a server-side cursor, CHUNK_ROWS at a time, and each chunk is sent once the
next is fetched: the server holds two chunks, however long the answer (a batch screening of
every deposit), and a slow client slows the cursor down rather than filling memory. Nothing is
sent before the second chunk (or, for an answer of one chunk — every ordinary page — before
the whole answer and its count), so a query that fails early (a bad filter, a statement
timeout, the database going away) is still answered as problem+json. A failure after the
first byte cuts the body short: the FeatureCollection is left unterminated (no closing
`]`, no `numberReturned`), which every JSON parser reports, rather than ending as a shorter
answer that looks whole. A client that hangs up ends the cursor's transaction and gives its
connection back to the pool at once. The count (`numberMatched`) runs on its own connection
beside the rows and is written in the tail. An answer that fits in one chunk goes out as one
body with its length (and so may carry an ETag made from it, api/ogc/caching.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from starlette.responses import Response, StreamingResponse

from api.telemetry import record_rows
from geo.core.sql import SqlQuery
from geo.store.counts import UNCACHED, CountCache
from geo.store.timed_pool import transaction

GEOJSON = "application/geo+json"
CHUNK_ROWS = 500
_HEAD = b'{"type":"FeatureCollection","features":['


@dataclass
class Progress:
    """What the caller learns while an answer is written: the first row's key (where a prev
    link starts) before the tail is made, and whether the last chunk is out."""

    first_key: Any = None
    complete: bool = False


def collection_bytes(features: list[str], members: dict) -> bytes:
    """A whole FeatureCollection of features already written as text, and its other members."""
    return _HEAD + ",".join(features).encode() + _tail_bytes(members)


def _tail_bytes(members: dict) -> bytes:
    return b"]," + orjson.dumps(members)[1:]


async def feature_chunks(
    pool: asyncpg.Pool,
    page: SqlQuery,
    limit: int,
    count: SqlQuery | None,
    tail: Callable[[int, Any, int | None], dict],
    counts: CountCache = UNCACHED,
    progress: Progress | None = None,
) -> AsyncGenerator[bytes, None]:
    """The collection's bytes, a chunk of at most CHUNK_ROWS features at a time. Page rows are
    (keyset value, feature text); one row past `limit` tells the tail that there is a next page
    (the last key returned, or None). The count comes from `counts` when it has it for the
    current data."""
    progress = progress or Progress()
    counting = asyncio.create_task(counts.count(pool, count)) if count else None
    try:
        returned, last_key, more = 0, None, False
        # Each chunk is held until the next one is fetched: an answer of one chunk (a page)
        # goes out whole, with its count, so any failure in it is still a problem+json.
        held = _HEAD
        async with aclosing(_row_batches(pool, page, limit)) as batches:
            async for rows in batches:
                if len(rows) > limit - returned:
                    rows, more = rows[: limit - returned], True
                if rows:
                    features = ",".join(feature for _, feature in rows).encode()
                    if returned:
                        yield held
                        held = b"," + features
                    else:
                        held += features
                        progress.first_key = rows[0][0]
                    returned += len(rows)
                    last_key = rows[-1][0]
                if more:
                    break
        matched = await counting if counting else None
        record_rows(returned)
        closing = _tail_bytes(tail(returned, last_key if more else None, matched))
        progress.complete = True
        yield held + closing
    finally:
        if counting and not counting.done():
            counting.cancel()
        elif counting and not counting.cancelled():
            counting.exception()  # seen: a count that failed with the rows is not reported twice


async def _row_batches(
    pool: asyncpg.Pool, page: SqlQuery, limit: int
) -> AsyncGenerator[list, None]:
    """The page's rows, at most CHUNK_ROWS at a time and `limit` + 1 in all, its connection
    given back when the batches are closed."""
    async with pool.acquire() as conn:
        if limit < CHUNK_ROWS:
            # One batch holds the page (its statement stops at limit + 1 rows): read at once,
            # without a cursor's transaction and round trips.
            yield await conn.fetch(page.text, *page.values)
            return
        async with transaction(conn, readonly=True):
            cursor = await conn.cursor(page.text, *page.values)
            fetched = 0
            while True:
                wanted = min(CHUNK_ROWS, limit - fetched + 1)
                rows = await cursor.fetch(wanted)
                yield rows
                fetched += len(rows)
                if len(rows) < wanted or fetched > limit:
                    return


def feature_collection_tail(returned: int, matched: int | None, links: list[dict]) -> dict:
    """The members after `features`: counts, links and time stamp (OGC API Features)."""
    members: dict = {"numberReturned": returned}
    if matched is not None:
        members["numberMatched"] = matched
    members["links"] = links
    members["timeStamp"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return members


async def stream_features(
    chunks: AsyncGenerator[bytes, None],
    progress: Progress,
    media_type: str = GEOJSON,
    headers: dict | None = None,
) -> Response:
    """A streaming response of `chunks` (from feature_chunks, which marks `progress`), or the
    whole answer when it is one chunk."""
    try:
        first = await chunks.__anext__()
    except BaseException:
        await chunks.aclose()
        raise
    if progress.complete:
        await chunks.aclose()
        return Response(first, media_type=media_type, headers=headers)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    return StreamingResponse(body(), media_type=media_type, headers=headers)
