"""A read's transactions ended beside its answer: the client does not wait for their COMMIT.

A request with a credential reads in the viewer's transaction (geo/store/timed_pool.py), which
ends with a COMMIT and the session's reset: a round trip the anonymous request does not make, on
a 4–7 ms answer about 0.12 ms. For a read-only request (GET, HEAD; the HTTP layer says so by
opening AFTER_ANSWER) the pool starts that end as a task of its own when the use is over and
goes on: the COMMIT is sent at the request's next pause — for an answer made in one piece, once
the server has been handed its last byte — and nothing before the answer waits for its reply.
The HTTP layer waits for every such end before it lets the request go. What makes it sound:

- The connection goes back to the pool only after its COMMIT and reset: nobody else ever sees
  the viewer's settings, the transaction or anything of the session.
- Such a transaction begins READ ONLY: its COMMIT has nothing to lose, so an answer sent before
  it can never claim a write that then fails.
- A use that failed is rolled back there and then, as before; only a use that ended cleanly
  ends beside the answer.
- The end runs at once, not at the answer: the request never keeps a connection while it does
  other work (waits for another connection, behind PgBouncer for a server connection, runs an
  export in a thread), so a one-connection pool cannot deadlock on itself.
- The ends are shielded from the request's cancellation, each releases its connection whatever
  its COMMIT did (asyncpg's pool rolls back and resets, or closes, a connection it gets back
  unclean), and a use that ends after the request's own end ends at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

log = logging.getLogger(__name__)


class AfterAnswer:
    """The ends of one read-only request's transactions that its answer does not wait for."""

    def __init__(self) -> None:
        self._ending: set[asyncio.Future] = set()
        self._closed = False

    def defer(self, end: Callable[[], Awaitable[None]]) -> bool:
        """Start `end` beside the request; False (the caller ends at once) once the request
        has ended."""
        if self._closed:
            return False
        self._ending.add(asyncio.ensure_future(end()))
        return True

    async def close(self) -> None:
        """The request is over: wait for what is ending, and end anything later at once."""
        self._closed = True
        if not self._ending:
            return
        done = asyncio.gather(*self._ending, return_exceptions=True)
        for result in await asyncio.shield(done):
            if isinstance(result, BaseException):
                # The answer is out: nothing to tell the client; the connection was released.
                log.warning("ending a transaction beside the answer failed: %r", result)


# The current request's, for a read-only one (opened by the HTTP layer); None: end at once.
AFTER_ANSWER: ContextVar[AfterAnswer | None] = ContextVar("veta_after_answer", default=None)
