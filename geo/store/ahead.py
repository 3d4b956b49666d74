"""A credentialed read's viewer connection, opened while the request's parameters are checked.

A request with a credential reads in the viewer's transaction (geo/store/timed_pool.py), whose
first round trip — BEGIN READ ONLY, the viewer's settings and the confirmation of a key
remembered from an earlier request — an anonymous request does not make. Before its first
statement a list or tile request spends 0.6–1.4 ms validating parameters and writing SQL
(benchmarks/viewer_lead.py), so those routes open that connection first (api/auth.py
open_viewer_connection) and find it ready: the database works on the round trip while Python
works on the request.

What keeps it sound:
- Only routes whose work is reading through the request pool open one; the HTTP layer holds a
  slot for it per credentialed read and ends what is in it with the request.
- The request's first use that reads as the viewer takes it, and it ends with that use as any
  use's connection does (its COMMIT beside the answer). A use that needs no viewer (an area's
  lookup, the change counters) takes it only when the pool has no connection free this moment:
  a request never waits for a connection while it holds one, so requests holding one each
  cannot deadlock a full pool.
- A remembered key the database refuses fails the opening; the use that takes it raises that
  refusal, and if nothing took it the HTTP layer refuses the answer (api/auth.py).
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any, Protocol


class Acquiring(Protocol):
    """`async with pool.acquire() as conn`, as the request pools make it."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, kind, exc, tb) -> None: ...


class AheadSlot:
    """A request's place for one connection opened ahead: empty until a route opens it."""

    def __init__(self) -> None:
        # The pool it comes from: only that pool's uses may take it.
        self.owner: object | None = None
        self._acquiring: Acquiring | None = None
        self._opening: asyncio.Future | None = None
        self._taken = False

    def open(self, owner: object, acquiring: Acquiring) -> None:
        """Begin the acquisition now, as a task (once per request)."""
        if self._opening is None:
            self.owner, self._acquiring = owner, acquiring
            self._opening = asyncio.ensure_future(acquiring.__aenter__())

    def take(self) -> Acquiring | None:
        """The connection for the caller's `async with`, unless there is none or it is taken."""
        if self._opening is None or self._taken:
            return None
        self._taken = True
        return _Taken(self)

    async def settled(self) -> None:
        """Wait until the opening has succeeded or failed (the failure is its taker's to raise)."""
        if self._opening is not None:
            await asyncio.wait([self._opening])

    async def close(self) -> None:
        """The request is over: end what nothing took."""
        if self._opening is None or self._taken:
            return
        self._taken = True
        await asyncio.wait([self._opening])
        if self._opening.cancelled() or self._opening.exception() is not None:
            return  # a failed opening has given its connection back
        assert self._acquiring is not None
        await self._acquiring.__aexit__(None, None, None)


class _Taken:
    def __init__(self, slot: AheadSlot):
        self.slot = slot

    async def __aenter__(self) -> Any:
        # Cancelled here, the opening is cancelled with it and gives its connection back.
        return await self.slot._opening  # type: ignore[misc]

    async def __aexit__(self, kind, exc, tb) -> None:
        assert self.slot._acquiring is not None
        await self.slot._acquiring.__aexit__(kind, exc, tb)


# The current credentialed read's slot (set by the HTTP layer); None: nothing is opened ahead.
AHEAD: ContextVar[AheadSlot | None] = ContextVar("veta_ahead", default=None)
