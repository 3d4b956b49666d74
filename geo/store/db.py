"""Database connections: which server, the async pool for requests, sync engines for tools."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import psycopg
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine

from geo.core.settings import Settings
from geo.store.cluster import LocalCluster
from geo.store.pooler import asyncpg_options, psycopg_options
from geo.store.viewer import (
    SERVICE_ROLE,
    SETTINGS_SQL_PSYCOPG,
    VIEWER,
    Viewer,
    settings_statement,
)

if TYPE_CHECKING:
    from geo.store.routed_pool import RoutedPool
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


def service_url(settings: Settings) -> str:
    """The URL the service (and anything reading for a viewer) connects with: its own role,
    never the owner's. VETA_SERVICE_DATABASE_URL, else the database URL with the user changed to
    the service role (no password: as the local cluster, which trusts loopback)."""
    if settings.service_database_url:
        return settings.service_database_url
    return with_user(database_url(settings), SERVICE_ROLE)


def with_user(url: str, user: str) -> str:
    """The same server URL connecting as another user (without the first one's password)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


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


def sync_engine(url: str, behind_pooler: bool = False) -> Engine:
    """A synchronous SQLAlchemy engine for migrations, loaders and the CLI. Every transaction
    starts by saying who works in it (the command line's viewer: the OS user, and whether it is
    an import), which the audit trail records with each write. `behind_pooler`: the URL is
    PgBouncer's in transaction mode (geo/store/pooler.py)."""
    engine = create_engine(
        sqlalchemy_url(url), future=True, connect_args=psycopg_options(behind_pooler)
    )
    event.listen(engine, "begin", _tell_viewer)
    return engine


def _tell_viewer(conn: Connection) -> None:
    conn.exec_driver_sql(SETTINGS_SQL_PSYCOPG, VIEWER.get().settings_psycopg())


@contextmanager
def viewer_connection(
    url: str, viewer: Viewer, statement_timeout_s: float | None = None
) -> Iterator[psycopg.Connection]:
    """A psycopg connection, in one transaction, reading as `viewer` may: the service's session
    settings, its role (whoever connects) and the viewer's settings, so that row-level security
    leaves out every confidential record not theirs. For tools that read many rows (exports,
    batch screening) outside the request pool. Every setting is local to the transaction:
    nothing outlives it on a server connection that PgBouncer in transaction mode lends to
    others afterwards."""
    with psycopg.connect(libpq_url(url)) as conn:
        for name, value in SESSION_SETTINGS.items():
            conn.execute(f"SET LOCAL {name} = '{value}'")
        if statement_timeout_s is not None:
            conn.execute(f"SET LOCAL statement_timeout = {int(statement_timeout_s * 1000):d}")
        conn.execute(f"SET LOCAL ROLE {SERVICE_ROLE}")
        conn.execute(SETTINGS_SQL_PSYCOPG, viewer.settings_psycopg())
        yield conn


@asynccontextmanager
async def async_viewer_connection(url: str, viewer: Viewer) -> AsyncIterator:
    """An asyncpg connection in one transaction reading as `viewer` may (as viewer_connection),
    for a command that runs the request path's async queries (`veta raster statistics`)."""
    import asyncpg

    conn = await asyncpg.connect(libpq_url(url))
    try:
        async with conn.transaction():
            for name, value in SESSION_SETTINGS.items():
                await conn.execute(f"SET LOCAL {name} = '{value}'")
            await conn.execute(f"SET LOCAL ROLE {SERVICE_ROLE}")
            await conn.execute(settings_statement(viewer))
            yield conn
    finally:
        await conn.close()


def read_urls(settings: Settings) -> list[str]:
    """The URLs the service reads from replicas with: VETA_READ_DATABASE_URLS, connecting as
    the service role as service_url does (used as given when VETA_SERVICE_DATABASE_URL is set)."""
    if settings.service_database_url:
        return list(settings.read_database_urls)
    return [with_user(url, SERVICE_ROLE) for url in settings.read_database_urls]


def server_name(url: str) -> str:
    """host:port/database of a URL: how logs and metrics name a server (no user, no password)."""
    parts = urlsplit(libpq_url(url))
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


async def create_pool(url: str, settings: Settings) -> RoutedPool:
    """The request-serving pool on the primary at `url` and the replicas of
    VETA_READ_DATABASE_URLS, with per-kind statement timeouts (asyncpg imported here: the
    command line never needs it, and it costs every command ~0.2 s of start-up)."""
    from geo.store.replicas import Replica, ReplicaWatch
    from geo.store.routed_pool import RoutedPool

    primary = await _server_pool(url, settings, "primary")
    replicas = [
        Replica(await _server_pool(read_url, settings, "replica"), libpq_url(read_url))
        for read_url in read_urls(settings)
    ]
    watch = None
    if replicas:
        watch = ReplicaWatch(libpq_url(url), replicas, settings)
        await watch.check()  # so that the first requests know which replicas answer
    return RoutedPool(primary, replicas, watch, settings)


async def _server_pool(url: str, settings: Settings, role: str) -> TimedPool:
    import asyncpg

    from geo.store.timed_pool import TimedPool, pool_settings, reset_on_release

    # Behind PgBouncer, the pooler's options replace the session settings and the reset.
    options = {
        "reset": reset_on_release,
        **asyncpg_options(settings, {**SESSION_SETTINGS, **pool_settings(settings)}),
    }
    pool = await asyncpg.create_pool(
        libpq_url(url),
        # A replica down at start-up must not stop the service: its connections open on demand.
        min_size=settings.db_pool_min if role == "primary" else 0,
        max_size=settings.db_pool_max,
        timeout=settings.db_connect_timeout_s,
        **options,
    )
    return TimedPool(pool, settings, role, server_name(url))
