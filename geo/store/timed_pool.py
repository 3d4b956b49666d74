"""The request pool: a statement timeout per kind of request and a bounded wait for the database.

Every connection a request takes comes through TimedPool.acquire, which sets the request
kind's statement_timeout for the session; the pool's reset on release runs RESET ALL, so the
next user starts from the pool's default (the `read` kind's). For a request with a credential it
also opens the transaction its work runs in and tells PostgreSQL who is asking
(geo/store/viewer.py): row-level security then shows that organisation's confidential records
too, and the settings end with the transaction, before the connection goes back to the pool.

A credential must cost next to nothing (issue 12: ≤ 1.1x the anonymous time), and on loopback
a request's time is mostly round trips, so the viewer's transaction takes two beyond the
anonymous request's: BEGIN and the settings go as one simple-protocol statement, and the COMMIT
goes with the pool's reset query, which release then skips. In a read-only request that COMMIT is
not waited for: the transaction begins READ ONLY and ends beside the answer, the connection back
in the pool only once it has (geo/store/after_answer.py). Code that wants a transaction of its
own asks `transaction(conn)`, which inside the viewer's is that one (no SAVEPOINT round trips).
A key remembered from an earlier request is confirmed in that same first round trip
(geo/store/viewer.py RememberedKey): refused there, the use raises Unauthenticated.

Behind PgBouncer in transaction mode (geo/store/pooler.py) every use is one transaction instead,
begun with the session's settings and the kind's timeout as SET LOCAL (and the viewer's), and
ended with a bare COMMIT: nothing outlives it, so nothing is reset.

A statement cut short and a database that cannot be reached both surface as DatabaseBusy /
DatabaseUnavailable, answered 503 with Retry-After. The pool reconnects by itself once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING

from geo.core.errors import KEY_NOT_VALID, Unauthenticated, VetaError
from geo.core.settings import Settings
from geo.store.after_answer import AFTER_ANSWER
from geo.store.db import SESSION_SETTINGS
from geo.store.pooler import behind_pooler, transaction_start_sql
from geo.store.viewer import VIEWER, settings_statement

if TYPE_CHECKING:
    import asyncpg

KINDS = ("read", "screening", "batch", "export")
# Which kind of request the current task serves (set per request by the HTTP layer).
REQUEST_KIND: ContextVar[str] = ContextVar("veta_request_kind", default="read")
# Set by a release whose connection was reset in the round trip of its COMMIT (or that changed
# nothing in the session): the pool's own reset then sends nothing.
_ALREADY_RESET: ContextVar[bool] = ContextVar("veta_already_reset", default=False)


class DatabaseBusy(VetaError, status=503, title="Service unavailable", slug="statement-timeout"):
    """A statement ran past its kind's statement timeout."""


