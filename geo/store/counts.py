"""Exact counts remembered until the data changes: `numberMatched` without recounting every page."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import TYPE_CHECKING

from geo.core.sql import SqlQuery
from geo.store.data_state import data_state, value_and_state
from geo.store.timed_pool import TimedPool
from geo.store.viewer import VIEWER

if TYPE_CHECKING:
    from geo.store.routed_pool import RoutedPool


class CountCache:
    """The most recently used exact counts, by statement, bound values, day, the versions of
    the tables in `SqlQuery.tables` and who asks (row-level security shows each organisation
    its own confidential records, so each audience has its own counts). A write to any of those tables bumps its counter in the
    writing transaction, so a count is never served for data it was not made from: requests that
    see the new counter miss and count again. Size 0 counts every time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._counts: OrderedDict[tuple, int] = OrderedDict()
        self.hits = self.misses = 0  # read by /metrics

    async def count(self, pool: TimedPool | RoutedPool, query: SqlQuery) -> int:
        if not self.size or not query.tables:
            return await _count(pool, query)
        # The change counters are nobody's secret: read without the viewer's transaction, and
        # the read changes nothing in the session (no reset on release).
        async with pool.acquire(as_viewer=False, keeps_session=True) as conn:
            state = await data_state(conn, query.tables)
        if state is None:
            return await _count(pool, query)
        # A digest: the values may hold lists, which do not hash, and outlines, which are big.
        statement = hashlib.blake2b(
            repr((query.text, query.values)).encode(), digest_size=16
        ).digest()
        key = (statement, VIEWER.get().audience, *state)
        if key in self._counts:
            self.hits += 1
            self._counts.move_to_end(key)
            return self._counts[key]
        self.misses += 1
        async with pool.acquire() as conn:
            # The counters the count's own snapshot saw, in its round trip: the count is kept
            # under them, never under `state` read before it, which a write (or a replica
            # replaying one) between the two statements would have made stale.
            matched, counted_state = await value_and_state(conn, query)
        if counted_state is None:
            return matched
        key = (statement, VIEWER.get().audience, *counted_state)
        self._counts[key] = matched
        if len(self._counts) > self.size:
            self._counts.popitem(last=False)
        return matched


async def _count(pool: TimedPool | RoutedPool, query: SqlQuery) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval(query.text, *query.values)


# For callers without a cache of their own: counts every time.
UNCACHED = CountCache(0)
