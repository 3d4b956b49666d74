"""`python -m benchmarks.access [--rounds 3] [--seconds 3] [--connections 1]`: what a credential
costs (issue 12). Items, `/deposits` and vector tiles asked with an API key, row-level security
showing the key's organisation its confidential records, against the same requests asked
anonymously, in one run on the same data; and what row-level security costs anonymous requests,
against a second server connected as the tables' owner (which row-level security does not apply to).

On veta_bench (the León sample plus 100,000 synthetic deposits, benchmarks/data.py) this script
owns, for the length of the run, three organisations (`bench-a`, `bench-b`, `bench-c`), an
editor key of `bench-a` and the confidential flags of the synthetic deposits: 5 % are made
confidential to each of `bench-a` and `bench-b`, so that the key's caller sees 5 % more than
anonymous and 5 % stay hidden from it. A second editor key, of `bench-c`, which owns nothing,
asks the same requests with the credential and row-level security at work but the very rows
anonymous sees: the credential's own cost, apart from the larger answers a key with confidential
records gets. Afterwards every synthetic deposit is public again and the keys are deleted (the
organisations stay, owning nothing); a run that was killed is put right by the next one.

Two servers (one uvicorn worker each, the tile cache off with VETA_TILE_CACHE_MB=0, so every tile
is made) run side by side: the service as deployed, connected as veta_service, and one connected
as the owner (VETA_SERVICE_DATABASE_URL). For each request, wrk (one connection unless told) runs
anonymous and credentialed against the service and anonymous against the owner's, in turn, in
ROUNDS short rounds, the order rotating each round; p50 and p99 are the medians of the rounds',
and each ratio is given twice: of those medians, and paired (the median of the rounds' own
ratios, their range beside it), on which the 1.1x target is judged.
Then the pieces a credential adds are timed directly through asyncpg (the key lookup, which a
server process makes once per key; the BEGIN with the viewer's settings — and with the
confirmation of the remembered key, in a request's first transaction — and the COMMIT with the
session's reset of every connection a request takes, against the anonymous statement and reset). Markdown on stdout; raw results
in benchmarks/results/access.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from dataclasses import dataclass, replace

import asyncpg
import httpx
import mapbox_vector_tile
from sqlalchemy import text

from benchmarks import data, servers, sqltime
from benchmarks.load import ACCEPT_ENCODING, LoadResult, _combine, run_wrk
from geo.access.keys import LOOKUP_SQL, create_key, digest
from geo.catalog import register_catalog
from geo.core.sql import SqlQuery
from geo.features.collections import get_collection
from geo.features.items import Bbox, ItemsQuery, count_query, page_query
from geo.features.tiles import TILE_MATRIX_SET, checked_tile, tile_layer, tile_query
from geo.store.db import sync_engine, with_user
from geo.store.viewer import SERVICE_ROLE, RememberedKey, Viewer, settings_statement

TARGET = 1.1
SHARE = 0.05
ORGS = {
    "bench-a": "Benchmark organisation A",
    "bench-b": "Benchmark organisation B",
    "bench-c": "Benchmark organisation C (owns nothing)",
}
HOLDER = "benchmarks/access.py"
# A box over the Bierzo and the Cabrera, in the west of León (ogc.py's): about 12,900 deposits.
BBOX = "-6.9,42.3,-6.3,42.7"
# A point in the middle of the province: its z8 tile holds most of León, its z12 tile a few
# hundred deposits.
TILE_AT = (-5.9, 42.6)

VARIANTS = ("anonymous", "credentialed", "owner, anonymous")
# A key of an organisation with no confidential records: the credential, the same rows.
SAME_ROWS = "credentialed, same rows"


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    accept: str = "application/geo+json"
    # Longer runs for slow requests, so that each round's p50 comes from enough requests.
    scale: int = 1


def routes() -> list[Route]:
    tile = "/collections/deposits/tiles/WebMercatorQuad/{z}/{x}/{y}"
    found = [
        Route("items, limit 100", "/collections/deposits/items?limit=100"),
        Route("items, limit 100, bbox", f"/collections/deposits/items?limit=100&bbox={BBOX}"),
        Route("/deposits headline", "/deposits?commodity=W,Li&area=leon&protection=outside"),
    ]
    for z in (8, 12):
        t = TILE_MATRIX_SET.tile(*TILE_AT, z)
        found.append(
            Route(
                f"tile z{z}",
                tile.format(z=t.z, x=t.x, y=t.y),
                accept="application/vnd.mapbox-vector-tile",
                # A z8 tile over León holds most of the province (3.7 MB): 1–3 s to make.
                scale=8 if z == 8 else 1,
            )
        )
    return found


# Writes to the benchmark database's deposits as its owner. The audit trigger is switched off
# inside the writing transaction only (DDL is transactional, so no other session ever sees it
# off): these flags are the benchmark's own scaffolding, and 10,000 audited rows per write would
# grow the audit trail by every run. The change counters still move, so remembered counts and
# tiles are never served for the other state.
_QUIET_WRITE = "ALTER TABLE deposits {} TRIGGER deposits_audit_update"

# Every synthetic deposit public: the state every other benchmark measures.
_RESTORE = """
UPDATE deposits SET confidential = false, owner_org = NULL
WHERE source = :source AND (confidential OR owner_org IS NOT NULL)
"""

# A seeded spread: the synthetic ids are consecutive and their points uniformly random, so id
# modulo 20 picks 5 % of the deposits, spread over the province, for each organisation.
_MARK = """
UPDATE deposits SET confidential = true,
       owner_org = CASE WHEN id % 20 = 0 THEN :a ELSE :b END
