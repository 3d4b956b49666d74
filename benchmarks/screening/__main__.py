"""`python -m benchmarks.screening`: site screening on the sample and on 5,000 detailed zones.

Measures, through Veta's HTTP API on loopback:
- single-site p50/p95 of POST /screening (a 2 km buffer around a deposit) on the León sample
  (veta_bench_sample) and on veta_bench_screening (the sample, 100,000 synthetic deposits and
  5,000 synthetic zones of about a million vertices);
- batch screening of every deposit there (GET /screening/deposits?f=csv), in deposits per
  second, with the subdivided zone parts and with the parts table holding the whole polygons
  instead (the same SQL, as if there were no subdivision);
- geopandas `sjoin` of the same deposits with the same zones, in memory, to the same verdicts
  (checked equal to the service's).
Raw numbers go to benchmarks/results/screening.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import statistics
import time
from collections import Counter
from contextlib import contextmanager

import asyncpg
import geopandas as gpd
import httpx
import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import Engine

from benchmarks import data
from benchmarks.screening.zones import CORRIDORS, insert_zones
from benchmarks.servers import veta
from geo.db import SESSION_SETTINGS, libpq_url, sync_engine
from geo.deposits import DepositSearch, count_query

DB = "veta_bench_screening"
SITES = 100
BUFFER_M = 2_000


def prepare(fresh: bool) -> tuple[str, str]:
    """The sample database and the screening database (zones inserted once), analysed."""
    sample = data.prepare(data.SAMPLE_DB, 0, fresh)
    url = data.prepare(DB, data.SYNTHETIC_DEPOSITS, fresh)
    engine = sync_engine(url)
    with engine.connect() as conn:
        have = conn.execute(text("SELECT count(*) FILTER (WHERE name LIKE 'Benchmark river corridor%') "
                                 "FROM protection_zones WHERE source = 'benchmark-screening'")).scalar()
    if have != CORRIDORS:
        started = time.perf_counter()
        vertices = insert_zones(engine)
        print(f"inserted 5,000 zones, {vertices:,} vertices, in {time.perf_counter() - started:.1f} s", flush=True)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return sample, url


def sample_sites(engine: Engine) -> list[dict]:
    """SITES deposits chosen by a fixed hash, each as a Point with a 2 km buffer."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM deposits "
            "ORDER BY md5(id::text) LIMIT :n"), {"n": SITES}).all()
    return [{"type": "Point", "coordinates": [x, y], "buffer_m": BUFFER_M} for x, y in rows]


def single_site(url: str, sites: list[dict]) -> dict:
    """Latency of POST /screening, one request at a time, after a warm-up round of 10."""
    times = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for site in sites[:10]:
            client.post("/screening", json=site).raise_for_status()
        for site in sites:
            started = time.perf_counter()
            client.post("/screening", json=site).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return {"sites": len(times), "p50_ms": statistics.median(times),
            "p95_ms": float(np.percentile(times, 95)), "max_ms": max(times)}


def rule_per_deposit(url: str) -> dict:
    """The zone rule as /deposits?protection=outside applies it, one probe per deposit (the
    count statement geo/deposits.py builds), timed through asyncpg with the service's settings."""
    query = count_query(DepositSearch(protection="outside"))

    async def run() -> tuple[int, int, float]:
        conn = await asyncpg.connect(libpq_url(url), server_settings=SESSION_SETTINGS)
        try:
            total = await conn.fetchval("SELECT count(*) FROM deposits")
            started = time.perf_counter()
            outside = await conn.fetchval(query.text, *query.values)
            return total, outside, time.perf_counter() - started
        finally:
            await conn.close()

    total, outside, seconds = asyncio.run(run())
    return {"deposits": total, "outside": outside, "seconds": seconds, "deposits_per_s": total / seconds}


def batch(url: str) -> dict:
    """GET /screening/deposits?f=csv read to the end: deposits per second and verdict counts."""
    verdicts: Counter = Counter()
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=3_600) as client, client.stream("GET", "/screening/deposits?f=csv") as response:
        response.raise_for_status()
        body = "".join(response.iter_text())
    seconds = time.perf_counter() - started
    for row in csv.DictReader(io.StringIO(body)):
        verdicts[row["verdict"]] += 1
    deposits = sum(verdicts.values())
    return {"deposits": deposits, "seconds": seconds, "deposits_per_s": deposits / seconds, "verdicts": dict(verdicts)}


