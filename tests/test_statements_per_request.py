"""The statements a page of items sends: its rows, its count once per state of the data, and
the change counters that tell whether the remembered count still holds — no other round trip."""

from __future__ import annotations

import asyncpg
from fastapi.testclient import TestClient
from shapely.geometry import box, shape
from sqlalchemy import text

from api.app import create_app

BBOX = (-6.9, 42.3, -6.3, 42.7)
PAGE = "/collections/deposits/items?limit=100&bbox=" + ",".join(map(str, BBOX))


def _kind(statement: str) -> str | None:
    """What a statement is for; None for asyncpg's own (the pool's reset on release, the
    type introspection of a connection's first statements), which are not the request's."""
    if statement.startswith("SELECT pg_advisory_unlock_all()") or "typeinfo" in statement:
        return None
    if "set_config('jit'" in statement:
        return None
    if "FROM table_changes" in statement and "count(*) FROM deposits" in statement:
        return "count and counters"
    if "FROM table_changes" in statement:
        return "counters"
    if statement.startswith("SELECT count(*)"):
        return "count"
    if '"type":"Feature"' in statement:
        return "page"
    return statement


def test_an_items_page_with_a_bbox_counts_in_one_round_trip_then_remembers(
    settings, engine, monkeypatch
):
    sent: list[str] = []
    create_pool = asyncpg.create_pool

    def logged_pool(*args, **kwargs):
        async def init(conn: asyncpg.Connection) -> None:
            conn.add_query_logger(lambda record: sent.append(record.query))

        return create_pool(*args, **kwargs, init=init)

    monkeypatch.setattr(asyncpg, "create_pool", logged_pool)
    with TestClient(create_app(settings)) as client:
        kinds = []
        for _ in range(3):
            sent.clear()
            answer = client.get(PAGE, headers={"Accept": "application/geo+json"})
            assert answer.status_code == 200
            kinds.append(sorted(k for k in map(_kind, sent) if k is not None))

    # The first request counts, reading the counters its count saw in the same statement;
    # the next ones only check the counters beside their page.
    assert kinds == [
        ["count and counters", "counters", "page"],
        ["counters", "page"],
        ["counters", "page"],
    ]
    # And the remembered count is the number of deposits in the box, counted with shapely.
    with engine.connect() as conn:
        points = conn.execute(text("SELECT ST_AsGeoJSON(geom)::json FROM deposits")).scalars()
        inside = sum(box(*BBOX).intersects(shape(p)) for p in points)
    assert answer.json()["numberMatched"] == inside