WHERE source = :source AND id % 20 IN (0, 1)
"""


def _write(engine, statement: str, values: dict) -> int:
    with engine.begin() as conn:
        conn.execute(text(_QUIET_WRITE.format("DISABLE")))
        changed = conn.execute(text(statement), values).rowcount
        conn.execute(text(_QUIET_WRITE.format("ENABLE")))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # The planner's statistics of the flags, as a database with confidential records has.
        conn.execute(text("ANALYZE deposits"))
    return changed


def set_up(url: str) -> dict:
    """The organisations (made once), a fresh editor key of the first, and the flags."""
    engine = sync_engine(url)
    try:
        with engine.begin() as conn:
            for code, name in ORGS.items():
                conn.execute(
                    text(
                        "INSERT INTO organisations (code, name) VALUES (:c, :n) "
                        "ON CONFLICT (code) DO NOTHING"
                    ),
                    {"c": code, "n": name},
                )
            ids = dict(
                conn.execute(
                    text("SELECT code, id FROM organisations WHERE code = ANY(:c)"),
                    {"c": list(ORGS)},
                ).all()
            )
            # Keys are shown once: the previous run's is of no use, make a new one.
            conn.execute(text("DELETE FROM api_keys WHERE holder = :h"), {"h": HOLDER})
            key, _ = create_key(conn, "bench-a", "editor", HOLDER, None)
            same_rows_key, _ = create_key(conn, "bench-c", "editor", HOLDER, None)
        _write(engine, _RESTORE, {"source": data.SOURCE})
        marked = _write(
            engine, _MARK, {"a": ids["bench-a"], "b": ids["bench-b"], "source": data.SOURCE}
        )
        with engine.connect() as conn:
            counts = dict(
                conn.execute(
                    text(
                        "SELECT coalesce(o.code, 'public'), count(*) FROM deposits d "
                        "LEFT JOIN organisations o ON o.id = d.owner_org AND d.confidential "
                        "GROUP BY 1"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    return {
        "key": key,
        "same_rows_key": same_rows_key,
        "org_ids": ids,
        "marked": marked,
        "deposits": counts,
    }


def tear_down(url: str) -> int:
    engine = sync_engine(url)
    try:
        restored = _write(engine, _RESTORE, {"source": data.SOURCE})
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM api_keys WHERE holder = :h"), {"h": HOLDER})
    finally:
        engine.dispose()
    return restored


def _answer(url: str, route: Route, headers: dict) -> dict:
    """What one request returns: features and numberMatched for GeoJSON, bytes for a tile."""
    response = httpx.get(
        url + route.path, headers={"Accept": route.accept, **headers}, timeout=120
    ).raise_for_status()
    if route.accept == "application/geo+json":
        body = response.json()
        return {
            "returned": body["numberReturned"],
            "matched": body.get("numberMatched"),
            "ids": [f["id"] for f in body["features"]],
            "cache_control": response.headers.get("cache-control"),
        }
    return {
        "bytes": len(response.content),
        "deposits": _deposits_in_tile(response.content),
        "cache_control": response.headers.get("cache-control"),
    }


def _deposits_in_tile(tile: bytes) -> int:
    """Deposits a tile shows: one per feature of its deposits layer, `count` per cluster (below
    zoom 10 they come as clusters, whose bytes need not grow with what they count)."""
    layers = mapbox_vector_tile.decode(tile)
    shown = len(layers.get("deposits", {}).get("features", []))
    clusters = layers.get("deposits_clusters", {}).get("features", [])
    return shown + sum(int(f["properties"]["count"]) for f in clusters)


def _content(answer: dict) -> dict:
    """An answer without its caching header (private for a credential, whatever it shows)."""
    return {k: v for k, v in answer.items() if k != "cache_control"}


def check_answers(service: str, owner: str, route: Route, key: str, same_rows_key: str) -> dict:
    """The credential must show more than anonymous, and the owner's server everything: else
    row-level security is not doing the work this benchmark is meant to measure. The key of an
    organisation that owns nothing must get exactly the anonymous answer."""
    auth = {"Authorization": f"Bearer {key}"}
    found = {
        "anonymous": _answer(service, route, {}),
        "credentialed": _answer(service, route, auth),
        "owner, anonymous": _answer(owner, route, {}),
    }
    same = _answer(service, route, {"Authorization": f"Bearer {same_rows_key}"})
    if _content(same) != _content(found["anonymous"]):
        raise RuntimeError(
            f"{route.path}: a key that owns nothing did not get the anonymous answer"
        )
    if "private" not in (same["cache_control"] or ""):
        raise RuntimeError(f"{route.path}: the same-rows credentialed answer is not private")
    found[SAME_ROWS] = same
    anon, cred, own = (found[v] for v in VARIANTS)
    if "matched" in anon:
        if anon["matched"] is not None and not anon["matched"] < cred["matched"] < own["matched"]:
            raise RuntimeError(
                f"{route.path}: numberMatched {anon}, {cred}, {own}: not RLS at work"
            )
    elif not anon["deposits"] < cred["deposits"] < own["deposits"]:
        raise RuntimeError(f"{route.path}: tile deposits {anon}, {cred}, {own}: not RLS at work")
    if "private" not in (cred["cache_control"] or ""):
        raise RuntimeError(f"{route.path}: the credentialed answer is not private")
    for answer in found.values():
        answer.pop("ids", None)
    return found


def measure(
    urls: dict[str, tuple[str, dict]], accept: str, connections: int, seconds: int, rounds: int
) -> dict[str, list[LoadResult]]:
    """Each variant's runs, one a round, `rounds` rounds, each round starting one variant further
    on: on a shared machine the load drifts, and no variant should always run first after a
    switch."""
    names = list(urls)
    for name in names:  # warm-up: the pools' connections, the planner's caches
        run_wrk(urls[name][0], connections, 2, accept, urls[name][1])
    runs: dict[str, list[LoadResult]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            url, headers = urls[name]
            result = run_wrk(url, connections, seconds, accept, headers)
            if result.requests < 5:
                # wrk's percentiles of a handful of requests are not a p50 (none: zero).
                raise RuntimeError(f"{result.requests} requests in {seconds} s on {url}")
            runs[name].append(result)
    return runs


def paired_ratio(runs: list[LoadResult], against: list[LoadResult]) -> dict:
    """The p50 ratio of each round (its runs seconds apart), their median and range: the drift
    of the machine's speed over minutes moves both sides of a round alike, where it moves a
    ratio of the whole run's medians."""
    ratios = [run.p50_ms / base.p50_ms for run, base in zip(runs, against, strict=True)]
    return {"median": statistics.median(ratios), "low": min(ratios), "high": max(ratios)}


