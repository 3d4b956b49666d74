"""Database connections: which server, the async pool for requests, sync engines for tools."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from geo.core.settings import Settings
from geo.store.cluster import LocalCluster

if TYPE_CHECKING:
    from geo.store.timed_pool import TimedPool

# Applied to every connection the service opens. PostGIS functions are costed so high that
# bbox queries trigger JIT and parallel workers, which only cost at these sizes; prepared
# statements must not switch to generic plans, which ignore the bbox selectivity.
SESSION_SETTINGS = {
    "jit": "off",
    "max_parallel_workers_per_gather": "0",
    "plan_cache_mode": "force_custom_plan",
}


def database_url(settings: Settings) -> str:
    """The libpq URL of Veta's database: DATABASE_URL, else the local cluster under .veta/."""
    if settings.database_url:
        return settings.database_url
    return LocalCluster(settings.state_dir).url()


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def sqlalchemy_url(url: str) -> str:
    """A plain libpq URL turned into SQLAlchemy's psycopg 3 form."""
    scheme, rest = url.split("://", 1)
    if "+" in scheme:
        return url
    return f"postgresql+psycopg://{rest}"


def libpq_url(url: str) -> str:
    """Any postgres URL (plain or SQLAlchemy-style) in the plain libpq form asyncpg accepts."""
    scheme, rest = url.split("://", 1)
    return f"postgresql://{rest}"


def spatial_ref_srids(url: str) -> list[int]:
    """The SRIDs PostGIS can transform to (its spatial_ref_sys), for tools outside the service."""
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT srid FROM spatial_ref_sys")).scalars())
    finally:
        engine.dispose()


def sync_engine(url: str) -> Engine:
    """A synchronous SQLAlchemy engine for migrations, loaders and the CLI."""
    return create_engine(sqlalchemy_url(url), future=True)


async def create_pool(url: str, settings: Settings) -> TimedPool:
    """The request-serving connection pool, with per-kind statement timeouts (asyncpg imported
    here: the command line never needs it, and it costs every command ~0.2 s of start-up)."""
    import asyncpg

    from geo.store.timed_pool import TimedPool, pool_settings

    pool = await asyncpg.create_pool(
        libpq_url(url),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        server_settings={**SESSION_SETTINGS, **pool_settings(settings)},
        timeout=settings.db_connect_timeout_s,
    )
    return TimedPool(pool, settings)
