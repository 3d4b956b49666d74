"""`python -m benchmarks.pooler [--uses 2000] [--rounds 5] [--pgbouncer URL]`: what one use of the
request pool costs, directly and behind PgBouncer in transaction mode.

A use is what a request's `async with pool.acquire()` block does around its SQL, here with one
`SELECT 1` inside: anonymously, and for a viewer with a credential (the transaction that tells
PostgreSQL who asks). Directly, the pool is created as the service creates it
(VETA_DATABASE_POOLER=none); with --pgbouncer (a PgBouncer in transaction mode in front of the
same database, its URL for the service's role: README, "Behind PgBouncer"), as the service
creates it there. Each time is the median over the rounds of the mean microseconds per use,
the modes taking turns each round; beside it, the statements sent per use (each a round trip,
counted by asyncpg: the only figure a busy machine cannot blur). The database is DATABASE_URL's;
nothing is written.

The script imports only geo/, so the same file times another checkout's pool:
`PYTHONPATH=/other/checkout python benchmarks/pooler.py` (its direct figures only, if that
checkout has no VETA_DATABASE_POOLER).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from geo.core.settings import Settings
from geo.store.db import create_pool, service_url
from geo.store.timed_pool import TimedPool
from geo.store.viewer import ANONYMOUS, VIEWER, Viewer

# A viewer with a credential: only its settings travel, so the organisation need not exist.
MEMBER = Viewer(organisation_id=1, organisation="bench", role="reader", actor="bench")


async def _per_use(pool: TimedPool, viewer: Viewer, uses: int) -> tuple[float, float]:
    """Mean microseconds and statements sent (each a round trip) per use; the pool holds one
    connection, whose statements asyncpg's query logger counts, the reset on release included."""
    VIEWER.set(viewer)
    sent = []
    async with pool.acquire() as conn:
        conn.add_query_logger(sent.append)
    sent.clear()
    started = time.perf_counter()
    for _ in range(uses):
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
    elapsed, statements = time.perf_counter() - started, len(sent)
    async with pool.acquire() as conn:
        conn.remove_query_logger(sent.append)
    return elapsed / uses * 1e6, statements / uses


async def measure(uses: int, rounds: int, pgbouncer: str | None) -> dict[str, tuple[float, float]]:
    direct = Settings(db_pool_min=1, db_pool_max=1)
    pools = {"direct": await create_pool(service_url(direct), direct)}
    if pgbouncer:
        pooled = Settings(db_pool_min=1, db_pool_max=1, database_pooler="pgbouncer")
        pools["pgbouncer"] = await create_pool(pgbouncer, pooled)
    samples: dict[str, list[tuple[float, float]]] = {}
    try:
        for round_ in range(rounds):
            order = list(pools.items())
            order = order[round_ % len(order) :] + order[: round_ % len(order)]
            for mode, pool in order:
                for who, viewer in (("anonymous", ANONYMOUS), ("credential", MEMBER)):
                    await _per_use(pool, viewer, uses // 10)  # warm-up
                    samples.setdefault(f"{mode}, {who}", []).append(
                        await _per_use(pool, viewer, uses)
                    )
    finally:
        for pool in pools.values():
            await pool.close()
    return {
        name: (statistics.median(us for us, _ in values), max(n for _, n in values))
        for name, values in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pooler", description=__doc__)
    parser.add_argument("--uses", type=int, default=2000, help="uses per round and case")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pgbouncer", help="PgBouncer's URL for the service's role")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.uses, args.rounds, args.pgbouncer))
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.uses} uses\n")
    print("| pool use (`SELECT 1` inside) | µs per use | statements per use |\n| --- | --- | --- |")
    for name, (us, statements) in figures.items():
        print(f"| {name} | {us:.0f} | {statements:g} |")


if __name__ == "__main__":
    main()
