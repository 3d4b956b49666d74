"""Remembered counts: numberMatched is counted once per state of the data, and stays exact."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from geo.core.settings import Settings
from geo.core.sql import SqlQuery
from geo.store.counts import CountCache
from geo.store.db import libpq_url
from geo.store.timed_pool import TimedPool

# A statement whose every run gives a new number, so the test sees when it really runs.
PROBE = "SELECT nextval('count_probe')"
TOUCH_DEPOSITS = "UPDATE deposits SET name = name WHERE id = (SELECT min(id) FROM deposits)"


@pytest.fixture
def probe(engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE SEQUENCE count_probe"))
    yield
    with engine.begin() as conn:
        conn.execute(text("DROP SEQUENCE count_probe"))


def _counts(
    db_url: str, cache: CountCache, query: SqlQuery, writes: list[str | None], engine
) -> list[int]:
    """The cache's answer to `query` before each write (None: no write) and after the last."""

    async def run() -> list[int]:
        pool = TimedPool(
            await asyncpg.create_pool(libpq_url(db_url), min_size=1, max_size=2), Settings()
        )
        try:
            answers = []
            for write in writes:
                answers.append(await cache.count(pool, query))
                if write:
                    with engine.begin() as conn:
                        conn.execute(text(write))
            answers.append(await cache.count(pool, query))
            return answers
        finally:
            await pool.close()

    return asyncio.run(run())


def test_a_count_is_remembered_until_one_of_its_tables_changes(db_url, engine, probe):
    query = SqlQuery(PROBE, (), ("deposits", "protection_zones"))
    answers = _counts(db_url, CountCache(16), query, [None, TOUCH_DEPOSITS, None], engine)
    assert answers == [1, 1, 2, 2]


def test_a_write_to_another_table_keeps_the_count(db_url, engine, probe):
    query = SqlQuery(PROBE, (), ("protection_zones",))
    assert _counts(db_url, CountCache(16), query, [TOUCH_DEPOSITS], engine) == [1, 1]


def test_without_size_or_tables_or_with_an_untracked_table_every_count_runs(db_url, engine, probe):
    tracked = SqlQuery(PROBE, (), ("deposits",))
    assert _counts(db_url, CountCache(0), tracked, [None, None], engine) == [1, 2, 3]
    assert _counts(db_url, CountCache(16), SqlQuery(PROBE, ()), [None], engine) == [4, 5]
    untracked = SqlQuery(PROBE, (), ("deposits", "spatial_ref_sys"))
    assert _counts(db_url, CountCache(16), untracked, [None], engine) == [6, 7]


def test_the_least_recently_used_count_is_forgotten_first(db_url, engine, probe):
    cache = CountCache(1)
    # Two entries told apart by their bound value only.
    first = SqlQuery(PROBE + " + 0 * $1::int", (1,), ("deposits",))
    second = SqlQuery(PROBE + " + 0 * $1::int", (2,), ("deposits",))

    async def run() -> list[int]:
        pool = TimedPool(
            await asyncpg.create_pool(libpq_url(db_url), min_size=1, max_size=1), Settings()
        )
        try:
            return [await cache.count(pool, q) for q in (first, first, second, first)]
        finally:
            await pool.close()

    assert asyncio.run(run()) == [1, 1, 2, 3]


NEW_DEPOSIT = """
INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, location_precision,
                      geom, source, source_id)
VALUES ('Count test tungsten', 'occurrence', ARRAY['tungsten'], ARRAY['main'], 'exact',
        ST_SetSRID(ST_MakePoint(-5.5671, 42.5987), 4326), 'test', 'test-counts')
RETURNING id
"""


@pytest.mark.parametrize(
    "path, independent",
    [
        (
            "/deposits?commodity=W&area=leon",
            (
                "SELECT count(*) FROM deposits d JOIN admin_areas a ON a.code = '24' "
                "AND ST_Intersects(a.geom, d.geom) WHERE 'tungsten' = ANY(d.commodities)"
            ),
        ),
        (
            "/collections/deposits/items?filter=main_commodity%3D'tungsten'",
            "SELECT count(*) FROM deposits WHERE commodities[1] = 'tungsten'",
        ),
    ],
)
def test_number_matched_follows_a_new_deposit_and_its_removal(client, engine, path, independent):

    def matched() -> tuple[int, int]:
        response = client.get(path, headers={"Accept": "application/geo+json"})
        assert response.status_code == 200, response.text
        with engine.connect() as conn:
            return response.json()["numberMatched"], conn.execute(text(independent)).scalar()

    before, expected = matched()
    assert before == expected
    assert matched() == (before, expected)  # asked again: the remembered count
    with engine.begin() as conn:
        new_id = conn.execute(text(NEW_DEPOSIT)).scalar()
    try:
        assert matched() == (before + 1, expected + 1)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM deposits WHERE id = :id"), {"id": new_id})
    assert matched() == (before, expected)


def test_the_rights_count_is_remembered_and_follows_a_status_change(client, engine):
    """/permits counts through the remembered counts too, and a registry write makes it count again."""
    path = "/permits?status=granted"
    independent = "SELECT count(*) FROM permits WHERE status = 'granted' AND (expires_on IS NULL OR expires_on >= current_date)"
    remembered = client.app.state.counts._counts

    def matched() -> tuple[int, int]:
        response = client.get(path)
        assert response.status_code == 200, response.text
        with engine.connect() as conn:
            return response.json()["numberMatched"], conn.execute(text(independent)).scalar()

    before, expected = matched()
    assert before == expected > 0
    kept = len(remembered)
    assert (
        matched() == (before, expected) and len(remembered) == kept
    )  # the same count, not a new one
    with engine.begin() as conn:
        changed = conn.execute(
            text(
                "UPDATE permits SET status = 'lapsed' WHERE id = (SELECT min(id) FROM permits "
                "WHERE status = 'granted' AND (expires_on IS NULL OR expires_on >= current_date)) RETURNING id"
            )
        ).scalar()
    try:
        assert matched() == (before - 1, expected - 1)
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE permits SET status = 'granted' WHERE id = :id"), {"id": changed}
            )
    assert matched() == (before, expected)
