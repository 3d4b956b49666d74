"""Faults the service must survive: an import killed at any moment leaves the tables exactly as
they were (or, killed between its commit and its exit, with the whole import), and a database restart under load gives 503s during the outage, then 200s again
within five seconds, with nothing else in between; a stopped server leaves no worker process
running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import httpx
import numpy as np
import pytest
from sqlalchemy import text
from test_hostile_input import Proxy

from geo.store.db import sync_engine, with_database
from geo.store.migrate import create_database, drop_database, upgrade

VETA = Path(sys.executable).parent / "veta"
ROWS = 250_000
# When `veta import` is killed, as a share of how long the same import takes whole (measured
# first): while it starts, reads, validates, copies and rebuilds indexes.
KILL_AT = (0.1, 0.3, 0.5, 0.7, 0.85)
# Fractions of the timed import at which a kill is tried again when the import beat it.
KILL_EARLIER = (1.0, 0.6, 0.35)
TABLES = ("deposits", "import_runs", "table_changes")


@pytest.fixture(scope="module")
def scratch(db_url, tmp_path_factory):
    """A migrated database holding one earlier import, and a file of ROWS new deposits."""
    url = with_database(db_url, f"veta_faults_{uuid.uuid4().hex[:8]}")
    create_database(url)
    upgrade(url)
    folder = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(7)

    def points(n: int, prefix: str) -> Path:
        frame = gpd.GeoDataFrame(
            {
                "source_id": [f"{prefix}{i:06d}" for i in range(n)],
                "name": [f"Deposit {prefix}{i}" for i in range(n)],
                "commodities": rng.choice(["W", "Sn;W", "Li", "Au"], n),
                "occurrence_type": "occurrence",
                "location_precision": "approximate",
            },
            geometry=gpd.points_from_xy(rng.uniform(-6.9, -5.0, n), rng.uniform(42.1, 43.1, n)),
            crs="EPSG:4326",
        )
        path = folder / f"{prefix}.gpkg"
        frame.to_file(path, layer="deposits", engine="pyogrio")
        return path

    earlier = _import(url, points(500, "a"), "faults-earlier")
    assert earlier.returncode == 0, earlier.stderr
    path = points(ROWS, "b")
    started = time.perf_counter()
    timing = _import(url, path, "faults-timing")
    whole_s = time.perf_counter() - started
    assert timing.returncode == 0, timing.stderr
    engine = sync_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = 'faults-timing'"))
    engine.dispose()
    yield url, path, whole_s
    drop_database(url)


def _import(url: str, path: Path, source: str, **popen) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VETA), "import", str(path), "--layer", "deposits", "--source", source],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
        **popen,
    )


def _snapshot(url: str) -> dict[str, tuple]:
    """Each table's row count and a digest of its rows in order."""
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: tuple(
                    conn.execute(
                        text(
                            f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
                        )
                    ).one()
                )
                for table in TABLES
            }
    finally:
        engine.dispose()


def _busy(url: str) -> list[str]:
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        # Client backends only: autovacuum also works on the database after
                        # a large import, and is no trace of the killed client.
                        "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND state <> 'idle' "
                        "AND backend_type = 'client backend'"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("share", KILL_AT)
