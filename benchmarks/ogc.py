"""Issue 3: OGC API – Features items over 100,000 deposits, Veta side by side with tipg."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from benchmarks import data, servers
from benchmarks.load import ACCEPT_ENCODING, interleaved
from benchmarks.sqltime import api_and_sql
from geo.catalog import register_catalog
from geo.features.collections import get_collection
from geo.features.items import Bbox, ItemsQuery, count_query, page_query

VETA_ITEMS = "/collections/deposits/items"
TIPG_ITEMS = "/collections/public.deposits/items"

# A box over the Bierzo and the Cabrera, in the west of the province: a few thousand deposits.
BBOX = "-6.9,42.3,-6.3,42.7"
CQL2 = "mine_status = 'abandoned' AND size_class = 'largeDeposit'"
DEEP = 50_000

# Loop bounds: one wrk thread; CONCURRENCY connections for throughput (2 cores: the server's
# one worker, PostgreSQL's backends and wrk share them), one connection for latency; the two
# servers alternate in ROUNDS runs of ROUND_SECONDS each.
CONCURRENCY = 4
ROUNDS = 3
ROUND_SECONDS = 2


@dataclass(frozen=True)
class RequestType:
    """One kind of items request, with the query string both servers understand."""

    name: str
    query: str
    deep: bool = False
    cql2: bool = False


REQUEST_TYPES = (
    RequestType("limit 100", "limit=100"),
    RequestType("limit 1000, bbox", f"limit=1000&bbox={BBOX}"),
    RequestType(f"page {DEEP:,} deep, limit 100", "limit=100", deep=True),
    RequestType(
        "CQL2 filter, limit 100",
        urlencode({"limit": 100, "filter": CQL2, "filter-lang": "cql2-text"}),
        cql2=True,
    ),
)

HEADERS = {"Accept": "application/geo+json", "Accept-Encoding": ACCEPT_ENCODING}


def _with(url: str, **replace) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in replace] + list(replace.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def veta_deep_url(first_page: str) -> str:
    """Veta's page DEEP features in, found as a client finds it: by following next links."""
    url, skipped = _with(first_page, limit=10_000), 0
    with httpx.Client(headers=HEADERS, timeout=120) as client:
        while skipped < DEEP:
            page = client.get(url).raise_for_status().json()
            skipped += page["numberReturned"]
            url = next(link["href"] for link in page["links"] if link["rel"] == "next")
    return _with(url, limit=100)


def urls(request: RequestType, veta_items: str, tipg: str) -> tuple[str, str]:
    """The same request to both servers; tipg pages by offset, Veta by keyset cursor."""
    veta_url, tipg_url = f"{veta_items}?{request.query}", f"{tipg}{TIPG_ITEMS}?{request.query}"
    if request.deep:
        return veta_deep_url(veta_url), f"{tipg_url}&offset={DEEP}"
    return veta_url, tipg_url


def same_features(veta_url: str, tipg_url: str) -> dict:
    """Both servers return the same features (ids) and the same numberMatched, or we stop."""
    answers = [
        httpx.get(u, headers=HEADERS, timeout=120).raise_for_status().json()
        for u in (veta_url, tipg_url)
    ]
    ids = [[f["id"] for f in a["features"]] for a in answers]
    matched = [a.get("numberMatched") for a in answers]
    if ids[0] != ids[1] or matched[0] != matched[1]:
        raise RuntimeError(
            f"different answers: {veta_url} ({len(ids[0])} features, matched "
            f"{matched[0]}) and {tipg_url} ({len(ids[1])}, matched {matched[1]})"
        )
    return {"numberReturned": len(ids[0]), "numberMatched": matched[0]}


def measure(veta_url: str, tipg_url: str) -> dict[str, dict]:
    """Throughput and latency under load, and latency one request at a time, for both."""
    urls = {"veta": veta_url, "tipg": tipg_url}
    interleaved(urls, CONCURRENCY, seconds=1, rounds=1)  # warm-up
    load = interleaved(urls, CONCURRENCY, ROUND_SECONDS, ROUNDS)
    single = interleaved(urls, 1, ROUND_SECONDS, ROUNDS)
    return {
        name: {
            "rps": load[name].requests_per_s,
            "p50_ms": load[name].p50_ms,
            "p99_ms": load[name].p99_ms,
            "requests": load[name].requests,
            "single_p50_ms": single[name].p50_ms,
            "single_rps": single[name].requests_per_s,
        }
        for name in urls
    }


