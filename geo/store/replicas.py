"""Streaming replicas as one process sees them: reachable or not, and how far behind the primary.

Each process checks every replica each VETA_REPLICA_CHECK_S, on a connection of its own (so a
pool full of requests never reads as a replica down): is it in recovery, and up to which WAL
position has it replayed. The primary's WAL insert position is sampled in the same round; a
replica's lag is the time since the primary first had WAL the replica has not replayed (0 when
it has replayed everything the primary had at the last sample), so an idle primary never makes
an idle replica look behind. A replica a request could not reach is marked down at once; the
next check that reaches it brings it back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from geo.core.settings import Settings
from geo.store.timed_pool import TimedPool, connection_lost_errors

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger("veta")

# NULL on a server not in recovery: a primary, or a replica promoted since.
_REPLAYED_SQL = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()"
# The insert position, not the flushed one: with synchronous_commit off a commit the client has
# seen may not be flushed yet, and it must count as written.
PRIMARY_POSITION_SQL = "SELECT pg_current_wal_insert_lsn()"


class Replica:
    """A replica's pool and what was last found about it."""

    def __init__(self, pool: TimedPool, url: str) -> None:
        self.pool = pool
        self.url = url
        self.up = True  # until a check or a request finds otherwise
        self.replayed: int | None = None  # WAL position replayed, at the last check
        self.lag_s: float | None = None  # None: not measured yet

    def usable(self, max_lag_s: float) -> bool:
        return self.up and (self.lag_s is None or self.lag_s <= max_lag_s)

    def mark_down(self, reason: str) -> None:
        if self.up:
            log.warning("replica %s left aside: %s", self.pool.server, reason)
        self.up = False


class ReplicaWatch:
    """The background check of one process's replicas."""

    def __init__(self, primary_url: str, replicas: list[Replica], settings: Settings) -> None:
        self.primary_url = primary_url
        self.replicas = replicas
        self.every_s = settings.replica_check_s
        self.timeout_s = settings.db_connect_timeout_s
        self.lost = connection_lost_errors()
        # (monotonic time, the primary's WAL insert position), oldest first; long enough to tell
        # a lag past the limit from one just under it.
        window = settings.replica_max_lag_s + 2 * self.every_s
        self._samples: deque[tuple[float, int]] = deque(maxlen=int(window / self.every_s) + 2)
        self._connections: dict[str, asyncpg.Connection] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - a watch that stopped would never bring a replica back
                log.exception("checking the replicas failed; checking again")

    async def check(self) -> None:
        """One round: the primary's position, then each replica's."""
        position = await self._fetch(self.primary_url, PRIMARY_POSITION_SQL)
        if position is not None:
            self._samples.append((time.monotonic(), position[0]))
        for replica in self.replicas:
            row = await self._fetch(replica.url, _REPLAYED_SQL)
            if row is None:
                replica.mark_down("not reachable")
            elif not row[0]:
                replica.mark_down("not in recovery: a primary, not a streaming replica")
            else:
                if not replica.up:
                    log.warning("replica %s back in use", replica.pool.server)
                replica.up, replica.replayed = True, row[1]
                replica.lag_s = self.behind(row[1], time.monotonic())

    def behind(self, replayed: int, now: float) -> float:
        """Seconds since the primary first had WAL beyond `replayed` (0: none, as last sampled)."""
        for sampled_at, position in self._samples:
            if position > replayed:
                return now - sampled_at
        return 0.0

    async def _fetch(self, url: str, sql: str) -> asyncpg.Record | None:
        """A row from the server at `url` on the watch's own connection; None when it cannot
        be reached within the connect timeout."""
        import asyncpg

        try:
            async with asyncio.timeout(self.timeout_s):
                conn = self._connections.get(url)
                if conn is None or conn.is_closed():
                    conn = self._connections[url] = await asyncpg.connect(url)
                return await conn.fetchrow(sql)
        except (*self.lost, asyncpg.PostgresError):
            stale = self._connections.pop(url, None)
            if stale is not None:
                stale.terminate()
            return None

    async def close(self) -> None:
        for conn in self._connections.values():
            conn.terminate()
        self._connections.clear()