async def _median_ms(run, repeat: int, untimed=None) -> float:
    """The median of `run`; `untimed` after each, outside the clock."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1000)
        if untimed is not None:
            await untimed()
    return statistics.median(times)


async def _pieces(url: str, key: str, org_id: int, repeat: int = 2000) -> dict:
    """What a credential adds to a request, statement by statement, on the service's own
    connection (asyncpg, as the server; loopback, no HTTP): the key lookup (once per request) and
    the viewer's transaction (for every connection the request takes)."""
    conn = await asyncpg.connect(url)
    try:
        viewer = Viewer(org_id, "bench-a", "editor", HOLDER, request_id="benchmark")
        key_digest = digest(key)

        async def select_1():
            await conn.fetchval("SELECT 1")

        async def lookup():
            await conn.fetchrow(LOOKUP_SQL, key_digest)

        reset = conn.get_reset_query()

        async def select_1_and_reset():
            await conn.fetchval("SELECT 1")
            await conn.execute(reset)

        async def viewer_transaction_with_select_1(viewer=viewer):
            # What the request pool sends (geo/store/timed_pool.py): BEGIN with the settings,
            # the statement, COMMIT with the session's reset.
            await conn.execute("BEGIN; " + settings_statement(viewer))
            await conn.fetchval("SELECT 1")
            await conn.execute("COMMIT; " + reset)

        # A key the process remembers: confirmed in the settings' round trip (never marked
        # confirmed here, so every run sends the confirmation).
        remembered = replace(viewer, remembered_key=RememberedKey.of(key_digest, viewer))

        async def remembered_key_transaction_with_select_1():
            await viewer_transaction_with_select_1(remembered)

        async def remembered_key_read_until_its_answer():
            # A read's viewer transaction (READ ONLY): its answer waits for these two only.
            await conn.execute("BEGIN READ ONLY; " + settings_statement(remembered, read_only=True))
            await conn.fetchval("SELECT 1")

        async def commit_and_reset():
            # Beside the answer (geo/store/after_answer.py): off the answer's clock.
            await conn.execute("COMMIT; " + reset)

        found = {}
        for _ in range(2):  # the second pass is kept: the first warms the statement cache
            for name, run in (
                ("round trip (SELECT 1)", select_1),
                ("key lookup (veta_api_key)", lookup),
                ("anonymous: SELECT 1 + reset", select_1_and_reset),
                (
                    "credentialed: BEGIN + set_config, SELECT 1, COMMIT + reset",
                    viewer_transaction_with_select_1,
                ),
                (
                    "remembered key: BEGIN + confirmation + set_config, SELECT 1, COMMIT + reset",
                    remembered_key_transaction_with_select_1,
                ),
            ):
                found[name] = await _median_ms(run, repeat)
            found[
                "remembered key, a read until its answer: BEGIN READ ONLY + confirmation + "
                "set_config, SELECT 1 (COMMIT + reset beside the answer)"
            ] = await _median_ms(remembered_key_read_until_its_answer, repeat, commit_and_reset)
        return found
    finally:
        await conn.close()


