"""The database's own time for a statement: timed through asyncpg, and as EXPLAIN ANALYZE reports it."""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import asyncpg

from benchmarks.load import run_wrk
from geo.core.sql import SqlQuery
from geo.store.db import SESSION_SETTINGS, libpq_url


async def _connect(url: str) -> asyncpg.Connection:
    # The same session settings as the service's pool, so both run the same plans.
    return await asyncpg.connect(libpq_url(url), server_settings=SESSION_SETTINGS)


async def _p50_ms(run, repeat: int, seconds: float) -> float:
    """Median wall time of `run()`, after two warm-up calls; three runs, then more up to
    `repeat` runs or `seconds`."""
    for _ in range(2):
        await run()
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < 3 or (len(times) < repeat and time.perf_counter() < deadline):
        start = time.perf_counter()
        await run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def _timings(url: str, page: SqlQuery, count: SqlQuery, repeat: int, seconds: float) -> dict:
    first, second = await _connect(url), await _connect(url)
    try:

        async def page_rows():
            return await first.fetch(page.text, *page.values)

        async def count_value():
            return await second.fetchval(count.text, *count.values)

        async def together():
            # As the service runs them: the count on its own connection, beside the page.
            return await asyncio.gather(page_rows(), count_value())

        return {
            "page_ms": await _p50_ms(page_rows, repeat, seconds),
            "page_explain_ms": await _explain_ms(first, page),
            "count_ms": await _p50_ms(count_value, repeat, seconds),
            "count_explain_ms": await _explain_ms(second, count),
            "together_ms": await _p50_ms(together, repeat, seconds),
            "rows": len(await page_rows()),
        }
    finally:
        await first.close()
        await second.close()


async def _explain_ms(conn: asyncpg.Connection, query: SqlQuery) -> float:
    """Planning plus execution time of the statement as the server itself reports it."""
    plan = json.loads(
        await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {query.text}", *query.values)
    )[0]
    return plan["Planning Time"] + plan["Execution Time"]


def sql_timings(
    url: str, page: SqlQuery, count: SqlQuery, repeat: int = 200, seconds: float = 1
) -> dict:
    """p50 of the page statement, the count statement and both side by side (ms; each at most
    `repeat` runs or `seconds`), with EXPLAIN ANALYZE's own figures and the number of page rows."""
    return asyncio.run(_timings(url, page, count, repeat, seconds))


def api_and_sql(
    api_url: str,
    database_url: str,
    page: SqlQuery,
    count: SqlQuery,
    rounds: int = 3,
    seconds: float = 2,
) -> dict:
    """One request at a time through the API (wrk, one connection) and the same statements run
    directly, alternating in `rounds` rounds of about `seconds` each so that both see the same
    load on a shared machine; every figure is the median of the rounds', `ratio` is API p50 over
    the SQL's own time (page and count side by side, as the service runs them)."""
    run_wrk(api_url, connections=1, seconds=1)  # warm-up
    api_rounds, sql_rounds = [], []
    for _ in range(rounds):
        api = run_wrk(api_url, connections=1, seconds=seconds)
        api_rounds.append({"api_p50_ms": api.p50_ms, "api_p99_ms": api.p99_ms})
        sql_rounds.append(
            {
                f"sql_{k}": v
                for k, v in sql_timings(database_url, page, count, seconds=seconds / 3).items()
            }
        )
    result = {
        key: statistics.median(r[key] for r in api_rounds + sql_rounds if key in r)
        for key in {**api_rounds[0], **sql_rounds[0]}
    }
    result["ratio"] = result["api_p50_ms"] / result["sql_together_ms"]
    return result
