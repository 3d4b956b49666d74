"""Remembered API keys: a process looks a key up once, and after that a read confirms it inside
its own first transaction — so a key revoked, expired or changed since is refused at once,
before anything is read, and writes always look their key up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from records import insert_deposit
from sqlalchemy import text

from api.app import create_app
from geo.access.keys import create_key, create_organisation
from geo.core.settings import Settings

ORG = "t-remembered"
SOURCE = "t-remembered"
SECRET = (-5.61, 42.61)


@pytest.fixture(scope="module")
def org(engine) -> Iterator[int]:
    with engine.begin() as conn:
        org_id = create_organisation(conn, ORG, "Remembered keys test")
        insert_deposit(conn, "Remembered prospect", SECRET, SOURCE, "r-1", org_id, "tin")
    yield org_id
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM organisations WHERE code = :c"), {"c": ORG})


@pytest.fixture(scope="module")
def app_client(db_url) -> Iterator[TestClient]:
    """An app of its own, so that what it remembers starts empty."""
    with TestClient(create_app(Settings(database_url=db_url))) as client:
        yield client


@contextmanager
def counted_lookups(client: TestClient) -> Iterator[list[tuple]]:
    """The key lookups the app makes inside the block (one per round trip of its own)."""
    pool = client.app.state.pool  # type: ignore[attr-defined]
    original, calls = pool.lookup, []

    async def counting(sql, *args, **kwargs):
        calls.append(args)
        return await original(sql, *args, **kwargs)

    pool.lookup = counting
    try:
        yield calls
    finally:
        pool.lookup = original


def _key(engine, role: str = "editor") -> tuple[str, int]:
    with engine.begin() as conn:
        return create_key(conn, ORG, role, "remembered@t.example", None)


def _headers(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _secret_shown(response) -> bool:
    return any(f["properties"].get("source") == SOURCE for f in response.json()["features"])


ITEMS = f"/collections/deposits/items?bbox={SECRET[0] - 0.01},{SECRET[1] - 0.01},{SECRET[0] + 0.01},{SECRET[1] + 0.01}"


def test_a_key_is_looked_up_once_then_confirmed_by_each_reads_transaction(app_client, engine, org):
    key, _ = _key(engine)
    with counted_lookups(app_client) as lookups:
        first = app_client.get(ITEMS, headers=_headers(key))
        second = app_client.get(ITEMS, headers=_headers(key))
    assert first.status_code == second.status_code == 200, second.text
    assert _secret_shown(first) and _secret_shown(second)
    assert first.json()["numberMatched"] == second.json()["numberMatched"]
    assert len(lookups) == 1  # the second read made none of its own
    assert not _secret_shown(app_client.get(ITEMS))  # anonymous, as ever


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE api_keys SET revoked_at = now() WHERE id = :i",
        "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :i",
        "DELETE FROM api_keys WHERE id = :i",
        "UPDATE api_keys SET role = 'reader' WHERE id = :i",  # not the role remembered
    ],
    ids=["revoked", "expired", "deleted", "role-changed"],
)
def test_a_remembered_key_that_changed_is_refused_at_once(app_client, engine, org, change):
    key, key_id = _key(engine)
    assert _secret_shown(app_client.get(ITEMS, headers=_headers(key)))  # now remembered
    with engine.begin() as conn:
        conn.execute(text(change), {"i": key_id})
    with counted_lookups(app_client) as lookups:
        refused = app_client.get(ITEMS, headers=_headers(key))
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert SOURCE not in refused.text and "Remembered prospect" not in refused.text
    assert lookups == []  # refused by the read's own transaction
    # Forgotten: the next read looks the key up again.
    with counted_lookups(app_client) as lookups:
        again = app_client.get(ITEMS, headers=_headers(key))
    assert len(lookups) == 1
    if "role" in change:  # still a valid key, now a reader's: it reads again
        assert again.status_code == 200 and _secret_shown(again)
    else:
        assert again.status_code == 401


def test_a_read_without_a_viewer_transaction_looks_its_key_up_before_answering(
    app_client, engine, org
):
    """/conformance reads nothing under row-level security: the key is looked up before the
    answer starts, and a revoked one gets a 401 in the answer's place."""
    key, key_id = _key(engine)
    assert app_client.get(ITEMS, headers=_headers(key)).status_code == 200
    with counted_lookups(app_client) as lookups:
        assert app_client.get("/conformance", headers=_headers(key)).status_code == 200
    assert len(lookups) == 1
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_keys SET revoked_at = now() WHERE id = :i"), {"i": key_id})
    refused = app_client.get("/conformance", headers=_headers(key))
    assert refused.status_code == 401
    assert refused.json()["status"] == 401 and "conformsTo" not in refused.json()


def test_a_download_with_a_revoked_remembered_key_holds_no_record(app_client, engine, org):
    key, key_id = _key(engine)
    assert app_client.get(ITEMS, headers=_headers(key)).status_code == 200
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_keys SET revoked_at = now() WHERE id = :i"), {"i": key_id})
    refused = app_client.get("/downloads/deposits?format=csv", headers=_headers(key))
    assert refused.status_code == 401
    assert "Remembered prospect" not in refused.text


def test_writes_always_look_their_key_up(app_client, engine, org):
    key, key_id = _key(engine)
    assert app_client.get(ITEMS, headers=_headers(key)).status_code == 200
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_keys SET revoked_at = now() WHERE id = :i"), {"i": key_id})
    with counted_lookups(app_client) as lookups:
        response = app_client.post(
            "/collections/deposits/items",
            headers=_headers(key),
            json={
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-5.6, 42.6]},
                "properties": {"name": "Should not be written", "commodities": ["tin"]},
            },
        )
    assert response.status_code == 401, response.text
    assert len(lookups) == 1
    with engine.connect() as conn:
        written = conn.execute(
            text("SELECT count(*) FROM deposits WHERE name = 'Should not be written'")
        ).scalar_one()
    assert written == 0


def test_remembering_can_be_turned_off(db_url, engine, org):
    key, _ = _key(engine)
    with TestClient(create_app(Settings(database_url=db_url, remembered_keys=0))) as client:
        with counted_lookups(client) as lookups:
            for _ in range(3):
                assert client.get(ITEMS, headers=_headers(key)).status_code == 200
    assert len(lookups) == 3