def statements() -> dict[str, SqlQuery]:
    """The statements the items and tile requests run, built as the service builds them."""
    register_catalog()
    deposits = get_collection("deposits")
    box = Bbox(*map(float, BBOX.split(",")))
    found = {
        "items page, limit 100": page_query(ItemsQuery(deposits, limit=100)),
        "items page, limit 100, bbox": page_query(ItemsQuery(deposits, limit=100, bbox=box)),
        "items count, bbox": count_query(ItemsQuery(deposits, limit=100, bbox=box)),
    }
    for z in (8, 12):
        t = TILE_MATRIX_SET.tile(*TILE_AT, z)
        found[f"tile z{z}"] = tile_query(tile_layer("deposits"), checked_tile(t.z, t.x, t.y))
    return found


async def _statement_times(owner_url: str, org_id: int, repeat: int, seconds: float) -> dict:
    """Each statement's median through asyncpg on three connections: the owner's (no row-level
    security), the service role's with no viewer (anonymous), and the service role's inside a
    transaction with the key's viewer set (the statement alone timed), alternating in rounds."""
    owner = await sqltime._connect(owner_url)
    anonymous = await sqltime._connect(with_user(owner_url, SERVICE_ROLE))
    credentialed = await sqltime._connect(with_user(owner_url, SERVICE_ROLE))
    viewer = Viewer(org_id, "bench-a", "editor", HOLDER)
    await credentialed.execute("BEGIN; " + settings_statement(viewer))
    try:
        found = {}
        for name, query in statements().items():
            rounds: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for _ in range(3):
                for variant, conn in zip(VARIANTS, (anonymous, credentialed, owner), strict=True):

                    async def run(conn=conn, query=query):
                        await conn.fetch(query.text, *query.values)

                    rounds[variant].append(await sqltime._p50_ms(run, repeat, seconds))
            found[name] = {v: statistics.median(ms) for v, ms in rounds.items()}
            found[name]["planning + execution, anonymous"] = await sqltime._explain_ms(
                anonymous, query
            )
            found[name]["planning + execution, owner"] = await sqltime._explain_ms(owner, query)
        return found
    finally:
        await credentialed.execute("ROLLBACK")
        for conn in (owner, anonymous, credentialed):
            await conn.close()


