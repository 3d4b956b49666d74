"""`python -m benchmarks.scale [--sizes 10000,100000,1000000,5000000] [--zones 5000,50000]
[--rounds 2] [--seconds 3] [--rebuild]`: capacity curves (issue 17, benchmarks/SCALE.md).

One database per (deposits, zones) pair, `veta_scale_<deposits>_z<zones>` (e.g.
veta_scale_100k_z5k), on the server Veta uses (DATABASE_URL, as data.py finds it): the León
sample plus synthetic deposits spread uniformly over a coarse outline of peninsular Spain, and
synthetic protection zones (round polygons of log-normal size, also over Spain), analysed. Built
once and kept; a re-run only measures (`--rebuild` remakes them). Then one Veta server per
database (tile cache off, counts remembered as deployed) and wrk at one connection over each
request kind in alternating short rounds: p50 and p99 are the medians of the rounds', with the
load average before and after every database. Raw numbers: benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import text

from benchmarks import data, load, servers
from geo.store.db import sync_engine

DEPOSIT_SEED = 0.417
ZONE_SEED = 0.733

# Peninsular Spain, coarsely (about 30 km off the coast and the borders at worst): the points
# fall where Spain is, not in Portugal or the sea. Uniform inside it; real occurrences cluster
# in the mining belts (Iberian Pyrite Belt, the north-west's tungsten and tin, Asturian and
# Leonese coal), which makes a dense region's searches heavier than here.
SPAIN = (
    "POLYGON((-9.3 43.2,-8.0 43.75,-4.5 43.5,-1.8 43.4,-0.7 42.9,0.7 42.85,3.2 42.45,3.2 41.9,"
    "0.9 41.0,0.1 40.0,-0.3 39.4,0.2 38.75,-0.7 37.6,-2.1 36.7,-4.4 36.7,-5.6 36.0,-6.3 36.8,"
    "-7.4 37.2,-7.5 37.6,-7.0 38.2,-7.3 39.4,-6.9 40.2,-6.8 41.0,-6.2 41.6,-6.6 41.95,"
    "-8.1 41.8,-8.9 41.9,-9.3 43.2))"
)

# Points drawn in Spain's box, kept when inside the outline (about half are): the statement
# draws 2.2 times what it needs and keeps the first `count`.
_DEPOSITS = data.synthetic_deposits_sql(
    f"""draws AS (
    SELECT ST_SetSRID(ST_MakePoint(-9.3 + random() * 12.5, 36.0 + random() * 7.75), 4326) AS point,
           {data.RANDOMS}
    FROM generate_series(1, ceil(:count * 2.2)::int)
), inside AS (
    SELECT row_number() OVER () AS n, draws.*
    FROM draws WHERE ST_Intersects(point, ST_GeomFromText(:spain, 4326))
    LIMIT :count
)""",
    "inside",
    "Scale",
    "scale",
    "benchmarks/scale.py",
)

# Zones: a centre in Spain and a radius drawn log-normal (median 1.2 km, sigma 0.9, at most
# 25 km: most sites small, a few large, mean area about 23 km2), buffered on the sphere into a
# valid 16-sided polygon. Natura 2000 in Spain is about 1,900 sites over 27 % of the land; 5,000
# of these cover roughly a fifth of it, 50,000 overlap heavily (a stress case, not a map).
_ZONES = """
WITH draws AS (
    SELECT ST_SetSRID(ST_MakePoint(-9.3 + random() * 12.5, 36.0 + random() * 7.75), 4326) AS centre,
           random() AS u1, random() AS u2, random() AS effect, random() AS deep, random() AS depth
    FROM generate_series(1, ceil(:count * 2.2)::int)
), inside AS (
    SELECT row_number() OVER () AS n, draws.*,
           least(25000, 1200 * exp(0.9 * sqrt(-2 * ln(greatest(u1, 1e-12))) * cos(2 * pi() * u2))) AS radius
    FROM draws WHERE ST_Intersects(centre, ST_GeomFromText(:spain, 4326))
    LIMIT :count
)
INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, depth_top_m,
                              depth_bottom_m, geom, source, source_id, licence, remarks)
SELECT 'Scale zone ' || n, 'other', 'synthetic',
       CASE WHEN effect < 0.4 THEN 'exclusion' WHEN effect < 0.8 THEN 'conditional'
            WHEN effect < 0.9 THEN 'safeguarding' ELSE 'informative' END,
       CASE WHEN deep < 0.2 THEN 0.0 END,
       CASE WHEN deep < 0.2 THEN 100 + floor(depth * 400) END,
       ST_Multi(ST_Buffer(centre::geography, radius, 'quad_segs=4')::geometry),
       :source, 'scale-zone-' || n, 'CC0-1.0',
       'Synthetic benchmark zone (benchmarks/scale.py), not a real protection.'
