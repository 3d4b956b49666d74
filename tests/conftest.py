"""Test fixtures: a throwaway PostGIS database with the León sample, the app, a live server.

The database is created fresh for each test run (each xdist worker gets its own) on the local
cluster under .veta/, or on the server DATABASE_URL points at, and dropped afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from api.app import create_app
from cli import app as veta_app
from geo.catalog import register_catalog
from geo.core.settings import PROJECT_ROOT, Settings, get_settings
from geo.store.cluster import LocalCluster
from geo.store.db import sync_engine, with_database
from geo.store.migrate import create_database, drop_database, upgrade
from geo.store.sample import load_sample

SAMPLE_DATA = PROJECT_ROOT / "sample_data"


@pytest.fixture(scope="session", autouse=True)
def catalog() -> None:
    """Veta's collections, registered as the app and the command line register them: tests
    that build queries from the registry directly need them too."""
    register_catalog()


def _server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    return LocalCluster(PROJECT_ROOT / ".veta").start()


@pytest.fixture(scope="session")
def db_url(worker_id: str) -> str:
    """A new database, migrated, with the León sample loaded; dropped after the run."""
    url = with_database(_server_url(), f"veta_test_{worker_id}_{uuid.uuid4().hex[:8]}")
    create_database(url)
    try:
        upgrade(url)
        engine = sync_engine(url)
        load_sample(engine)
        engine.dispose()
        yield url
    finally:
        drop_database(url)


@pytest.fixture(scope="session")
def engine(db_url):
    """A synchronous SQLAlchemy engine on the test database, for independent checks."""
    eng = sync_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def remove_test_records(engine):
    """For modules whose sources all start with 't-' (used with `pytest.mark.usefixtures`): the
    records go when the module ends, so that other test files on this worker's database (the
    map, the OGC API) see only the sample."""
    yield
    with engine.begin() as conn:
        for table in ("deposits", "protection_zones", "permits", "admin_areas"):
            conn.execute(text(f"DELETE FROM {table} WHERE source LIKE 't-%'"))


@pytest.fixture(scope="session")
def settings(db_url) -> Settings:
    return Settings(database_url=db_url, state_dir=PROJECT_ROOT / ".veta")


@pytest.fixture(scope="session")
def client(settings):
    """An in-process HTTP client on the app (lifespan run, so the pool exists)."""
    with TestClient(create_app(settings)) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(db_url) -> str:
    """A real uvicorn process serving the test database, for GDAL, OWSLib and browsers."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": db_url}
    veta = Path(sys.executable).parent / "veta"
    # The server's log goes to a file: an unread pipe fills up and then blocks the server.
    log = tempfile.NamedTemporaryFile(prefix="veta-live-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [str(veta), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None:
            raise RuntimeError(Path(log.name).read_text())
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)
    log.close()
    Path(log.name).unlink()


@pytest.fixture
def cli(db_url, monkeypatch):
    """Run `veta …` against the test database; returns (exit code, output)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("VETA_LANG", "en")  # outputs are read in English, whatever the locale
    get_settings.cache_clear()

    def run(*args):
        result = CliRunner().invoke(veta_app, [str(a) for a in args])
        return result.exit_code, result.output

    yield run
    get_settings.cache_clear()
