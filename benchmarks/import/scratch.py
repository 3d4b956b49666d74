"""A throwaway, migrated database on the local cluster for one benchmark run."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from geo.core.settings import get_settings
from geo.store.db import database_url, with_database
from geo.store.migrate import create_database, drop_database, upgrade

# The `veta` script of the interpreter running the benchmark: it runs the code first on its
# path, so `PYTHONPATH=<checkout> <venv>/bin/python benchmarks/import/…` measures that checkout
# (a worktree has no .venv of its own).
VETA = str(Path(sys.executable).with_name("veta"))


@contextmanager
def scratch_database(name: str):
    """Yield the URL of a new migrated database; dropped afterwards."""
    url = with_database(database_url(get_settings()), f"{name}_{os.getpid()}")
    create_database(url)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(url)


def ogr_connection(url: str) -> str:
    """The same database as a GDAL PostgreSQL connection string."""
    u = make_url(url)
    return f"PG:host={u.host} port={u.port} dbname={u.database} user={u.username}"


def load_average() -> float:
    return os.getloadavg()[0]


def run(args: list[str], url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True, check=True
    )