def overhead(veta: str, database_url: str) -> dict:
    """A 1,000-feature bbox page, one request at a time: Veta's p50 against its own SQL."""
    register_catalog()
    query = ItemsQuery(
        get_collection("deposits"), limit=1000, bbox=Bbox(*map(float, BBOX.split(",")))
    )
    url = f"{veta}{VETA_ITEMS}?limit=1000&bbox={BBOX}"
    return {
        "path": url.removeprefix(veta),
        **api_and_sql(url, database_url, page_query(query), count_query(query)),
    }


def main(veta_path: str = VETA_ITEMS, remember_counts: bool = True) -> dict:
    """Every request type against both servers on the 100,000-deposit database, the deep page
    against the first, and (for the OGC items) the API against its SQL. `veta_path` may be
    /deposits, Veta's own search, which pages the same way but has no CQL2; without
    `remember_counts` Veta counts on every request, as tipg does."""
    url = data.url_of(data.LARGE_DB)
    rows = []
    with servers.veta(url, remember_counts) as veta, servers.tipg(url) as tipg:
        for request in REQUEST_TYPES:
            if request.cql2 and veta_path != VETA_ITEMS:
                continue
            veta_url, tipg_url = urls(request, veta + veta_path, tipg)
            answer = same_features(veta_url, tipg_url)
            rows.append(
                {
                    "request": request.name,
                    **answer,
                    "veta_url": veta_url,
                    "tipg_url": tipg_url,
                    **measure(veta_url, tipg_url),
                }
            )
        sql = overhead(veta, url) if veta_path == VETA_ITEMS else None
    for row in rows:
        row["throughput_ratio"] = row["veta"]["rps"] / row["tipg"]["rps"]
    first, deep = rows[0], next(r for r in rows if r["request"].startswith("page"))
    return {
        "rows": rows,
        "api_vs_sql": sql,
        "deep_over_first": {
            server: deep[server]["single_p50_ms"] / first[server]["single_p50_ms"]
            for server in ("veta", "tipg")
        },
    }


def table(result: dict) -> str:
    """The result as the Markdown of benchmarks/README.md."""
    lines = [
        "| request | features | Veta req/s | tipg req/s | Veta / tipg | Veta p50 / p99 ms | tipg p50 / p99 ms | Veta p50 ms, 1 conn | tipg p50 ms, 1 conn |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        v, t = r["veta"], r["tipg"]
        lines.append(
            f"| {r['request']} | {r['numberReturned']} of {r['numberMatched']} | {v['rps']:.0f} | {t['rps']:.0f} | "
            f"{r['throughput_ratio']:.1f}x | {v['p50_ms']:.2f} / {v['p99_ms']:.2f} | {t['p50_ms']:.2f} / {t['p99_ms']:.2f} | "
            f"{v['single_p50_ms']:.2f} | {t['single_p50_ms']:.2f} |"
        )
    deep = result["deep_over_first"]
    lines.append(
        f"\nDeep page p50 / first page p50, one connection: Veta {deep['veta']:.2f}x, tipg {deep['tipg']:.2f}x."
    )
    if sql := result["api_vs_sql"]:
        lines.append(
            f"\n`{sql['path']}`, one request at a time: API p50 {sql['api_p50_ms']:.2f} ms; its SQL "
            f"(page {sql['sql_page_ms']:.2f} ms, count {sql['sql_count_ms']:.2f} ms, side by side "
            f"{sql['sql_together_ms']:.2f} ms; EXPLAIN ANALYZE {sql['sql_page_explain_ms']:.2f} + "
            f"{sql['sql_count_explain_ms']:.2f} ms): API / SQL = {sql['ratio']:.2f}x."
        )
    return "\n".join(lines)
