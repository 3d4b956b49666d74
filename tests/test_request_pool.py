"""The request pool's viewer transactions: who asks reaches PostgreSQL exactly as sent, in as few
round trips as the design allows, and nothing of one request reaches the next user of the
connection."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from geo.access.keys import create_key, create_organisation, digest
from geo.core.errors import Unauthenticated
from geo.core.settings import Settings
from geo.store.db import libpq_url
from geo.store.timed_pool import (
    REQUEST_KIND,
    TimedPool,
    pool_settings,
    reset_on_release,
    transaction,
)
from geo.store.viewer import VIEWER, RememberedKey, Viewer

# Values a key's holder, a token's subject or a request id could carry to the settings' SQL.
HOSTILE = [
    "o'brien",
    "back\\slash \\' and quote",
    "'); SELECT pg_sleep(5); --",
    "E'\\x41' $$ dollar $$",
    "nul\x00byte",
    "ñandú 測試",
]

SETTINGS_READ = (
    "SELECT current_setting('veta.org', true), current_setting('veta.role', true), "
    "current_setting('veta.actor', true), current_setting('veta.client', true), "
    "(extract(epoch FROM current_setting('statement_timeout')::interval) * 1000)::int"
)


async def _pool(db_url: str, sent: list[str]) -> TimedPool:
    """A one-connection request pool as the app makes it, recording every statement sent."""

    async def record(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda record: sent.append(record.query))

    settings = Settings(database_url=db_url)
    pool = await asyncpg.create_pool(
        libpq_url(db_url),
        min_size=1,
        max_size=1,
        init=record,
        reset=reset_on_release,
        server_settings=pool_settings(settings),
    )
    return TimedPool(pool, settings)


def _run(db_url, body):
    async def main():
        sent: list[str] = []
        pool = await _pool(db_url, sent)
        try:
            return await body(pool, sent)
        finally:
            await pool.close()

    return asyncio.run(main())


@pytest.mark.parametrize("value", HOSTILE)
def test_a_viewer_reaches_postgresql_exactly_as_sent_whatever_its_text(db_url, value):
    viewer = Viewer(7, "org-7", "editor", actor=value, client=value, request_id="r1")

    async def body(pool, sent):
        VIEWER.set(viewer)
        async with pool.acquire() as conn:
            return await conn.fetchrow(SETTINGS_READ)

    org, role, actor, client, _ = _run(db_url, body)
    assert (org, role) == ("7", "editor")
    assert actor == client == value.replace("\x00", "\ufffd")


def test_a_credentialed_read_takes_two_round_trips_more_than_an_anonymous_one(db_url):
    async def body(pool, sent):
        counts = {}
        for name, viewer in (("anonymous", Viewer()), ("credentialed", Viewer(1, "a", "reader"))):
            VIEWER.set(viewer)
            sent.clear()
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
            counts[name] = list(sent)
        return counts

    counts = _run(db_url, body)
    # Anonymous: the statement, then the pool's reset on release.
    assert len(counts["anonymous"]) == 2
    assert counts["anonymous"][1].startswith("SELECT pg_advisory_unlock_all()")
    # Credentialed: BEGIN with the settings, the statement, COMMIT with the reset; no more.
    begin, statement, end = counts["credentialed"]
    assert begin.startswith("BEGIN; SELECT set_config('veta.org', E'1', true)")
    assert statement == "SELECT 1"
    assert end.startswith("COMMIT; SELECT pg_advisory_unlock_all()") and "RESET ALL" in end


def test_nothing_of_a_viewer_transaction_reaches_the_next_user_of_the_connection(db_url):
    async def body(pool, sent):
        VIEWER.set(Viewer(3, "c", "editor", actor="someone"))
        REQUEST_KIND.set("export")
        async with pool.acquire() as conn:
            inside = await conn.fetchrow(SETTINGS_READ)
        VIEWER.set(Viewer())
        REQUEST_KIND.set("read")
        async with pool.acquire() as conn:
            after = await conn.fetchrow(SETTINGS_READ)
            in_transaction = conn.is_in_transaction()
        return inside, after, in_transaction

    inside, after, in_transaction = _run(db_url, body)
    settings = Settings()
    assert inside[:3] == ("3", "editor", "someone")
    assert settings.statement_timeout_export_s != settings.statement_timeout_read_s
    assert inside[4] == int(settings.statement_timeout_export_s * 1000)
    assert after[:4] == ("", "", "", "")
    assert after[4] == int(settings.statement_timeout_read_s * 1000)
    assert not in_transaction


def test_a_failed_request_leaves_nothing_written_and_a_clean_connection(db_url):
    async def body(pool, sent):
        VIEWER.set(Viewer(1, "a", "admin", actor="t"))
        async with pool.acquire() as conn:
            await conn.execute("CREATE TEMP TABLE IF NOT EXISTS marks (n int)")
        with pytest.raises(ZeroDivisionError):
            async with pool.acquire() as conn:
                # A block asking for its own transaction shares the viewer's: no SAVEPOINT.
                async with transaction(conn):
                    await conn.execute("INSERT INTO marks VALUES (1)")
                raise ZeroDivisionError
        VIEWER.set(Viewer())
        async with pool.acquire() as conn:
            rows = await conn.fetchval("SELECT count(*) FROM marks")
            actor = await conn.fetchval("SELECT current_setting('veta.actor', true)")
        return rows, actor, list(sent)

    rows, actor, sent = _run(db_url, body)
    assert rows == 0
    assert actor == ""
    assert not any("SAVEPOINT" in q for q in sent)
    assert any(q.startswith("ROLLBACK; SELECT pg_advisory_unlock_all()") for q in sent)


def test_a_credential_check_costs_one_round_trip(db_url):
    async def body(pool, sent):
        VIEWER.set(Viewer())
        sent.clear()
        row = await pool.lookup("SELECT $1::int + 1", 41)
        return row[0], list(sent)

    value, sent = _run(db_url, body)
    assert value == 42
    assert sent == ["SELECT $1::int + 1"]


def test_a_remembered_key_is_confirmed_in_the_round_trip_of_the_settings(db_url, engine):
    with engine.begin() as conn:
        org = create_organisation(conn, "t-pool-remembered", "Remembered")
        key, _ = create_key(conn, "t-pool-remembered", "reader", "r@t.example", None)

    async def body(pool, sent):
        uses = []
        VIEWER.set(
            Viewer(
                org,
                "t-pool-remembered",
                "reader",
                remembered_key=RememberedKey(digest(key), org, "reader"),
            )
        )
        for _ in range(2):  # the request's second connection needs no confirmation
            sent.clear()
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
            uses.append(list(sent))
        confirmed = VIEWER.get().remembered_key.confirmed
        # Remembered as an admin's: the database says no, and the transaction reads nothing.
        VIEWER.set(
            Viewer(
                org,
                "t-pool-remembered",
                "admin",
                remembered_key=RememberedKey(digest(key), org, "admin"),
            )
        )
        with pytest.raises(Unauthenticated):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        refused = VIEWER.get().remembered_key.refused
        VIEWER.set(Viewer())
        async with pool.acquire() as conn:
            after = await conn.fetchrow(SETTINGS_READ)
            in_transaction = conn.is_in_transaction()
        return uses, confirmed, refused, after, in_transaction

    try:
        uses, confirmed, refused, after, in_transaction = _run(db_url, body)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM organisations WHERE id = :o"), {"o": org})
    first, second = uses
    assert len(first) == len(second) == 3  # no round trip more than any credentialed use
    assert first[0].startswith(
        f"BEGIN; SELECT veta_confirm_api_key(E'{digest(key)}', {org}, E'reader'), "
        "set_config('veta.org'"
    )
    assert "veta_confirm_api_key" not in second[0]
    assert confirmed and refused
    assert after[:4] == ("", "", "", "") and not in_transaction
