"""`python -m benchmarks.load_mix [--clients 50] [--seconds 60] [--workers 1] [--warmup 10]`:
load held — many clients at once over a mix of the requests Veta serves, for a while.

`veta serve` (with `--workers N`) serves veta_bench (the León sample plus 100,000 synthetic
deposits, benchmarks/data.py) on loopback. CLIENTS clients, each sending its next request as soon
as it has read the previous answer (a closed loop, no think time), draw from this mix:

- the headline search, `/deposits?commodity=W,Li&area=leon&protection=outside`;
- OGC items pages, `/collections/deposits/items?limit=100` and the pages after it (next links);
- OGC items in a box over León, `limit=100&bbox=…`;
- a CQL2 filter, `/collections/deposits/items?filter=…`;
- vector tiles of deposits and protection zones over León, zooms 6 to 12;
- single-site screening, `POST /screening` of a small polygon in León;
- single items, `/collections/deposits/items/{id}`.

First WARMUP seconds of the same load (not in the figures), then SECONDS measured. Any answer
other than 2xx, and any exception (timeout, reset), is an error and is listed. The server's
resident memory (the sum over `veta serve` and its child processes, from /proc) is sampled every
second. Markdown tables on stdout; raw results in benchmarks/results/load_mix.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import text

from benchmarks import data, hostile, servers
from geo.features.tiles import TILE_MATRIX_SET
from geo.store.db import sync_engine

SEED = 20261205
# Weights of the mix: a map client asks mostly for tiles, and pages, searches and single
# features follow; a screening is the heaviest request and the rarest.
MIX = {
    "headline": 15,
    "items page": 15,
    "items bbox": 10,
    "cql2 filter": 10,
    "tile": 30,
    "screening": 5,
    "item": 15,
}
HEADLINE = "/deposits?commodity=W,Li&area=leon&protection=outside"
ITEMS = "/collections/deposits/items"
PAGES = 20
CQL2 = (
    "mine_status = 'abandoned' AND size_class = 'largeDeposit'",
    "deposit_type = 'quartzVein' AND depth_top_m < 100",
    "occurrence_type = 'prospect' OR size_class = 'smallDeposit'",
)
TILE_ZOOMS = range(6, 13)
TILE_LAYERS = ("deposits", "protection_zones")
SITES = 40
HEADERS = {"Accept-Encoding": "gzip"}
KEEPALIVE_S = 4.0
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Plan:
    """Every request the clients may draw, fixed before the load starts (seeded)."""

    pages: list[str]
    boxes: list[str]
    tiles: dict[int, list[str]]
    sites: list[dict]
    items: list[int]

    def request(self, rng: random.Random) -> tuple[str, str, str, dict | None]:
        """(kind, method, path, JSON body) of one request drawn from the mix."""
        kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if kind == "headline":
            return kind, "GET", HEADLINE, None
        if kind == "items page":
            return kind, "GET", rng.choice(self.pages), None
        if kind == "items bbox":
            return kind, "GET", f"{ITEMS}?limit=100&bbox={rng.choice(self.boxes)}", None
        if kind == "cql2 filter":
            query = urlencode(
                {"limit": 100, "filter-lang": "cql2-text", "filter": rng.choice(CQL2)}
            )
            return kind, "GET", f"{ITEMS}?{query}", None
        if kind == "tile":
            # A zoom first, then a tile of it: otherwise z12's thousand tiles would be nearly all.
            return kind, "GET", rng.choice(self.tiles[rng.choice(list(TILE_ZOOMS))]), None
        if kind == "screening":
            return kind, "POST", "/screening", rng.choice(self.sites)
        return kind, "GET", f"{ITEMS}/{rng.choice(self.items)}", None


def make_plan(base: str, database_url: str) -> Plan:
    rng = random.Random(SEED)
    engine = sync_engine(database_url)
    try:
        with engine.connect() as conn:
            west, south, east, north = conn.execute(
                text(
                    "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                    "FROM admin_areas WHERE code = '24'"
                )
            ).one()
            points = conn.execute(
                text(
                    "SELECT ST_X(d.geom), ST_Y(d.geom) FROM admin_areas a, "
                    "ST_Dump(ST_GeneratePoints(a.geom, :n, :seed)) d WHERE a.code = '24'"
                ),
                {"n": SITES, "seed": SEED},
            ).all()
            ids = list(conn.execute(text("SELECT id FROM deposits")).scalars())
    finally:
        engine.dispose()
    pages, url = [], f"{base}{ITEMS}?limit=100"
    with httpx.Client(headers=HEADERS, timeout=60) as client:
        for _ in range(PAGES):
            pages.append(url.removeprefix(base))
            page = client.get(url).raise_for_status().json()
            url = next(link["href"] for link in page["links"] if link["rel"] == "next")
    boxes = []
    for _ in range(50):
        width = rng.uniform(0.05, 0.5)
        x, y = rng.uniform(west, east - width), rng.uniform(south, north - width * 0.75)
        boxes.append(f"{x:.4f},{y:.4f},{x + width:.4f},{y + width * 0.75:.4f}")
    tiles = {
        z: [
            f"/collections/{layer}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}"
            for t in TILE_MATRIX_SET.tiles(west, south, east, north, [z])
            for layer in TILE_LAYERS
        ]
        for z in TILE_ZOOMS
    }
    sites = []
    for x, y in points:
        # About 0.5 to 2 km across: a parcel or a small concession.
        dx, dy = rng.uniform(0.006, 0.024), rng.uniform(0.005, 0.018)
        ring = [[x, y], [x + dx, y], [x + dx, y + dy], [x, y + dy], [x, y]]
        sites.append({"type": "Polygon", "coordinates": [[[round(c, 6) for c in p] for p in ring]]})
    return Plan(pages, boxes, tiles, sites, rng.sample(ids, 2000))


@dataclass
class Load:
    """What the clients recorded: (phase, kind, started, seconds, status or exception, path)."""

    records: list[tuple[str, str, float, float, str, str]] = field(default_factory=list)
    phase: str = "warm-up"
    bytes_read: int = 0
    # The first answer of each (kind, status) that is not 2xx: what the server said.
    error_examples: dict[str, dict] = field(default_factory=dict)
    exceptions: list[dict] = field(default_factory=list)


async def client(
    http: httpx.AsyncClient, plan: Plan, load: Load, rng: random.Random, end: float
) -> None:
    while time.monotonic() < end:
        kind, method, path, body = plan.request(rng)
        phase, started = load.phase, time.monotonic()
        try:
            async with http.stream(method, path, json=body) as response:
                if response.is_success:
                    # Raw: the client's time goes to the server's answers, not to unzipping them.
                    async for chunk in response.aiter_raw():
                        load.bytes_read += len(chunk)
                else:
                    said = (await response.aread()).decode(errors="replace")[:500]
            outcome = str(response.status_code)
            if not response.is_success:
                load.error_examples.setdefault(f"{kind} {outcome}", {"path": path, "body": said})
        except Exception as exc:  # noqa: BLE001 - every failure is an error to list, not a crash
            outcome = f"{type(exc).__name__}: {exc}"[:200]
            # httpx's ReadError carries no text; the socket's own error is its cause.
            cause = exc.__cause__ or exc.__context__
            load.exceptions.append(
                {
                    "phase": phase,
                    "kind": kind,
                    "path": path,
                    "error": outcome,
                    "cause": repr(cause)[:200],
                    "monotonic": started,
                    "after_s": time.monotonic() - started,
                }
            )
            load.error_examples.setdefault(f"{kind} {outcome}", {"path": path})
        load.records.append((phase, kind, started, time.monotonic() - started, outcome, path))


def process_tree(root: int) -> list[int]:
    """`root` and every process below it (uvicorn's workers, the body-parsing processes)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def server_pid(port: int) -> int:
    """The `veta serve` process on `port`, among this process's children."""
    for pid in process_tree(os.getpid())[1:]:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in argv and str(port).encode() in argv:
            return pid
    raise RuntimeError(f"no veta serve on port {port}")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(stat[11]) + int(stat[12])) / TICK
    return found