FROM inside
"""

# The audit trail records every inserted row; a build of millions does not need it.
_AUDIT = ("deposits_audit_insert", "protection_zones_audit_insert")

# The request kinds; the site and the tiles are in León, where the sample is.
SITE = {
    "type": "Polygon",
    "coordinates": [
        [[-6.62, 42.55], [-6.605, 42.55], [-6.605, 42.56], [-6.62, 42.56], [-6.62, 42.55]]
    ],
}
CENTRE = (-6.6, 42.6)


def _tile(z: int) -> str:
    lon, lat = CENTRE
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"/collections/deposits/tiles/WebMercatorQuad/{z}/{x}/{y}"


REQUESTS = {
    "items, limit 100": "/collections/deposits/items?limit=100",
    "items, limit 100, bbox": "/collections/deposits/items?limit=100&bbox=-6.9,42.3,-6.3,42.7",
    "headline /deposits": "/deposits?commodity=W,Li&area=leon&protection=outside",
    "screening POST": "/screening",
    "tile z8": _tile(8),
    "tile z12": _tile(12),
}


def label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def build(deposits: int, zones: int, rebuild: bool) -> tuple[str, dict]:
    """The database for one pair, made if missing (or `rebuild`); its URL and how it was made."""
    name = f"veta_scale_{label(deposits)}_z{label(zones)}"
    url = data.url_of(name)
    engine = sync_engine(url)
    try:
        if not rebuild:
            try:
                with engine.connect() as conn:
                    have = conn.execute(
                        text(
                            "SELECT (SELECT count(*) FROM deposits WHERE source = :s), "
                            "(SELECT count(*) FROM protection_zones WHERE source = :s), "
                            "pg_database_size(current_database())"
                        ),
                        {"s": "scale"},
                    ).one()
                if tuple(have[:2]) == (deposits, zones):
                    return url, {
                        "database": name,
                        "built": False,
                        "size_mb": round(have[2] / 2**20),
                    }
            except Exception:  # noqa: BLE001 - missing or half-made: build it below
                pass
        engine.dispose()
        started, before = time.monotonic(), uptime()
        data.prepare(name, 0, fresh=True)
        values = {**data._insert_values(deposits), "source": "scale", "spain": SPAIN}
        timings = {}
        with engine.begin() as conn:
            for trigger in _AUDIT:
                table = trigger.rsplit("_audit", 1)[0]
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}"))
            conn.execute(text("SELECT setseed(:f)"), {"f": DEPOSIT_SEED})
            t = time.monotonic()
            conn.execute(text(_DEPOSITS), values)
            timings["deposits_s"] = round(time.monotonic() - t, 1)
            conn.execute(text("SELECT setseed(:f)"), {"f": ZONE_SEED})
            t = time.monotonic()
            conn.execute(text(_ZONES), {"count": zones, "source": "scale", "spain": SPAIN})
            timings["zones_s"] = round(time.monotonic() - t, 1)
            for trigger in _AUDIT:
                table = trigger.rsplit("_audit", 1)[0]
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}"))
        t = time.monotonic()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        timings["vacuum_analyze_s"] = round(time.monotonic() - t, 1)
        return url, {
            "database": name,
            "built": True,
            "build_s": round(time.monotonic() - started, 1),
            **timings,
            "size_mb": round(size / 2**20),
            "uptime_before": before,
            "uptime_after": uptime(),
        }
    finally:
        engine.dispose()


def _post_script(body: dict) -> Path:
    """A wrk script that POSTs `body` as JSON and reports as wrk_report.lua does."""
    script = data.WORK / "scale_post.lua"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{json.dumps(body)}]==]\n"
        f'dofile("{load.REPORT}")\n'
    )
    return script


def measure(url: str, rounds: int, seconds: float) -> dict:
    """Every request kind against one database's server, in alternating rounds."""
    post = _post_script(SITE)
    runs: dict[str, list[load.LoadResult]] = {name: [] for name in REQUESTS}
    answers = {}
    with servers.veta(url, env={"VETA_TILE_CACHE_MB": "0"}, log="scale.log") as base:
        with httpx.Client(timeout=120, headers={"Accept-Encoding": "gzip"}) as client:
            for name, path in REQUESTS.items():  # check each answers, and what it answers
                if name.startswith("screening"):
                    r = client.post(base + path, json=SITE)
                else:
                    r = client.get(base + path)
                r.raise_for_status()
                answers[name] = _answer(r)
        before = uptime()
        for _ in range(rounds):
            for name, path in REQUESTS.items():
                script = post if name.startswith("screening") else load.REPORT
                runs[name].append(load.run_wrk(base + path, 1, seconds, script=script))
        after = uptime()
    return {
        "uptime_before": before,
        "uptime_after": after,
        "requests": {
            name: {
                "path": REQUESTS[name],
                "answer": answers[name],
                "requests": sum(r.requests for r in results),
                "p50_ms": round(statistics.median(r.p50_ms for r in results), 2),
                "p99_ms": round(statistics.median(r.p99_ms for r in results), 2),
                "rounds_p50_ms": [round(r.p50_ms, 2) for r in results],
            }
            for name, results in runs.items()
        },
    }