def test_an_import_killed_at_any_moment_leaves_no_trace(scratch, share):
    url, path, whole_s = scratch
    # The timing import ran once, under whatever load the suite had then; an import that
    # finishes before its kill is run again with the kill earlier (its rows removed first).
    for earlier in KILL_EARLIER:
        after_s = share * whole_s * earlier
        before = _snapshot(url)
        proc = subprocess.Popen(
            [str(VETA), "import", str(path), "--layer", "deposits", "--source", "faults-killed"],
            env={**os.environ, "DATABASE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(after_s)
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        if not finished:
            break
        _remove_killed_import(url)
    else:
        pytest.fail(f"the import ended before {after_s:.1f} s: the kill must land mid-way")
    # The server notices the dead client and rolls its transaction back.
    deadline = time.monotonic() + 10
    while _busy(url) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _busy(url) == []
    after = _snapshot(url)
    if after != before:
        # Killed after its commit, before it exited: then it is all there, never a part.
        assert after["deposits"][0] == before["deposits"][0] + ROWS
        assert after["import_runs"][0] == before["import_runs"][0] + 1
        engine = sync_engine(url)
        with engine.connect() as conn:
            outcome = conn.execute(
                text("SELECT outcome FROM import_runs ORDER BY id DESC LIMIT 1")
            ).scalar()
        engine.dispose()
        _remove_killed_import(url)
        assert outcome == "written"


def _remove_killed_import(url: str) -> None:
    engine = sync_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = 'faults-killed'"))
    engine.dispose()


def test_after_the_kills_the_same_import_runs_whole(scratch):
    url, path, _ = scratch
    result = _import(url, path, "faults-killed")
    assert result.returncode == 0, result.stderr
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            written = conn.execute(
                text("SELECT count(*) FROM deposits WHERE source = 'faults-killed'")
            ).scalar()
    finally:
        engine.dispose()
    assert written == ROWS


def test_a_database_restart_under_load_gives_503s_then_200s_again(db_url):
    parts = urlsplit(db_url)
    proxy = Proxy(parts.hostname, parts.port)
    url = urlunsplit(
        parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{proxy.port}"))
    )
    with served(url) as (_, base):
        seen: list[tuple[float, int]] = []
        bodies: list[str] = []
        stop = threading.Event()

        def client() -> None:
            with httpx.Client(base_url=base, timeout=10) as http:
                while not stop.is_set():
                    try:
                        response = http.get("/deposits", params={"limit": 1})
                        status = response.status_code
                        if status not in (200, 503):
                            bodies.append(response.text[:500])
                    except httpx.TransportError:
                        status = -1
                    seen.append((time.monotonic(), status))

        workers = [threading.Thread(target=client) for _ in range(4)]
        for w in workers:
            w.start()
        time.sleep(1.0)
        cut_at = time.monotonic()
        proxy.cut()
        time.sleep(2.0)
        restored_at = time.monotonic()
        proxy.restore()
        time.sleep(6.0)
        stop.set()
        for w in workers:
            w.join(30)
    during = [s for t, s in seen if cut_at + 1.5 < t < restored_at]
    after = [s for t, s in seen if t > restored_at + 5.0]
    assert {s for _, s in seen} <= {200, 503}, bodies[:3]
    assert during and set(during) == {503}
    assert after and set(after) == {200}
    first_ok = min(t for t, s in seen if t > restored_at and s == 200)
    assert first_ok - restored_at < 5.0


def _children(pid: int) -> set[int]:
    """The processes `pid` started (Linux: each of its threads lists the children it made)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child the server left is adopted and reaped by init; one that is still here is a zombie
    # only if nobody has reaped it yet, which counts as gone.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_a_stopped_server_leaves_no_worker_process(db_url):
    """A large body is parsed in a worker process (api/body_parsing.py); after a SIGTERM the
    server stops it with itself, instead of leaving it running for ever."""
    sites = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-6.9 + i * 1e-4, 42.6]},
            "properties": {"name": f"site {i:05d} " + "x" * 40},
        }
        for i in range(3000)
    ]
    with served(db_url) as (server, base):
        response = httpx.post(
            base + "/screening/batch",
            params={"f": "csv"},
            json={"type": "FeatureCollection", "features": sites},
            timeout=60,
        )
        assert response.status_code == 200, response.text[:500]
        assert response.text.count("\n") >= len(sites)
        workers = _children(server.pid)
        assert workers, "the large body was not parsed in a worker process"
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)]


@contextmanager
def served(database_url: str):
    """`veta serve` on a free port, up: (its process, its base URL); stopped with SIGTERM after."""
    with socket_port() as port:
        server = subprocess.Popen(
            [str(VETA), "serve", "--port", str(port)],
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base)
        yield server, base
    finally:
        server.terminate()
        server.wait(30)


class socket_port:
    """A free loopback port (the socket closed before the server binds it)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc) -> None:
        return None


def _wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server not up in 30 s")