def database_cpu(database_url: str) -> dict[int, float]:
    """CPU seconds so far of the cluster's processes (every database's backends, not only ours)."""
    postmaster, children = hostile.backend_pids(database_url)
    return cpu_seconds([postmaster, *children])


def memory_and_cpu(root: int) -> dict:
    """Resident memory (MiB) and CPU seconds so far of the server's processes."""
    rss, cpu, per_process = 0.0, 0.0, {}
    for pid in process_tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        mib = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmRSS:")) / 1024
        rss += mib
        cpu += (int(stat[11]) + int(stat[12])) / TICK
        per_process[pid] = round(mib, 1)
    return {"rss_mib": rss, "cpu_s": cpu, "processes": per_process}


async def sample_memory(root: int, samples: list[dict], load: Load, stop: asyncio.Event) -> None:
    start = time.monotonic()
    while not stop.is_set():
        reading = memory_and_cpu(root)
        samples.append(
            {
                "t": round(time.monotonic() - start, 2),
                "phase": load.phase,
                "load_average": os.getloadavg()[0],
                **reading,
            }
        )
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_load(
    base: str, root: int, database_url: str, plan: Plan, clients: int, seconds: float, warmup: float
):
    load, samples, stop = Load(), [], asyncio.Event()
    marks = {"start": memory_and_cpu(root)}
    sampler = asyncio.create_task(sample_memory(root, samples, load, stop))
    # httpx keeps an idle connection 5 s, as long as uvicorn's keep-alive timeout: a request sent
    # as the server closes it is reset unanswered (seen: 2 in 5,000 with one worker). Browsers
    # retry such a request; this client instead lets its idle connections go first.
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=KEEPALIVE_S
    )
    async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=60, limits=limits) as http:
        begun = time.monotonic()
        end = begun + warmup + seconds
        tasks = [
            asyncio.create_task(client(http, plan, load, random.Random(SEED + i), end))
            for i in range(clients)
        ]
        await asyncio.sleep(warmup)
        load.phase = "measured"
        measured_from, client_cpu = time.monotonic(), _client_cpu()
        db_cpu = database_cpu(database_url)
        marks["after warm-up"] = memory_and_cpu(root)
        # Halfway as well: a cache filling up levels off, a leak keeps the same slope.
        await asyncio.sleep(seconds / 2)
        marks["halfway"] = memory_and_cpu(root)
        await asyncio.gather(*tasks)
        measured_s = time.monotonic() - measured_from
        client_cpu = _client_cpu() - client_cpu
        # A backend that ended meanwhile is missed; Veta's pooled connections last the run.
        db_cpu = sum(v - db_cpu.get(pid, 0) for pid, v in database_cpu(database_url).items())
    marks["end"] = memory_and_cpu(root)
    stop.set()
    await sampler
    return load, samples, marks, measured_s, client_cpu, db_cpu, measured_from - begun


