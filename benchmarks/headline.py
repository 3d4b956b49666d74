"""Issue 2: the headline query through the API against the same SQL run directly (API overhead)."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from benchmarks import data, servers
from benchmarks.load import run_wrk
from benchmarks.sqltime import api_and_sql
from geo.catalog.collections import DEPOSITS
from geo.features.items import ItemsQuery, count_query, page_query
from geo.queries.deposits import DepositSearch, deposit_query

W_LI = ("tungsten", "lithium")
ROUND_SECONDS = 5

# name: (query string of GET /deposits, the same search as geo/queries/deposits.py receives it,
# its page size; León's outline still to be added)
VARIANTS = {
    "outside": (
        "commodity=W,Li&area=leon&protection=outside",
        DepositSearch(commodities=W_LI, protection="outside"),
        100,
    ),
    "outside, limit 1000": (
        "commodity=W,Li&area=leon&protection=outside&limit=1000",
        DepositSearch(commodities=W_LI, protection="outside"),
        1000,
    ),
    "inside": (
        "commodity=W,Li&area=leon&protection=inside",
        DepositSearch(commodities=W_LI, protection="inside"),
        100,
    ),
}


async def _leon(url: str) -> bytes:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT ST_AsEWKB(geom) FROM admin_areas WHERE code = '24'")
    finally:
        await conn.close()


def _check_same_answer(url: str, sql_rows: int, limit: int) -> dict:
    """The API answers what the SQL finds: the page size, and the count it reports."""
    body = httpx.get(url, timeout=60).json()
    expected = min(sql_rows, limit)
    if body["numberReturned"] != expected:
        raise RuntimeError(f"{url}: {body['numberReturned']} features, the SQL gives {expected}")
    return {"numberMatched": body["numberMatched"], "numberReturned": body["numberReturned"]}


def run_database(database: str) -> list[dict]:
    url = data.url_of(database)
    leon = asyncio.run(_leon(url))
    rows = []
    # The overhead is measured with every request counting, as the SQL does; then once more
    # with the count remembered, as a client paging through or asking again gets it.
    with servers.veta(url, remember_counts=False) as base:
        for name, (query, search, limit) in VARIANTS.items():
            items = deposit_query(ItemsQuery(DEPOSITS, limit=limit, area=leon), search)
            target = f"{base}/deposits?{query}"
            timings = api_and_sql(
                target, url, page_query(items), count_query(items), seconds=ROUND_SECONDS
            )
            answer = _check_same_answer(target, timings["sql_rows"], limit)
            rows.append(
                {
                    "database": database,
                    "variant": name,
                    "path": f"/deposits?{query}",
                    **answer,
                    **timings,
                }
            )
    with servers.veta(url) as base:
        for row in rows:
            run_wrk(base + row["path"], connections=1, seconds=1)  # warm-up, and the count
            row["api_remembered_p50_ms"] = run_wrk(
                base + row["path"], connections=1, seconds=ROUND_SECONDS
            ).p50_ms
    return rows


def main() -> dict:
    """Every variant on the sample alone and on the sample plus 100,000 deposits."""
    return {
        "rows": [
            row for database in (data.SAMPLE_DB, data.LARGE_DB) for row in run_database(database)
        ]
    }


def table(result: dict) -> str:
    """The result as the Markdown table of benchmarks/README.md."""
    lines = [
        "| database | variant | matched | API p50 ms | SQL page ms | SQL count ms | SQL both ms | EXPLAIN page + count ms | API / SQL | API p50 ms, count remembered |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['database']} | {r['variant']} | {r['numberMatched']} | {r['api_p50_ms']:.2f} | "
            f"{r['sql_page_ms']:.2f} | {r['sql_count_ms']:.2f} | {r['sql_together_ms']:.2f} | "
            f"{r['sql_page_explain_ms']:.2f} + {r['sql_count_explain_ms']:.2f} | {r['ratio']:.2f}x | "
            f"{r['api_remembered_p50_ms']:.2f} |"
        )
    return "\n".join(lines)
