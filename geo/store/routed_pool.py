"""The request pool over a primary and its streaming replicas: each request's server, chosen here.

The HTTP layer marks each request read-only or not (REQUEST_ROUTE, from its method); routes
only ever say `pool.acquire()`. What goes where:

- a request that may write (POST, PUT, PATCH, DELETE: edits, imports, kept screening reports)
  and anything outside a request (start-up, commands) uses the primary;
- a read-only request uses one replica for all its connections (its count and its page come
  from the same state of the data): the least busy of those reachable and no further behind
  than VETA_REPLICA_MAX_LAG_S, else the primary;
- a read-only request from someone who may write (an editor, registry or admin credential)
  sees every write committed before it began — their own included, whichever process served
  them: it asks the primary for its WAL position and uses a replica only if that replica has
  replayed up to it, else the primary;
- a lookup by a key a recent write may have made (an API key, a kept report's id) that a
  replica does not find is asked again of the primary (`lookup`), so a replica's lag never
  answers "unknown" for what the primary holds.

A replica that cannot be reached is left aside at once, the request then served by another
replica or the primary within the connect timeout; the watch (geo/store/replicas.py) brings it
back when it answers.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from geo.core.settings import Settings
from geo.store.ahead import AHEAD, Acquiring, AheadSlot
from geo.store.models import ROLES
from geo.store.replicas import PRIMARY_POSITION_SQL, Replica, ReplicaWatch
from geo.store.timed_pool import DatabaseUnavailable, TimedPool
from geo.store.viewer import VIEWER

if TYPE_CHECKING:
    import asyncpg

    from geo.store.timed_pool import _Acquired

# Methods that change nothing; any other may write.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Who may write, and so must read their own writes (every role but reader).
WRITING_ROLES = frozenset(role for role in ROLES if role != "reader")
_CAUGHT_UP_SQL = "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn"


@dataclass
class Route:
    """What the HTTP layer says of a request, and the server the pool chose for it."""

    read_only: bool
    # The server chosen (a Replica or the primary TimedPool), shared by the request's tasks.
    choice: asyncio.Future | None = field(default=None, repr=False)
    # Whether the choice holds every write committed before the request began.
    current: bool = False


# The current request's route (set per request by the HTTP layer); None: use the primary.
REQUEST_ROUTE: ContextVar[Route | None] = ContextVar("veta_request_route", default=None)


def route_for(method: str) -> Route:
    return Route(read_only=method.upper() in SAFE_METHODS)


class RoutedPool:
    """The primary's pool and the replicas' pools, handing out connections as TimedPool does."""

    def __init__(
        self,
        primary: TimedPool,
        replicas: list[Replica],
        watch: ReplicaWatch | None,
        settings: Settings,
    ) -> None:
        self.primary = primary
        self.replicas = replicas
        self.max_lag_s = settings.replica_max_lag_s
        self._watch = watch
        self._watching = asyncio.create_task(watch.run()) if watch else None
        self._turn = 0

    @property
    def members(self) -> list[TimedPool]:
        """Every server's pool, the primary's first."""
        return [self.primary, *(replica.pool for replica in self.replicas)]

    def acquire(
        self, as_viewer: bool = True, keeps_session: bool = False, on_primary: bool = False
    ) -> Acquiring:
        """A connection for the current request (see the module's docstring for which server);
        `as_viewer` and `keeps_session` as TimedPool.acquire; `on_primary` forces the primary.
        The request's connection opened ahead, if any, goes to its first use as the viewer, or
        to a use that would otherwise wait for a connection (geo/store/ahead.py)."""
        acquiring = _RoutedAcquired(self, as_viewer, keeps_session, on_primary)
        ahead = AHEAD.get()
        if ahead is None or ahead.owner is not self or on_primary:
            return acquiring
        if as_viewer or not self._free_now():
            return ahead.take() or acquiring
        return acquiring

    def open_ahead(self, slot: AheadSlot) -> None:
        """Begin opening the current request's connection as the viewer, into `slot`."""
        slot.open(self, _RoutedAcquired(self, True, False, False))

    def _free_now(self) -> bool:
        """Whether a use of the current request would get a connection without waiting."""
        route = REQUEST_ROUTE.get()
        if route is not None and route.read_only and self.replicas:
            if route.choice is None or not route.choice.done():
                return False  # its server is not chosen yet, and choosing may wait
        return all(pool.free_now for pool in self.members)

    async def lookup(self, sql: str, *args, as_viewer: bool = False) -> asyncpg.Record | None:
        """The row of a lookup by key (a statement that changes nothing in the session), asked
        again of the primary when a replica found none (or a NULL first column); `as_viewer`
        for rows under row-level security."""
        async with self.acquire(as_viewer, keeps_session=True) as conn:
            row = await conn.fetchrow(sql, *args)
        if (row is None or row[0] is None) and self._on_replica():
            async with self.acquire(as_viewer, keeps_session=True, on_primary=True) as conn:
                row = await conn.fetchrow(sql, *args)
        return row

    def _on_replica(self) -> bool:
        route = REQUEST_ROUTE.get()
        if route is None or route.choice is None or not route.choice.done():
            return False
        return not route.choice.cancelled() and isinstance(route.choice.result(), Replica)

    def route(self, route: Route | None) -> asyncio.Future | None:
        """The request's choice of server; None: the primary, without asking anything."""
        if route is None or not route.read_only or not self.replicas:
            return None
        current = VIEWER.get().role in WRITING_ROLES
        if route.choice is None or (current and not route.current):
            # Made once per request and shared by its concurrent tasks (the count beside the page).
            usable = self._usable()
            if current and usable:
                route.choice = asyncio.ensure_future(self._caught_up(usable))
            else:
                route.choice = _settled(usable[0] if usable else self.primary)
            route.current = current
        return route.choice

    def _usable(self) -> list[Replica]:
        """The replicas reachable and not too far behind, least busy first, taking turns
        among equals."""
        self._turn += 1
        count, turn = len(self.replicas), self._turn
        ranked = sorted(
            enumerate(self.replicas), key=lambda item: (item[1].pool.busy, (item[0] - turn) % count)
        )
        return [replica for _, replica in ranked if replica.usable(self.max_lag_s)]

    async def _caught_up(self, usable: list[Replica]) -> Replica | TimedPool:
        """The first of `usable` to have replayed the primary's present WAL position; else the
        primary."""
        async with self.primary.acquire(as_viewer=False) as conn:
            position = await conn.fetchval(PRIMARY_POSITION_SQL)
        for replica in usable:
            try:
                async with replica.pool.acquire(as_viewer=False) as conn:
                    if await conn.fetchval(_CAUGHT_UP_SQL, position):
                        return replica
            except DatabaseUnavailable as exc:
                replica.mark_down(str(exc))
        return self.primary

    async def close(self) -> None:
        if self._watching is not None:
            self._watching.cancel()
        if self._watch is not None:
            await self._watch.close()
        for pool in self.members:
            await pool.close()


class _RoutedAcquired:
    """`async with pool.acquire() as conn` on the request's server; when a replica cannot be
    reached, it is left aside and the request goes to another (in the end, the primary)."""

    def __init__(
        self, owner: RoutedPool, as_viewer: bool, keeps_session: bool, on_primary: bool
    ) -> None:
        self.owner = owner
        self.as_viewer = as_viewer
        self.keeps_session = keeps_session
        self.on_primary = on_primary
        self.acquired: _Acquired | None = None
        self.replica: Replica | None = None

    async def __aenter__(self) -> asyncpg.Connection:
        owner = self.owner
        route = REQUEST_ROUTE.get()
        choice = None if self.on_primary else owner.route(route)
        server = owner.primary if choice is None else await asyncio.shield(choice)
        if isinstance(server, Replica):
            acquired = server.pool.acquire(self.as_viewer, self.keeps_session)
            try:
                conn = await acquired.__aenter__()
            except DatabaseUnavailable as exc:
                server.mark_down(str(exc))
                if route is not None and route.choice is choice:
                    # Another replica, chosen as the first was (a request that must be current
                    # goes to the primary rather than check again).
                    route.choice = _settled(owner.primary) if route.current else None
                return await self.__aenter__()
            else:
                self.acquired, self.replica = acquired, server
                return conn
        self.acquired = owner.primary.acquire(self.as_viewer, self.keeps_session)
        return await self.acquired.__aenter__()

    async def __aexit__(self, kind, exc, tb) -> None:
        if self.acquired is None:
            return
        acquired, self.acquired = self.acquired, None
        try:
            await acquired.__aexit__(kind, exc, tb)
        except DatabaseUnavailable as lost:
            if self.replica is not None:
                self.replica.mark_down(str(lost))
            raise


def _settled(server: Replica | TimedPool) -> asyncio.Future:
    done = asyncio.get_running_loop().create_future()
    done.set_result(server)
    return done