@contextmanager
def whole_polygons_as_parts(engine: Engine):
    """The parts table holding each zone's whole polygons (no subdivision), restored after."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_saved_parts AS TABLE protection_zone_parts"))
        conn.execute(text("DELETE FROM protection_zone_parts"))
        conn.execute(text("INSERT INTO protection_zone_parts (zone_id, geom) "
                          "SELECT id, (ST_Dump(geom)).geom FROM protection_zones"))
    _analyze(engine)
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM protection_zone_parts"))
            conn.execute(text("INSERT INTO protection_zone_parts SELECT * FROM bench_saved_parts"))
            conn.execute(text("DROP TABLE bench_saved_parts"))
        _analyze(engine)


def _analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE protection_zone_parts"))


def geopandas_sjoin(engine: Engine) -> dict:
    """The verdict of every deposit with geopandas in memory: sjoin on intersects, then the
    depth rule and the strongest legal effect. Reading the tables is not timed."""
    deposits = gpd.read_postgis("SELECT id, depth_top_m, depth_bottom_m, geom FROM deposits", engine, geom_col="geom")
    zones = gpd.read_postgis(
        "SELECT legal_effect, depth_top_m, depth_bottom_m, geom FROM protection_zones "
        "WHERE legal_effect IN ('exclusion', 'conditional') "
        "AND (valid_from IS NULL OR valid_from <= current_date) AND (valid_to IS NULL OR valid_to >= current_date)",
        engine, geom_col="geom")
    started = time.perf_counter()
    pairs = gpd.sjoin(deposits, zones, predicate="intersects", how="inner", lsuffix="d", rsuffix="z")
    inf = np.inf
    overlap = (pairs["depth_top_m_z"].fillna(0) < pairs["depth_bottom_m_d"].fillna(inf)) & (
        pairs["depth_top_m_d"].fillna(0) < pairs["depth_bottom_m_z"].fillna(inf))
    constraining = pairs[overlap]
    excluded = set(constraining.loc[constraining["legal_effect"] == "exclusion", "id"])
    conditional = set(constraining["id"]) - excluded
    seconds = time.perf_counter() - started
    verdicts = {"excluded": len(excluded), "conditional": len(conditional),
                "free": len(deposits) - len(excluded) - len(conditional)}
    return {"deposits": len(deposits), "seconds": seconds, "deposits_per_s": len(deposits) / seconds,
            "verdicts": verdicts}


def main() -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.screening", description=__doc__)
    parser.add_argument("--fresh", action="store_true", help="drop and rebuild the benchmark databases")
    args = parser.parse_args()
    data.WORK.mkdir(exist_ok=True)
    sample_url, url = prepare(args.fresh)
    engine = sync_engine(url)
    with engine.connect() as conn:
        vertices, parts = conn.execute(text(
            "SELECT (SELECT sum(ST_NPoints(geom)) FROM protection_zones), (SELECT count(*) FROM protection_zone_parts)")).one()
    result = {"zones_vertices": int(vertices), "parts": parts, "load_average_before": os.getloadavg()}

    def measured(name: str, value: dict) -> None:
        result[name] = value
        print(f"{name}: {json.dumps(value)}", flush=True)

    sample_engine = sync_engine(sample_url)
    with veta(sample_url) as server:
        measured("single_sample", single_site(server, sample_sites(sample_engine)))
    sample_engine.dispose()
    sites = sample_sites(engine)
    measured("geopandas", geopandas_sjoin(engine))
    with veta(url) as server:
        measured("single_detailed", single_site(server, sites))
        measured("batch_subdivided", batch(server))
    measured("rule_subdivided", rule_per_deposit(url))
    with whole_polygons_as_parts(engine):
        measured("rule_whole", rule_per_deposit(url))
        with veta(url) as server:
            measured("single_whole", single_site(server, sites))
            measured("batch_whole", batch(server))
    engine.dispose()
    if not result["geopandas"]["verdicts"] == result["batch_subdivided"]["verdicts"] == result["batch_whole"]["verdicts"]:
        raise RuntimeError(f"verdicts differ: {json.dumps(result)}")
    result["load_average_after"] = os.getloadavg()
    data.RESULTS.mkdir(exist_ok=True)
    (data.RESULTS / "screening.json").write_text(json.dumps(result, indent=2))
    print(table(result))
    return result


def table(r: dict) -> str:
    sub, whole, gp = r["batch_subdivided"], r["batch_whole"], r["geopandas"]
    return "\n".join([
        f"Zones: 5,000 synthetic, {r['zones_vertices']:,} vertices, {r['parts']:,} parts; "
        f"load average {r['load_average_before'][0]:.1f} before, {r['load_average_after'][0]:.1f} after.",
        "",
        "| single site (POST /screening, 2 km buffer) | p50 ms | p95 ms |",
        "|---|---|---|",
        f"| León sample (18 zones) | {r['single_sample']['p50_ms']:.1f} | {r['single_sample']['p95_ms']:.1f} |",
        f"| 5,000 detailed zones, subdivided parts | {r['single_detailed']['p50_ms']:.1f} | {r['single_detailed']['p95_ms']:.1f} |",
        f"| 5,000 detailed zones, whole polygons | {r['single_whole']['p50_ms']:.1f} | {r['single_whole']['p95_ms']:.1f} |",
        "",
        f"| batch: {sub['deposits']:,} deposits | seconds | deposits/s | vs whole polygons |",
        "|---|---|---|---|",
        f"| GET /screening/deposits?f=csv, subdivided parts | {sub['seconds']:.1f} | {sub['deposits_per_s']:,.0f} | "
        f"{sub['deposits_per_s'] / whole['deposits_per_s']:.1f}x |",
        f"| GET /screening/deposits?f=csv, whole polygons | {whole['seconds']:.1f} | {whole['deposits_per_s']:,.0f} | 1.0x |",
        f"| geopandas sjoin in memory (verdict only) | {gp['seconds']:.1f} | {gp['deposits_per_s']:,.0f} | "
        f"{gp['deposits_per_s'] / whole['deposits_per_s']:.1f}x |",
        "",
        "| the zone rule per deposit (/deposits?protection=outside, count) | seconds | deposits/s | ratio |",
        "|---|---|---|---|",
        f"| subdivided parts | {r['rule_subdivided']['seconds']:.1f} | {r['rule_subdivided']['deposits_per_s']:,.0f} | "
        f"{r['rule_subdivided']['deposits_per_s'] / r['rule_whole']['deposits_per_s']:.1f}x |",
        f"| whole polygons | {r['rule_whole']['seconds']:.1f} | {r['rule_whole']['deposits_per_s']:,.0f} | 1.0x |",
        "",
        f"Verdicts (equal in all three): {sub['verdicts']}",
    ])


if __name__ == "__main__":
    main()
