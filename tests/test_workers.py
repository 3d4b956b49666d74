"""`veta serve --workers 2`: both processes answer the same numberMatched and the same tiles
after a write, since the remembered counts and tiles are keyed on the tables' change counters in
the database (bumped by the writing transaction), which every process reads, not on anything
one process saw."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mapbox_vector_tile
import morecantile
import pytest
from conftest import _free_port
from sqlalchemy import text
from test_counts import NEW_DEPOSIT

PATH = "/deposits?commodity=W&area=leon"
INDEPENDENT = (
    "SELECT count(*) FROM deposits d JOIN admin_areas a ON a.code = '24' "
    "AND ST_Intersects(a.geom, d.geom) WHERE 'tungsten' = ANY(d.commodities)"
)


@pytest.fixture(scope="module")
def two_workers(db_url, tmp_path_factory):
    port = _free_port()
    # The server's log goes to a file: an unread pipe fills up and then blocks the server.
    log = tmp_path_factory.mktemp("workers") / "serve.log"
    env = {**os.environ, "DATABASE_URL": db_url, "VETA_WORKERS": "2"}
    veta = Path(sys.executable).parent / "veta"
    proc = subprocess.Popen(
        [str(veta), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"no server: {log.read_text() if proc.poll() is not None else 'timeout'}"
                )
            time.sleep(0.2)
        children = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        yield url, children
    finally:
        proc.terminate()
        proc.wait(20)


def matched_by_every_request(url: str, times: int = 24) -> set[int]:
    """numberMatched from `times` requests, each on a new connection, so both processes answer."""
    answers = set()
    for _ in range(times):
        with httpx.Client() as client:
            response = client.get(url + PATH, headers={"Accept": "application/geo+json"})
            assert response.status_code == 200, response.text
            answers.add(response.json()["numberMatched"])
    return answers


def test_two_workers_give_the_same_number_matched_after_a_write(two_workers, engine):
    url, children = two_workers
    assert len(children) >= 2  # uvicorn's supervisor runs two worker processes
    with engine.connect() as conn:
        expected = conn.execute(text(INDEPENDENT)).scalar()
    assert matched_by_every_request(url) == {expected}  # every process remembers this count now
    with engine.begin() as conn:
        new_id = conn.execute(text(NEW_DEPOSIT)).scalar()
    try:
        assert matched_by_every_request(url) == {expected + 1}
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM deposits WHERE id = :id"), {"id": new_id})
    assert matched_by_every_request(url) == {expected}


def _tile_features(url: str, tile: morecantile.Tile, times: int = 24) -> set[int]:
    """Deposits in the tile from `times` requests, each on a new connection (both processes)."""
    answers = set()
    for _ in range(times):
        with httpx.Client() as client:
            response = client.get(
                f"{url}/collections/deposits/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
            )
            assert response.status_code in (200, 204), response.text
            layers = mapbox_vector_tile.decode(response.content) if response.content else {}
            answers.add(sum(len(layer["features"]) for layer in layers.values()))
    return answers


def test_two_workers_give_the_same_tiles_after_a_write(two_workers, engine):
    url, _ = two_workers
    tile = morecantile.tms.get("WebMercatorQuad").tile(-5.5671, 42.5987, 11)
    before = _tile_features(url, tile)  # every process has made and remembered this tile now
    assert len(before) == 1
    with engine.begin() as conn:
        new_id = conn.execute(text(NEW_DEPOSIT)).scalar()
    try:
        assert _tile_features(url, tile) == {next(iter(before)) + 1}
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM deposits WHERE id = :id"), {"id": new_id})
    assert _tile_features(url, tile) == before