class DatabaseUnavailable(
    VetaError, status=503, title="Service unavailable", slug="database-unavailable"
):
    """The database cannot be reached (stopped, restarting, or the network is down)."""


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

    def __init__(self, owner: TimedPool, as_viewer: bool, keeps_session: bool = False):
        self.owner = owner
        self.as_viewer = as_viewer
        self.keeps_session = keeps_session
        self.conn: asyncpg.Connection | None = None
        # Whether a transaction is open: the viewer's, or behind PgBouncer every use's (begun
        # by __aenter__, ended by __aexit__).
        self.in_transaction = False
        # Whether the session needs no reset on release (done with the COMMIT, or never changed).
        self.reset_done = False
        self.since = 0.0

    async def __aenter__(self) -> asyncpg.Connection:
        owner = self.owner
        # A key remembered from an earlier request, confirmed by this use's first statements.
        key = VIEWER.get().remembered_key if self._reads_as_viewer() else None
        try:
            owner.waiting += 1
            try:
                self.conn = await owner.pool.acquire()
            finally:
                owner.waiting -= 1
            owner.acquired += 1
            self.since = time.perf_counter()
            first, self.in_transaction = self._first_statements()
            if first:
                await self.conn.execute("; ".join(first))
            if key is not None:
                key.confirmed = True
            self.reset_done = self.keeps_session and not first
        except owner.key_refused as exc:
            await self._release()
            if key is not None:
                key.refused = True
            raise Unauthenticated(KEY_NOT_VALID) from exc
        except owner.lost as exc:
            await self._release()
            raise DatabaseUnavailable(
                f"the database cannot be reached ({exc or type(exc).__name__})"
            ) from exc
        except BaseException:
            await self._release()
            raise
        return self.conn

    async def __aexit__(self, kind, exc, tb) -> None:
        after_answer = AFTER_ANSWER.get()
        if (
            exc is None
            and self.in_transaction
            and after_answer is not None
            and after_answer.defer(self._end_after_answer)
        ):
            return
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
        if isinstance(exc, self.owner.recovery_conflict):
            # A standby cancels a query whose rows the primary's changes remove (PostgreSQL's
            # max_standby_streaming_delay): a retry reads the new rows.
            raise DatabaseBusy(
                f"the replica had to apply the primary's changes ({exc}); retry"
            ) from exc
        if lost:
            raise DatabaseUnavailable(f"the database connection was lost ({exc})") from exc

    def _first_statements(self) -> tuple[list[str], bool]:
        """What the connection needs before the request's statements (sent as one round
        trip), and whether they open a transaction."""
        owner, viewer = self.owner, VIEWER.get()
        as_viewer = self._reads_as_viewer()
        # A transaction that may end after the answer writes nothing (geo/store/after_answer.py).
        read_only = AFTER_ANSWER.get() is not None
        begin = "BEGIN READ ONLY" if read_only else "BEGIN"
        if owner.transaction_start is not None:
            first = [begin, owner.transaction_start[REQUEST_KIND.get()]]
            return first + ([settings_statement(viewer, read_only)] if as_viewer else []), True
        first = []
        timeout = owner.timeouts[REQUEST_KIND.get()]
        if timeout != owner.timeouts["read"]:
            first.append(f"SET statement_timeout = {int(timeout * 1000):d}")
        if as_viewer:
            first += [begin, settings_statement(viewer, read_only)]
        return first, as_viewer

    def _reads_as_viewer(self) -> bool:
        """Whether this use tells PostgreSQL who asks (and so confirms a remembered key)."""
        return self.as_viewer and not VIEWER.get().anonymous

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
        """Commit the transaction (roll it back after a failure) and reset the session in the
        same round trip; a connection that is gone has ended it already."""
        if not self.in_transaction:
            return
        self.in_transaction = False
        conn = self.conn
        if conn is None or self._closed():
            return
        try:
            end = "ROLLBACK" if failed else "COMMIT"
            reset = "" if self.owner.transaction_start is not None else conn.get_reset_query()
            await conn.execute(f"{end}; {reset}" if reset else end)
        except self.owner.lost:
            return
        self.reset_done = True

    async def _end_after_answer(self) -> None:
        """The use's end, which the request's answer does not wait for: COMMIT with the
        reset, then the connection back to the pool, whatever the COMMIT did."""
        try:
            await self._end_transaction(failed=False)
        finally:
            await self._release()

    async def _release(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            self.owner.held_seconds += time.perf_counter() - self.since
            token = _ALREADY_RESET.set(self.reset_done)
            try:
                await self.owner.pool.release(conn)
            except self.owner.lost:
                pass  # asyncpg has terminated the broken connection; the pool opens a new one
            finally:
                _ALREADY_RESET.reset(token)


class TimedPool:
    """An asyncpg pool on one server whose connections carry the statement timeout of the
    request's kind; `role` is primary or replica, `server` its host, port and database."""

    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, role: str = "primary", server: str = ""
    ):
        import asyncpg

        self.pool = pool
        self.role = role
        self.server = server
        self.timeouts = statement_timeouts(settings)
        self.lost = connection_lost_errors()
        self.canceled = asyncpg.QueryCanceledError
        # veta_confirm_api_key's refusal of a remembered key (SQLSTATE 28000, migration 0015).
        self.key_refused = asyncpg.InvalidAuthorizationSpecificationError
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
        # Only a standby cancels statements in conflict with recovery (SQLSTATE 40001).
        self.recovery_conflict: tuple[type[BaseException], ...] = (
            (asyncpg.SerializationError,) if role == "replica" else ()
        )
        # Read by /metrics: requests waiting for a connection now, connections handed out, and
        # seconds connections were held.
        self.waiting = 0
        self.acquired = 0
        self.held_seconds = 0.0

    @property
    def free_now(self) -> bool:
        """Whether an acquisition would get a connection now, without waiting for a use to end."""
        return self.busy < self.pool.get_max_size()

    @property
    def busy(self) -> int:
        """Connections in use and requests waiting for one: how loaded this server is."""
        return self.pool.get_size() - self.pool.get_idle_size() + self.waiting

    def acquire(self, as_viewer: bool = True, keeps_session: bool = False) -> _Acquired:
        """A connection for the request; `as_viewer=False` for statements that read no table
        under row-level security (the change counters), which then skip telling PostgreSQL
        who asks (two round trips for a request with a credential); `keeps_session` when the
        caller's statements change nothing in the session, so that release sends no reset."""
        return _Acquired(self, as_viewer, keeps_session)

    async def lookup(self, sql: str, *args, as_viewer: bool = False):
        """The row of a statement that changes nothing in the session (a credential check):
        one round trip in all, for an anonymous viewer or with `as_viewer=False`."""
        async with self.acquire(as_viewer, keeps_session=True) as conn:
            return await conn.fetchrow(sql, *args)

    async def close(self) -> None:
        await self.pool.close()


def transaction(conn: asyncpg.Connection, readonly: bool = False):
    """A transaction for a block of statements: inside the viewer's transaction that one (it
    commits or rolls back with the request's connection, as one unit), else a new one."""
    if conn.is_in_transaction():
        return contextlib.nullcontext()
    return conn.transaction(readonly=readonly)


async def reset_on_release(conn: asyncpg.Connection) -> None:
    """The pool's reset of a released connection (asyncpg has rolled back any open
    transaction): the session's reset query, unless the release says it was done already."""
    if not _ALREADY_RESET.get():
        await conn.execute(conn.get_reset_query())


def pool_settings(settings: Settings) -> dict[str, str]:
    """Session settings every pooled connection starts with (and returns to on release)."""
    return {"statement_timeout": str(int(settings.statement_timeout_read_s * 1000))}
