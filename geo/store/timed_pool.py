"""The request pool: a statement timeout per kind of request and a bounded wait for the database.

Every connection a request takes comes through TimedPool.acquire, which sets the request
kind's statement_timeout for the session; asyncpg's release runs RESET ALL, so the next user
starts from the pool's default (the `read` kind's). For a request with a credential it also
opens the transaction its work runs in and tells PostgreSQL who is asking (geo/store/viewer.py):
row-level security then shows that organisation's confidential records too, and the settings
end with the transaction, before the connection goes back to the pool. Behind PgBouncer in
transaction mode every use is one transaction instead, and the timeout one of its SET LOCALs
(geo/store/pooler.py).

A statement cut short and a database that cannot be reached both surface as DatabaseBusy /
DatabaseUnavailable, answered 503 with Retry-After. The pool reconnects by itself once the database is back.
"""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING

from geo.core.errors import VetaError
from geo.core.settings import Settings
from geo.store.db import SESSION_SETTINGS
from geo.store.pooler import behind_pooler, transaction_start_sql
from geo.store.viewer import SETTINGS_SQL, VIEWER

if TYPE_CHECKING:
    import asyncpg

KINDS = ("read", "screening", "batch", "export")
# Which kind of request the current task serves (set per request by the HTTP layer).
REQUEST_KIND: ContextVar[str] = ContextVar("veta_request_kind", default="read")


class DatabaseBusy(VetaError):
    """A statement ran past its kind's statement timeout."""

    status = 503
    title = "Service unavailable"
    slug = "statement-timeout"


class DatabaseUnavailable(VetaError):
    """The database cannot be reached (stopped, restarting, or the network is down)."""

    status = 503
    title = "Service unavailable"
    slug = "database-unavailable"


def statement_timeouts(settings: Settings) -> dict[str, float]:
    """Seconds per request kind, from VETA_STATEMENT_TIMEOUT_<KIND>_S."""
    return {kind: getattr(settings, f"statement_timeout_{kind}_s") for kind in KINDS}


def connection_lost_errors() -> tuple[type[BaseException], ...]:
    """What asyncpg raises when the server is gone or going (driver imported only here)."""
    import asyncpg

    return (
        OSError,
        asyncio.TimeoutError,
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
        asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError,
    )


def _interface_error() -> type[BaseException]:
    import asyncpg

    return asyncpg.InterfaceError


class _Acquired:
    """`async with pool.acquire() as conn`, with the kind's timeout and errors translated."""

    def __init__(self, owner: TimedPool, as_viewer: bool):
        self.owner = owner
        self.as_viewer = as_viewer
        self.conn: asyncpg.Connection | None = None
        self.transaction: asyncpg.transaction.Transaction | None = None
        self.since = 0.0

    async def __aenter__(self) -> asyncpg.Connection:
        owner = self.owner
        try:
            owner.waiting += 1
            try:
                self.conn = await owner.pool.acquire()
            finally:
                owner.waiting -= 1
            self.since = time.perf_counter()
            if owner.transaction_start is not None:
                await self._begin_behind_pooler(self.conn, owner.transaction_start)
            else:
                await self._begin(self.conn)
        except owner.lost as exc:
            await self._release()
            raise DatabaseUnavailable(
                f"the database cannot be reached ({exc or type(exc).__name__})"
            ) from exc
        except BaseException:
            # Cancelled (the client hung up) or refused while starting: the connection goes
            # back now (its transaction rolled back by the release), not never.
            self.transaction = None
            await self._release()
            raise
        return self.conn

    async def __aexit__(self, kind, exc, tb) -> None:
        lost = isinstance(exc, self.owner.lost) and (
            self._closed() or not isinstance(exc, _interface_error())
        )
        try:
            await self._end_transaction(failed=exc is not None or lost)
        finally:
            await self._release()
        if isinstance(exc, self.owner.canceled):
            raise DatabaseBusy(
                f"the request took longer than its {self.owner.timeouts[REQUEST_KIND.get()]:g} s "
                "limit; retry later or ask for less (a smaller area, a simpler filter)"
            ) from exc
        if lost:
            raise DatabaseUnavailable(f"the database connection was lost ({exc})") from exc

    async def _begin(self, conn: asyncpg.Connection) -> None:
        """On a direct connection: the kind's timeout for the session (unless it is the
        default), and for a viewer with a credential, their transaction."""
        timeout = self.owner.timeouts[REQUEST_KIND.get()]
        if timeout != self.owner.timeouts["read"]:
            await conn.execute(f"SET statement_timeout = {int(timeout * 1000):d}")
        viewer = VIEWER.get()
        if self.as_viewer and not viewer.anonymous:
            self.transaction = conn.transaction()
            await self.transaction.start()
            await conn.execute(SETTINGS_SQL, *viewer.settings())

    async def _begin_behind_pooler(
        self, conn: asyncpg.Connection, start_by_kind: dict[str, str]
    ) -> None:
        """Behind PgBouncer in transaction mode (geo/store/pooler.py): every use is one
        transaction, starting with the session's settings and the kind's timeout as SET LOCAL
        (one round trip), then the viewer's, all ending with it."""
        self.transaction = conn.transaction()
        await self.transaction.start()
        await conn.execute(start_by_kind[REQUEST_KIND.get()])
        viewer = VIEWER.get()
        if self.as_viewer and not viewer.anonymous:
            await conn.execute(SETTINGS_SQL, *viewer.settings())

    def _closed(self) -> bool:
        """Whether the connection is gone: closed, or already taken back by asyncpg's pool
        (which it does when the server drops the connection mid-statement)."""
        if self.conn is None:
            return True
        try:
            return self.conn.is_closed()
        except _interface_error():
            return True

    async def _end_transaction(self, failed: bool) -> None:
        """Commit the viewer's transaction (roll it back after a failure); a connection that
        is gone has ended it already."""
        transaction, self.transaction = self.transaction, None
        if transaction is None or self._closed():
            return
        try:
            if failed:
                await transaction.rollback()
            else:
                await transaction.commit()
        except self.owner.lost:
            pass

    async def _release(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            self.owner.held_seconds += time.perf_counter() - self.since
            try:
                await self.owner.pool.release(conn)
            except self.owner.lost:
                pass  # asyncpg has terminated the broken connection; the pool opens a new one


class TimedPool:
    """An asyncpg pool whose connections carry the statement timeout of the request's kind."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings):
        import asyncpg

        self.pool = pool
        self.timeouts = statement_timeouts(settings)
        self.lost = connection_lost_errors()
        self.canceled = asyncpg.QueryCanceledError
        # Behind PgBouncer in transaction mode: per kind, what each use's transaction starts
        # with; None on a direct connection (geo/store/pooler.py).
        self.transaction_start = (
            {
                kind: transaction_start_sql(SESSION_SETTINGS, timeout)
                for kind, timeout in self.timeouts.items()
            }
            if behind_pooler(settings)
            else None
        )
        # Read by /metrics: requests waiting for a connection now, and seconds connections were held.
        self.waiting = 0
        self.held_seconds = 0.0

    def acquire(self, as_viewer: bool = True) -> _Acquired:
        """A connection for the request; `as_viewer=False` for statements that read no table
        under row-level security (the change counters), which then skip telling PostgreSQL
        who asks (three round trips for a request with a credential; behind PgBouncer one)."""
        return _Acquired(self, as_viewer)

    async def close(self) -> None:
        await self.pool.close()


def pool_settings(settings: Settings) -> dict[str, str]:
    """Session settings every pooled connection starts with (and returns to on release)."""
    return {"statement_timeout": str(int(settings.statement_timeout_read_s * 1000))}