def acquisitions() -> dict[str, str]:
    """Connections each request takes from the pool (read from the code, see the README):
    each that reads under row-level security costs a credentialed request two round trips
    (BEGIN with the viewer's settings; COMMIT, which carries the reset release would send), of
    which a read's answer waits for the first only (geo/store/after_answer.py)."""
    return {
        "items, limit 100": "2 (page; count, remembered or not)",
        "items, limit 100, bbox": "2 (page; count)",
        "/deposits headline": "3 (area, remembered; page, in the viewer's transaction when "
        "credentialed; count)",
        "tile z8": "1",
        "tile z12": "1",
    }


def run(rounds: int, seconds: int, connections: int) -> dict:
    owner_url = data.prepare(data.LARGE_DB, data.SYNTHETIC_DEPOSITS)
    load_before = os.getloadavg()
    state = set_up(owner_url)
    key, same_rows_key = state.pop("key"), state.pop("same_rows_key")
    auth = {"Authorization": f"Bearer {key}"}
    rows = []
    try:
        # Tiles are made on every request, not taken from the tile cache: that is what RLS
        # changes (counts stay remembered, per audience, as deployed).
        no_tile_cache = {"VETA_TILE_CACHE_MB": "0"}
        with (
            servers.veta(owner_url, env=no_tile_cache, log="veta-access.log") as service,
            servers.veta(
                owner_url,
                env={**no_tile_cache, "VETA_SERVICE_DATABASE_URL": owner_url},
                log="veta-access-owner.log",
            ) as owner,
        ):
            for route in routes():
                answers = check_answers(service, owner, route, key, same_rows_key)
                urls = {
                    "anonymous": (service + route.path, {}),
                    "credentialed": (service + route.path, auth),
                    "owner, anonymous": (owner + route.path, {}),
                    SAME_ROWS: (
                        service + route.path,
                        {"Authorization": f"Bearer {same_rows_key}"},
                    ),
                }
                runs = measure(urls, route.accept, connections, seconds * route.scale, rounds)
                measured = {name: _combine(results) for name, results in runs.items()}
                rows.append(
                    {
                        "route": route.name,
                        "path": route.path,
                        "answers": answers,
                        "paired": {
                            "credentialed": paired_ratio(runs["credentialed"], runs["anonymous"]),
                            SAME_ROWS: paired_ratio(runs[SAME_ROWS], runs["anonymous"]),
                        },
                        **{
                            name: {
                                "p50_ms": r.p50_ms,
                                "p99_ms": r.p99_ms,
                                "rps": r.requests_per_s,
                                "requests": r.requests,
                            }
                            for name, r in measured.items()
                        },
                    }
                )
                print(
                    f"{route.name}: "
                    + ", ".join(f"{n} p50 {r.p50_ms:.2f} ms" for n, r in measured.items()),
                    flush=True,
                )
        # The role the service connects as, as geo/store/db.py derives it without a
        # VETA_SERVICE_DATABASE_URL.
        org_id = state["org_ids"]["bench-a"]
        pieces = asyncio.run(_pieces(with_user(owner_url, SERVICE_ROLE), key, org_id))
        sql = asyncio.run(_statement_times(owner_url, org_id, repeat=50, seconds=1))
    finally:
        restored = tear_down(owner_url)
    load_after = os.getloadavg()
    for row in rows:
        row["ratio"] = row["credentialed"]["p50_ms"] / row["anonymous"]["p50_ms"]
        row["same_rows_ratio"] = row[SAME_ROWS]["p50_ms"] / row["anonymous"]["p50_ms"]
        row["rls_ratio"] = row["anonymous"]["p50_ms"] / row["owner, anonymous"]["p50_ms"]
    return {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": data.machine(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "options": {
            "rounds": rounds,
            "seconds": seconds,
            "connections": connections,
            "tile_cache_mb": 0,
            "accept_encoding": ACCEPT_ENCODING,
        },
        "state": state,
        "restored": restored,
        "rows": rows,
        "pieces_ms": pieces,
        "statements_ms": sql,
        "acquisitions": acquisitions(),
    }


