"""A credentialed list or tile opens its viewer connection before it checks its parameters
(geo/store/ahead.py): its page reads there, a remembered key is confirmed (or refused) by it,
a use that would wait for a connection takes it instead, it goes back clean when nothing used
it, and requests that each hold one never deadlock a full pool. Driven through ASGI, every
statement recorded."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgi_exchange import Exchange, connection_now, recording_app, serve
from records import insert_deposit
from sqlalchemy import text

from geo.access.keys import create_key, create_organisation

SOURCE = "t-ahead"
ORG = "t-ahead"
# A confidential lithium prospect of the organisation, in the province of León (INE 24).
SECRET_AT = (-5.9, 42.55)
# Fewer than a streamed chunk's rows: the page is one logged statement, not a cursor's fetches.
LIST = "/deposits?commodity=Li&area=24&limit=100"
CLEAN = ("", "", "off", False)


@pytest.fixture(scope="module")
def world(engine):
    with engine.begin() as conn:
        org = create_organisation(conn, ORG, "Abierta de antemano")
        insert_deposit(conn, "Prospecto adelantado", SECRET_AT, SOURCE, "s-1", org)
    yield org
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM organisations WHERE code = :c"), {"c": ORG})


def _key(engine) -> tuple[str, int]:
    with engine.begin() as conn:
        return create_key(conn, ORG, "editor", "ana@ahead.example", None)


def _names(exchange: Exchange) -> set[str]:
    return {f["properties"]["name"] for f in json.loads(exchange.body)["features"]}


def _credentialed_statements(app, sent, key, path) -> tuple[Exchange, list[str], Exchange, tuple]:
    """A credentialed request (after one that looked the key up and remembered the count),
    the statements it sent, the same request anonymous, and the pool's connection after."""

    async def body():
        await Exchange(app, path, key).run()
        sent.clear()
        credentialed = await asyncio.wait_for(Exchange(app, path, key).run(), 30)
        await asyncio.sleep(0.01)  # the query log's callbacks
        statements = list(sent)
        anonymous = await asyncio.wait_for(Exchange(app, path).run(), 30)
        return credentialed, statements, anonymous, await connection_now(app)

    return serve(app, body)


def test_the_page_reads_in_the_connection_opened_ahead(settings, monkeypatch, engine, world):
    """/deposits with an area, a pool with connections to spare: the area's lookup needs no
    viewer and takes a connection of its own; the page reads in the one viewer transaction,
    opened ahead, whose first round trip confirms the remembered key and sets only what
    row-level security reads (a READ ONLY transaction records nothing for the audit trail)."""
    app, sent = recording_app(settings, monkeypatch, db_pool_max=3)
    credentialed, statements, anonymous, after = _credentialed_statements(
        app, sent, _key(engine)[0], LIST
    )
    assert credentialed.status == anonymous.status == 200
    assert _names(credentialed) - _names(anonymous) == {"Prospecto adelantado"}
    begins = [q for q in statements if q.startswith("BEGIN")]
    assert len(begins) == 1, statements
    assert begins[0].startswith("BEGIN READ ONLY") and "veta_confirm_api_key" in begins[0]
    assert "veta.org" in begins[0] and "veta.role" in begins[0]
    assert "veta.actor" not in begins[0]
    assert after == CLEAN


def test_a_use_that_would_wait_takes_it_instead(settings, monkeypatch, engine, world):
    """On a one-connection pool the connection opened ahead is the only one: the area's lookup
    takes it rather than wait for it, and the page opens the viewer's transaction again."""
    app, sent = recording_app(settings, monkeypatch)
    credentialed, statements, anonymous, after = _credentialed_statements(
        app, sent, _key(engine)[0], LIST
    )
    assert credentialed.status == anonymous.status == 200
    assert _names(credentialed) - _names(anonymous) == {"Prospecto adelantado"}
    begins = [i for i, q in enumerate(statements) if q.startswith("BEGIN")]
    assert len(begins) == 2, statements
    assert "admin_areas" in statements[begins[0] + 1]
    assert "veta_confirm_api_key" in statements[begins[0]]
    assert "veta_confirm_api_key" not in statements[begins[1]]  # confirmed once
    assert after == CLEAN


def test_a_read_refused_before_it_reads_gives_it_back_clean(settings, monkeypatch, engine, world):
    """A list whose parameters are refused (400) never uses the connection opened for it: it
    ends with the request, and the next user finds it clean."""
    app, sent = recording_app(settings, monkeypatch)
    credentialed, statements, anonymous, after = _credentialed_statements(
        app, sent, _key(engine)[0], "/deposits?bbox=1,2,3"
    )
    assert credentialed.status == anonymous.status == 400
    assert [q.split(";")[0] for q in statements] == ["BEGIN READ ONLY", "COMMIT"]
    assert after == CLEAN


def test_a_refused_key_fails_the_first_use_whatever_it_is_for(settings, monkeypatch, engine, world):
    """A key revoked since it was remembered is refused by the opening: 401, no deposit."""
    app, _ = recording_app(settings, monkeypatch)
    key, key_id = _key(engine)

    async def body():
        remembered = await Exchange(app, LIST, key).run()
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE api_keys SET revoked_at = now() WHERE id = :i"), {"i": key_id}
            )
        refused = await asyncio.wait_for(Exchange(app, LIST, key).run(), 30)
        return remembered, refused, await connection_now(app)

    remembered, refused, after = serve(app, body)
    assert remembered.status == 200 and "Prospecto adelantado" in _names(remembered)
    assert refused.status == 401
    assert b"Prospecto" not in refused.body and b"features" not in refused.body
    assert after == CLEAN


def test_requests_holding_connections_opened_ahead_cannot_deadlock_a_full_pool(
    settings, monkeypatch, engine, world
):
    """Eight requests at once on one connection, six of them credentialed, each of which uses
    the pool three times (area, page, count — the count beside the page): every one is
    answered, and the connection ends clean."""
    app, _ = recording_app(settings, monkeypatch, count_cache_size=0)
    key, _ = _key(engine)

    async def body():
        exchanges = [Exchange(app, LIST, key if i % 4 else None) for i in range(8)]
        done = await asyncio.wait_for(asyncio.gather(*(e.run() for e in exchanges)), 60)
        return done, await connection_now(app)

    done, after = serve(app, body)
    assert [e.status for e in done] == [200] * 8
    for i, exchange in enumerate(done):
        assert ("Prospecto adelantado" in _names(exchange)) == bool(i % 4)
    assert after == CLEAN
