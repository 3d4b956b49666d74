"""A read's transactions end after its answer (geo/store/after_answer.py): the client does not
wait for the viewer transaction's COMMIT, and nothing of that transaction reaches the next user
of the connection, whatever becomes of the answer — a client that hangs up, a connection lost
half-way. The app runs on a one-connection pool, driven through ASGI as uvicorn drives it
(spec 2.3: a hang-up comes as `http.disconnect`), so that every request meets the connection
the one before it used."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import mapbox_vector_tile
import morecantile
import pytest
from asgi_exchange import SETTINGS_READ, Exchange, connection_now, recording_app, serve
from records import insert_deposit
from sqlalchemy import text

from geo.access.keys import create_key, create_organisation
from geo.store.after_answer import AFTER_ANSWER, AfterAnswer
from geo.store.viewer import VIEWER, Viewer

SOURCE = "t-after"
# The confidential deposit, alone in a box of 600 public synthetic ones (more than a chunk of a
# streamed answer, api/streaming.py CHUNK_ROWS).
SECRET_AT = (-5.2, 42.45)
BOX = (-5.25, 42.4, -5.15, 42.5)
PUBLIC = 600
ANSWERED = "-- the answer's last byte was sent --"
TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def world(engine):
    with engine.begin() as conn:
        org = create_organisation(conn, "t-after", "Después de la respuesta")
        key = create_key(conn, "t-after", "editor", "eva@after.example", None)[0]
        conn.execute(
            text(
                "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
                "location_precision, geom, source, source_id, confidential, owner_org) "
                "SELECT 'T público ' || n, 'occurrence', '{tungsten}', '{main}', 'exact', "
                "ST_SetSRID(ST_MakePoint(:x0 + 0.09 * (n % 30) / 30, "
                ":y0 + 0.09 * (n / 30) / 20), 4326), :s, 'p-' || n, false, NULL "
                "FROM generate_series(0, :m) n"
            ),
            {"x0": BOX[0] + 0.005, "y0": BOX[1] + 0.005, "s": SOURCE, "m": PUBLIC - 1},
        )
        insert_deposit(conn, "T secreto", SECRET_AT, SOURCE, "s-1", org)
    yield {"key": key, "org": org}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM organisations WHERE code = 't-after'"))


@pytest.fixture
def recorded(settings, monkeypatch):
    """The app on a one-connection pool, and every statement its connections send."""
    return recording_app(settings, monkeypatch)


def _mark_answered(sent: list[str]) -> None:
    """The answer's last byte among the statements: queued as asyncpg queues its query log (a
    statement is logged in a callback after it completes), so it lands in order."""
    asyncio.get_running_loop().call_soon(sent.append, ANSWERED)


def _deposits_in(tile: bytes) -> int:
    return len(mapbox_vector_tile.decode(tile).get("deposits", {}).get("features", []))


def test_a_credentialed_tile_is_answered_before_its_commit(recorded, world):
    """Three round trips before the answer's last byte, as many as anonymous plus the
    viewer's BEGIN; the COMMIT with the reset after it. And row-level security applied to the
    tile: the credential's tile shows the organisation's confidential deposit, anonymous not."""
    app, sent = recorded
    tile = TMS.tile(*SECRET_AT, 12)
    url = f"/collections/deposits/tiles/WebMercatorQuad/12/{tile.x}/{tile.y}"

    async def body():
        found = {}
        for who, key in (("anonymous", None), ("credentialed", world["key"])):
            await Exchange(app, url, key).run()  # prepares the statements, looks the key up
            sent.clear()
            exchange = Exchange(app, url, key)

            async def mark(message, exchange=exchange, send=exchange.send):
                await send(message)
                if exchange.answered.is_set() and ANSWERED not in sent:
                    _mark_answered(sent)

            exchange.send = mark
            await exchange.run()
            await asyncio.sleep(0)  # the query log's and the mark's callbacks
            found[who] = (exchange.status, _deposits_in(exchange.body), list(sent))
        return found, await connection_now(app)

    found, after = serve(app, body)
    anonymous, credentialed = found["anonymous"], found["credentialed"]
    assert anonymous[0] == credentialed[0] == 200
    assert credentialed[1] == anonymous[1] + 1
    assert anonymous[2][-1] == ANSWERED and len(anonymous[2]) == 3
    before = credentialed[2][: credentialed[2].index(ANSWERED)]
    later = credentialed[2][credentialed[2].index(ANSWERED) + 1 :]
    assert len(before) == 3, before
    assert before[0].startswith("BEGIN READ ONLY; SELECT veta_confirm_api_key(")
    assert "table_changes" in before[1] and "ST_AsMVT" in before[2]
    assert len(later) == 1 and later[0].startswith("COMMIT; SELECT pg_advisory_unlock_all()")
    assert after == ("", "", "off", False)


def test_the_next_request_started_as_the_answer_is_out_sees_nothing_of_it(recorded, world):
    """uvicorn starts a keep-alive connection's next request as soon as the answer's last byte
    is written: on a one-connection pool that request waits for the COMMIT and reset, then
    reads as anonymous — without the organisation's record — and outside any transaction.
    The credentialed items need two connections at once (count beside page) from a pool of
    one: the first use's end never waits for the request to finish."""
    app, sent = recorded
    url = "/collections/deposits/items?limit=5&bbox=" + ",".join(map(str, BOX))

    async def body():
        first = Exchange(app, url, world["key"])
        second = Exchange(app, url)
        started: list[asyncio.Task] = []

        async def then_next(message, send=first.send):
            await send(message)
            if first.answered.is_set() and not started:
                started.append(asyncio.ensure_future(second.run()))
                _mark_answered(sent)

        first.send = then_next
        await asyncio.wait_for(first.run(), 30)
        await asyncio.wait_for(started[0], 30)
        return list(sent), await connection_now(app), first, second

    sent_then, after, first, second = serve(app, body)
    assert first.status == second.status == 200
    matched = [json.loads(e.body)["numberMatched"] for e in (first, second)]
    assert matched == [PUBLIC + 1, PUBLIC]
    commits = [i for i, q in enumerate(sent_then) if q.startswith("COMMIT; ")]
    answered = sent_then.index(ANSWERED)
    # The first request's viewer transaction ends after its answer and before the second
    # request's first statement; the second, anonymous, opens none.
    assert commits and commits[-1] > answered
    assert not any(q.startswith("BEGIN") for q in sent_then[commits[-1] :])
    assert after == ("", "", "off", False)