def cache_lookups(base: str) -> dict[str, float]:
    """The tile and count caches' hits and misses from /metrics (one worker's, with several)."""
    found = {}
    for line in httpx.get(base + "/metrics", timeout=10).text.splitlines():
        if line.startswith(("veta_tile_cache_lookups", "veta_count_cache_lookups")):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(records: list, seconds: float) -> dict:
    rows = {}
    for kind in [*MIX, "all"]:
        mine = [r for r in records if kind in ("all", r[1])]
        latencies = [r[3] for r in mine]
        errors = Counter(r[4] for r in mine if not r[4].startswith("2"))
        rows[kind] = {
            "requests": len(mine),
            "requests_per_s": len(mine) / seconds,
            "p50_ms": percentile(latencies, 0.5) * 1000 if mine else None,
            "p99_ms": percentile(latencies, 0.99) * 1000 if mine else None,
            "max_ms": max(latencies) * 1000 if mine else None,
            "errors": sum(errors.values()),
            "error_kinds": dict(errors),
            "statuses": dict(Counter(r[4] for r in mine if r[4].startswith("2"))),
        }
    return rows


def table(result: dict) -> str:
    lines = [
        "| request | requests | req/s | p50 ms | p99 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, r in result["measured"].items():
        name = "**all**" if kind == "all" else kind
        if not r["requests"]:
            lines.append(f"| {name} | 0 | 0 | – | – | – | 0 |")
            continue
        errors = ", ".join(f"{n} × {what}" for what, n in r["error_kinds"].items())
        lines.append(
            f"| {name} | {r['requests']} | {r['requests_per_s']:.1f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['max_ms']:.0f} | {r['errors']}{f' ({errors})' if errors else ''} |"
        )
    m = result["memory"]
    lines += [
        "",
        "| server RSS MiB | start | after warm-up | halfway | max | end | end − after warm-up |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| {result['processes']} process(es) | {m['start']:.0f} | {m['after_warmup']:.0f} | "
        f"{m['halfway']:.0f} | {m['max']:.0f} | {m['end']:.0f} | "
        f"{m['end'] - m['after_warmup']:+.1f} |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_mix", description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load not measured")
    args = parser.parse_args()
    data.WORK.mkdir(exist_ok=True)
    database_url = data.prepare(data.LARGE_DB, data.SYNTHETIC_DEPOSITS)
    port = servers.free_port()
    veta = Path(sys.executable).parent / "veta"
    command = [str(veta), "serve", "--port", str(port), "--workers", str(args.workers)]
    # PYTHONPATH: the tree this file is in, not whichever one the virtualenv was installed from.
    env = {"DATABASE_URL": database_url, "PYTHONPATH": str(data.ROOT)}
    log = data.WORK / "veta-load-mix.log"
    with servers._serving(command, env, "/readyz", port, log) as base:
        root = server_pid(port)
        plan = make_plan(base, database_url)
        load_before = os.getloadavg()
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            load, samples, marks, measured_s, client_cpu, db_cpu, warmup_s = runner.run(
                run_load(base, root, database_url, plan, args.clients, args.seconds, args.warmup)
            )
        load_after = os.getloadavg()
        caches = cache_lookups(base)
    measured = [r for r in load.records if r[0] == "measured"]
    warmup = [r for r in load.records if r[0] == "warm-up"]
    server_cpu = marks["end"]["cpu_s"] - marks["after warm-up"]["cpu_s"]
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": data.machine(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "options": vars(args),
        "client": (
            f"one asyncio process ({_loop_name()}), httpx {httpx.__version__} AsyncClient, "
            f"{args.clients} keep-alive connections (idle ones closed after {KEEPALIVE_S:g} s), each client sends its next request when it "
            "has read the previous answer (no think time); bodies read raw, gzip not decoded"
        ),
        "processes": len(marks["end"]["processes"]),
        "measured_s": measured_s,
        "warmup_s": warmup_s,
        "client_cpu_share": client_cpu / measured_s,
        "server_cpu_share": server_cpu / measured_s,
        "database_cpu_share": db_cpu / measured_s,
        "mib_read": load.bytes_read / 2**20,
        "error_examples": load.error_examples,
        "exceptions": load.exceptions,
        "distinct_tiles_requested": len({r[5] for r in load.records if r[1] == "tile"}),
        "cache_lookups": caches,
        "tiles_planned": sum(len(t) for t in plan.tiles.values()),
        "measured": summarise(measured, measured_s),
        "warmup": summarise(warmup, warmup_s),
        "memory": {
            "start": marks["start"]["rss_mib"],
            "after_warmup": marks["after warm-up"]["rss_mib"],
            "halfway": marks["halfway"]["rss_mib"],
            "max": max(s["rss_mib"] for s in [*samples, marks["end"]]),
            "end": marks["end"]["rss_mib"],
        },
        "marks": marks,
        "samples": samples,
    }
    data.RESULTS.mkdir(exist_ok=True)
    (data.RESULTS / "load_mix.json").write_text(json.dumps(result, indent=2))
    print(report(result))


def report(result: dict) -> str:
    m, every = result["memory"], result["measured"]["all"]
    grew = m["end"] - m["after_warmup"]
    warm_errors = result["warmup"]["all"]["error_kinds"]
    lines = [
        f"## load mix ({result['options']['clients']} clients, {result['measured_s']:.0f} s "
        f"measured after {result['warmup_s']:.0f} s warm-up, `veta serve --workers "
        f"{result['options']['workers']}`, {result['when']})",
        "",
        f"Load average {result['load_average_before'][0]:.2f} before, "
        f"{result['load_average_after'][0]:.2f} after "
        f"({result['machine']['cores']} cores).",
        f"Client: {result['client']}; it used {result['client_cpu_share']:.0%} of a core, "
        f"the server's processes {result['server_cpu_share']:.0%}, PostgreSQL "
        f"{result['database_cpu_share']:.0%} (CPU time over the measured seconds).",
        "",
        table(result),
        "",
        f"Memory: end {m['end']:.0f} MiB against {m['after_warmup']:.0f} MiB after warm-up: "
        + (f"grew by {grew:.1f} MiB." if grew > 0 else f"did not grow ({grew:+.1f} MiB)."),
        f"Tiles: {result['distinct_tiles_requested']} distinct requested (of "
        f"{result['tiles_planned']}); caches at the end "
        + ", ".join(f"{k} {v:.0f}" for k, v in result["cache_lookups"].items())
        + (" (one worker's)." if result["options"]["workers"] > 1 else "."),
        f"Errors: {every['errors']} measured"
        + (f", {sum(warm_errors.values())} in the warm-up ({warm_errors})" if warm_errors else "")
        + ".",
    ]
    for what, example in result["error_examples"].items():
        lines.append(f"- {what}: `{example['path']}` {example.get('body', '')}")
    for e in result["exceptions"]:
        lines.append(
            f"- {e['kind']}: {e['error']} after {e['after_s'] * 1000:.1f} ms ({e['cause']})"
        )
    return "\n".join(lines)


def _loop_factory():
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _loop_name() -> str:
    return "uvloop" if _loop_factory() else "asyncio"


if __name__ == "__main__":
    main()