def _answer(response: httpx.Response) -> str:
    if "json" in response.headers.get("content-type", ""):
        body = response.json()
        if "numberMatched" in body:
            return f"{body.get('numberReturned')} of {body['numberMatched']}"
        return f"{len(response.content)} bytes"
    return f"{len(response.content)} bytes"


def table(results: list[dict]) -> str:
    lines = [
        "| deposits | zones | "
        + " | ".join(f"{k} p50 / p99 ms" for k in REQUESTS)
        + " | load before → after |",
        "|---:|---:|" + "---:|" * len(REQUESTS) + "---|",
    ]
    for r in results:
        cells = [f"{q['p50_ms']} / {q['p99_ms']}" for q in r["requests"].values()]
        load_before = r["uptime_before"].rsplit("load average: ", 1)[-1]
        load_after = r["uptime_after"].rsplit("load average: ", 1)[-1]
        lines.append(
            f"| {r['deposits']:,} | {r['zones']:,} | "
            + " | ".join(cells)
            + f" | {load_before} → {load_after} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000,5000000")
    parser.add_argument("--zones", default="5000,50000")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    zone_counts = [int(z) for z in args.zones.split(",")]
    data.RESULTS.mkdir(exist_ok=True)
    out = data.RESULTS / "scale.json"
    results: list[dict] = json.loads(out.read_text())["results"] if out.exists() else []
    for deposits in sizes:
        for zones in zone_counts:
            url, made = build(deposits, zones, args.rebuild)
            print(f"{made['database']}: {made}", flush=True)
            figures = measure(url, args.rounds, args.seconds)
            entry = {
                "deposits": deposits,
                "zones": zones,
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "build": made,
                **figures,
            }
            results = [r for r in results if (r["deposits"], r["zones"]) != (deposits, zones)]
            results.append(entry)
            results.sort(key=lambda r: (r["zones"], r["deposits"]))
            out.write_text(json.dumps({"machine": data.machine(), "results": results}, indent=2))
            print(table([entry]), flush=True)
    print(table(results))
    print(sizing(results))


# The sizing of SCALE.md, redone from whatever the run measured. The regions' data sizes and
# peak loads are assumptions (SCALE.md gives their sources or says they are estimates).
REGIONS = (  # (name, deposits curve used, peak requests/s)
    ("Castilla y León", 10_000, 10),
    ("Spain", 100_000, 50),
    ("EU", 1_000_000, 200),
    ("EU, 5M headroom", 5_000_000, 200),
)
# Per 100 requests, after load_mix.py's weights (single items counted as pages, CQL2 as bbox).
MIX = {
    "items, limit 100": 30,
    "items, limit 100, bbox": 20,
    "headline /deposits": 15,
    "tile z8": 10,
    "tile z12": 20,
    "screening POST": 5,
}
BUSY = 0.6  # at most 60 % busy, so that p99 stays near the curves'
CORES_PER_MACHINE = 4
WORKERS_PER_MACHINE = 2
WORKER_GB = 0.36  # a worker's RSS under the 50-client mix (README, "Load held")


def sizing(results: list[dict]) -> str:
    """Cores, machines and RAM per region from the measured p50s: at each deposit size, the
    slower of the zone variants for each kind (the load made the same database differ 2x)."""
    lines = []
    for name, deposits, peak in REGIONS:
        rows = [r for r in results if r["deposits"] == deposits]
        if not rows:
            lines.append(f"{name}: no measurement at {deposits:,} deposits")
            continue
        p50 = {k: max(r["requests"][k]["p50_ms"] for r in rows) for k in MIX}
        s = sum(MIX[k] * p50[k] for k in MIX) / sum(MIX.values())
        cores = peak * s / 1000 / BUSY
        machines = math.ceil(cores / CORES_PER_MACHINE)
        size_mb = max(r["build"].get("size_mb") or 0 for r in rows)
        ram = size_mb / 1024 * 1.3 + WORKERS_PER_MACHINE * WORKER_GB + 1
        terms = " + ".join(f"{MIX[k]}×{p50[k]:g}" for k in MIX)
        lines.append(
            f"**{name}** ({deposits:,} deposits, peak {peak} req/s): S = ({terms}) / 100 = "
            f"**{s:.1f} ms**; one core ≈ 1000 / {s:.1f} = {1000 / s:.0f} req/s; cores = {peak} × "
            f"{s:.1f} / 1000 / {BUSY} = **{cores:.2f}** → {machines} machine(s) of "
            f"{CORES_PER_MACHINE} cores + 1 spare; RAM per machine = {size_mb} MB × 1.3 + "
            f"{WORKERS_PER_MACHINE} × {WORKER_GB} GB + 1 GB = {ram:.1f} GB"
        )
    return "\n\n".join(lines)


if __name__ == "__main__":
    main()