def _paired(ratio: dict) -> str:
    return f"{ratio['median']:.2f}x ({ratio['low']:.2f}–{ratio['high']:.2f})"


def _verdict(ratio: dict) -> str:
    """The target judged on the median of the rounds' ratios (paired_ratio says why)."""
    return "met" if ratio["median"] <= TARGET else "**not met**"


def table(result: dict) -> str:
    lines = [
        "| route | anonymous p50 ms | credentialed p50 ms | ratio | paired ratio (range) | "
        "≤ 1.1x | same rows p50 ms | ratio | paired ratio (range) | ≤ 1.1x | anonymous p99 ms | "
        "credentialed p99 ms | owner (no RLS) p50 ms | anonymous / owner |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        a, c, o = (r[v] for v in VARIANTS)
        same = r[SAME_ROWS]
        credentialed, same_rows = r["paired"]["credentialed"], r["paired"][SAME_ROWS]
        lines.append(
            f"| {r['route']} | {a['p50_ms']:.2f} | {c['p50_ms']:.2f} | {r['ratio']:.2f}x | "
            f"{_paired(credentialed)} | {_verdict(credentialed)} | {same['p50_ms']:.2f} | "
            f"{r['same_rows_ratio']:.2f}x | {_paired(same_rows)} | {_verdict(same_rows)} | "
            f"{a['p99_ms']:.2f} | {c['p99_ms']:.2f} | {o['p50_ms']:.2f} | {r['rls_ratio']:.2f}x |"
        )
    lines += [
        "",
        f"| route | {' | '.join((*VARIANTS, SAME_ROWS))} |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        cells = []
        for v in (*VARIANTS, SAME_ROWS):
            answer = r["answers"][v]
            cells.append(
                f"{answer['deposits']:,} deposits, {answer['bytes']:,} bytes"
                if "bytes" in answer
                else f"{answer['returned']} of {answer['matched']}"
            )
        lines.append(f"| {r['route']} | {' | '.join(cells)} |")
    lines += ["", "| piece, asyncpg on loopback as veta_service | median ms |", "|---|---:|"]
    lines += [f"| {name} | {ms:.3f} |" for name, ms in result["pieces_ms"].items()]
    lines += [
        "",
        "| statement, asyncpg median ms | service, anonymous | service, credentialed | owner "
        "(no RLS) | anonymous / owner | EXPLAIN ANALYZE anonymous / owner ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, t in result["statements_ms"].items():
        a, c, o = (t[v] for v in VARIANTS)
        lines.append(
            f"| {name} | {a:.2f} | {c:.2f} | {o:.2f} | {a / o:.2f}x | "
            f"{t['planning + execution, anonymous']:.2f} / {t['planning + execution, owner']:.2f} |"
        )
    before, after = result["load_average_before"][0], result["load_average_after"][0]
    busy = max(before, after) > 1.5
    lines.append(
        f"\nLoad average {before:.2f} before, {after:.2f} after "
        f"({result['machine']['cores']} cores){': above 1.5, the machine was busy' if busy else ''}."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.access", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=1, help="wrk's connections")
    args = parser.parse_args()
    data.WORK.mkdir(exist_ok=True)
    result = run(args.rounds, args.seconds, args.connections)
    data.RESULTS.mkdir(exist_ok=True)
    (data.RESULTS / "access.json").write_text(json.dumps(result, indent=2))
    print(
        f"\n## access ({result['when']}, wrk {args.connections} connection(s), "
        f"{args.rounds} rounds of {args.seconds:g} s, service role {SERVICE_ROLE})\n"
    )
    print(table(result))


if __name__ == "__main__":
    main()
