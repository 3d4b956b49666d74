"""Answers streamed from a server-side cursor: a chunk at a time, the same bytes as a whole
answer, and a connection given back as soon as the client hangs up."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import time
from urllib.parse import urlsplit

import asyncpg
import orjson
import pytest
from sqlalchemy import text

from api.streaming import CHUNK_ROWS, feature_chunks
from geo.core.settings import Settings
from geo.core.sql import SqlQuery
from geo.store.db import create_pool

ROWS = 1_234


def _numbers(last: int) -> SqlQuery:
    """(key, feature text) rows 1..last, in key order, as every feature list's page query gives."""
    return SqlQuery(
        'SELECT g, \'{"type":"Feature","id":\' || g || \',"geometry":null,"properties":{}}\' '
        "FROM generate_series(1, $1::int) g ORDER BY g",
        (last,),
    )


def _tail(returned, next_key, matched) -> dict:
    return {"numberReturned": returned, "next": next_key, "numberMatched": matched}


async def _collect(db_url: str, limit: int, last: int = ROWS) -> tuple[list[bytes], dict]:
    pool = await create_pool(db_url, Settings(database_url=db_url))
    try:
        count = SqlQuery("SELECT count(*) FROM generate_series(1, $1::int)", (last,))
        chunks = [c async for c in feature_chunks(pool, _numbers(last), limit, count, _tail)]
        return chunks, json.loads(b"".join(chunks))
    finally:
        await pool.close()


@pytest.mark.parametrize(
    "limit", [1, CHUNK_ROWS - 1, CHUNK_ROWS, CHUNK_ROWS + 1, ROWS - 1, ROWS, 10_000]
)
def test_a_page_is_the_rows_up_to_its_limit_with_the_next_key_when_more_remain(db_url, limit):
    chunks, body = asyncio.run(_collect(db_url, limit))
    returned = min(limit, ROWS)
    assert [f["id"] for f in body["features"]] == list(range(1, returned + 1))
    assert body["numberReturned"] == returned
    assert body["next"] == (returned if limit < ROWS else None)
    assert body["numberMatched"] == ROWS
    # A chunk per CHUNK_ROWS features, the tail with the last: never the whole answer in one piece.
    assert len(chunks) == max(1, math.ceil(returned / CHUNK_ROWS))
    assert all(c.count(b'"type":"Feature"') <= CHUNK_ROWS for c in chunks)


def test_a_failure_within_the_first_chunk_sends_nothing(db_url):
    """Row 300 fails: nothing was sent yet, so the caller can still answer with a problem."""
    failing = SqlQuery(
        'SELECT g, \'{"type":"Feature","id":\' || (g / (300 - g) * 0 + g) || \'}\' '
        "FROM generate_series(1, 400) g",
        (),
    )

    async def run():
        pool = await create_pool(db_url, Settings(database_url=db_url))
        sent = []
        try:
            with pytest.raises(asyncpg.DivisionByZeroError):
                async for chunk in feature_chunks(pool, failing, 2**62, None, _tail):
                    sent.append(chunk)
            return sent
        finally:
            await pool.close()

    assert asyncio.run(run()) == []


def test_an_empty_answer_is_a_whole_feature_collection(db_url):
    _, body = asyncio.run(_collect(db_url, 100, last=0))
    assert body["features"] == [] and body["numberReturned"] == 0 and body["next"] is None


def test_the_first_chunk_holds_one_chunk_of_rows_and_closing_gives_the_connection_back(db_url):
    async def run():
        pool = await create_pool(
            db_url, Settings(database_url=db_url, db_pool_min=1, db_pool_max=2)
        )
        try:
            chunks = feature_chunks(pool, _numbers(200_000), 2**62, None, _tail)
            first = await chunks.__anext__()
            assert first.startswith(b'{"type":"FeatureCollection","features":[{')
            assert first.count(b'"type":"Feature"') == CHUNK_ROWS
            busy = pool.primary.pool.get_size() - pool.primary.pool.get_idle_size()
            await chunks.aclose()  # what the server does when the client hangs up
            idle = pool.primary.pool.get_size() - pool.primary.pool.get_idle_size()
            return busy, idle
        finally:
            await pool.close()

    busy, after = asyncio.run(run())
    assert (busy, after) == (1, 0)


def _busy_backends(engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
                )
            ).scalars()
        )


def test_a_client_that_hangs_up_mid_answer_frees_its_connection_at_once(live_server, engine):
    """10,000 sites screened in one batch (several MB of GeoJSON): the client reads the first
    few KB and closes; within a second no backend is still working for it."""
    features = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [-6.9 + (i % 100) * 0.012, 42.3 + (i // 100) * 0.006],
            },
            "properties": {"buffer_m": 200},
        }
        for i in range(10_000)
    ]
    body = orjson.dumps({"type": "FeatureCollection", "features": features})
    address = urlsplit(live_server)
    with socket.create_connection((address.hostname, address.port)) as conn:
        conn.sendall(
            b"POST /screening/batch HTTP/1.1\r\nHost: veta\r\nContent-Type: application/geo+json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        received = b""
        while len(received) < 16_384:
            received += conn.recv(16_384)
        assert received.startswith(b"HTTP/1.1 200")
        assert b'{"type":"FeatureCollection","features":[' in received
    hung_up = time.monotonic()
    while _busy_backends(engine) and time.monotonic() - hung_up < 5:
        time.sleep(0.05)
    assert _busy_backends(engine) == []
    assert time.monotonic() - hung_up < 1.0


def test_a_failure_after_the_first_chunk_leaves_the_collection_unterminated(db_url):
    """Row 1,200 fails (division by zero) after the first 500 features were sent: what was
    sent must not parse as a whole, shorter answer."""
    failing = SqlQuery(
        'SELECT g, \'{"type":"Feature","id":\' || (g / (1200 - g) * 0 + g) || \',"geometry":null,'
        '"properties":{}}\' FROM generate_series(1, 2000) g',  # unsorted: made as fetched
        (),
    )

    async def run():
        pool = await create_pool(db_url, Settings(database_url=db_url))
        sent = []
        try:
            with pytest.raises(asyncpg.DivisionByZeroError):
                async for chunk in feature_chunks(pool, failing, 2**62, None, _tail):
                    sent.append(chunk)
            return sent
        finally:
            await pool.close()

    sent = asyncio.run(run())
    assert len(sent) == 1 and sent[0].count(b'"type":"Feature"') == CHUNK_ROWS
    with pytest.raises(json.JSONDecodeError):
        json.loads(b"".join(sent))