def test_a_client_that_hangs_up_mid_answer_still_gives_the_connection_back(recorded, world):
    """A streamed answer cut by the client: its cursor's transaction is rolled back at once
    and the connection reset, and the next request on the one connection is answered whole,
    as anonymous."""
    app, sent = recorded
    url = "/collections/deposits/items?limit=1000&bbox=" + ",".join(map(str, BOX))

    async def body():
        cut = Exchange(app, url, world["key"], hang_up_after=1)
        await asyncio.wait_for(cut.run(), 30)
        await asyncio.sleep(0.01)  # the query log's callbacks
        cut_sent = list(sent)
        whole = await asyncio.wait_for(Exchange(app, url).run(), 30)
        return cut, cut_sent, whole, await connection_now(app)

    cut, cut_sent, whole, after = serve(app, body)
    assert cut.status == 200 and not cut.answered.is_set()
    assert cut.body.startswith(b'{"type":"FeatureCollection"')
    assert b'"numberReturned"' not in cut.body  # cut short: no tail
    # The viewer transaction the hang-up cut into is rolled back by the pool's release (asyncpg
    # sends that ROLLBACK itself, unlogged) and the session reset before anyone else uses it.
    last_begin = max(i for i, q in enumerate(cut_sent) if q.startswith("BEGIN READ ONLY"))
    assert any("RESET ALL" in q for q in cut_sent[last_begin:])
    answer = json.loads(whole.body)
    assert answer["numberReturned"] == answer["numberMatched"] == PUBLIC
    assert after == ("", "", "off", False)


def test_a_connection_lost_before_its_commit_after_the_answer_does_not_poison_the_pool(
    settings, db_url
):
    """The database ends a read's connection after its statements, before the COMMIT that
    ends beside the answer: the end only logs (the transaction wrote nothing to lose), and the
    one-connection pool opens a fresh connection for the next use, which sees nothing of it."""
    from geo.store.db import create_pool, service_url

    async def main():
        pool = await create_pool(
            service_url(settings), settings.model_copy(update={"db_pool_max": 1})
        )
        killer = await asyncpg.connect(db_url)
        try:
            VIEWER.set(Viewer(1, "a", "editor", actor="t"))
            after_answer = AfterAnswer()
            AFTER_ANSWER.set(after_answer)
            async with pool.acquire() as conn:
                pid, *inside = await conn.fetchrow(f"SELECT pg_backend_pid(), {SETTINGS_READ[7:]}")
                # The use's statements are done; its end has not started yet.
                killed = await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
            await after_answer.close()
            AFTER_ANSWER.set(None)
            VIEWER.set(Viewer())
            async with pool.acquire() as conn:
                fresh_pid, *after = await conn.fetchrow(
                    f"SELECT pg_backend_pid(), {SETTINGS_READ[7:]}"
                )
                after.append(conn.is_in_transaction())
            return pid, inside, killed, fresh_pid, tuple(after)
        finally:
            await killer.close()
            await pool.close()

    pid, inside, killed, fresh_pid, after = asyncio.run(main())
    assert inside == ["1", "editor", "on"]
    assert killed and fresh_pid != pid
    # A new session: the settings were never defined in it.
    assert after == (None, None, "off", False)


def test_a_use_that_fails_in_a_read_is_rolled_back_at_once_and_a_read_writes_nothing(settings):
    """Only a use that ended cleanly ends beside the answer: a failure rolls back there and
    then. And a read's viewer transaction is READ ONLY, so that a COMMIT sent after the
    answer has nothing to lose."""
    from geo.store.db import create_pool, service_url

    async def main():
        sent: list[str] = []
        pool = await create_pool(service_url(settings), settings)
        try:
            VIEWER.set(Viewer(1, "a", "admin", actor="t"))
            after_answer = AfterAnswer()
            AFTER_ANSWER.set(after_answer)
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                async with pool.acquire() as conn:
                    conn.add_query_logger(lambda record: sent.append(record.query))
                    await conn.execute("CREATE TEMP TABLE after_answer_marks (n int)")
            rolled_back_at_once = list(sent)
            async with pool.acquire() as conn:
                inside = await conn.fetchrow(SETTINGS_READ)
            await after_answer.close()
            AFTER_ANSWER.set(None)
            VIEWER.set(Viewer())
            async with pool.acquire() as conn:
                return (
                    rolled_back_at_once,
                    inside,
                    (
                        *await conn.fetchrow(SETTINGS_READ),
                        conn.is_in_transaction(),
                    ),
                )
        finally:
            await pool.close()

    rolled_back, inside, after = asyncio.run(main())
    assert any(q.startswith("ROLLBACK") for q in rolled_back), rolled_back
    assert inside == ("1", "admin", "on")
    assert after == ("", "", "off", False)
