"""`python -m benchmarks.screening`: site screening on the sample and on 5,000 detailed zones.

Measures, through Veta's HTTP API on loopback:
- single-site p50/p95 of POST /screening (a 2 km buffer around a deposit) on the León sample
  (veta_bench_sample) and on veta_bench_screening (the sample, 100,000 synthetic deposits and
  5,000 synthetic zones of about a million vertices);
- batch screening of every deposit there (GET /screening/deposits?f=csv), in deposits per
  second, with the subdivided zone parts and with the parts table holding the whole polygons
  instead (the same SQL, as if there were no subdivision);
- geopandas `sjoin` of the same deposits with the same zones, in memory, to the same verdicts
  (checked equal to the service's);
- the zone rule one deposit at a time, as /deposits?protection=outside applies it.
The variants alternate in 3 rounds (the parts tables swapped by renaming); each figure is the
median round. Raw numbers go to benchmarks/results/screening.json.
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
from geo.catalog.collections import DEPOSITS
from geo.features.items import ItemsQuery, count_query
from geo.queries.deposits import DepositSearch, deposit_query
from geo.store.db import SESSION_SETTINGS, libpq_url, sync_engine

DB = "veta_bench_screening"
WHOLE = "bench_whole_parts"
SAVED = "bench_subdivided_parts"
SITES = 60
ROUNDS = 3
BUFFER_M = 2_000


def prepare(fresh: bool) -> tuple[str, str]:
    """The sample database and the screening database (zones inserted once), analysed."""
    sample = data.prepare(data.SAMPLE_DB, 0, fresh)
    url = data.prepare(DB, data.SYNTHETIC_DEPOSITS, fresh)
    engine = sync_engine(url)
    with engine.connect() as conn:
        have = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE name LIKE 'Benchmark river corridor%') "
                "FROM protection_zones WHERE source = 'benchmark-screening'"
            )
        ).scalar()
    if have != CORRIDORS:
        started = time.perf_counter()
        vertices = insert_zones(engine)
        print(
            f"inserted 5,000 zones, {vertices:,} vertices, in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return sample, url


def sample_sites(engine: Engine) -> list[dict]:
    """SITES deposits chosen by a fixed hash, each as a Point with a 2 km buffer."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM deposits "
                "ORDER BY md5(id::text) LIMIT :n"
            ),
            {"n": SITES},
        ).all()
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
    return {
        "sites": len(times),
        "p50_ms": statistics.median(times),
        "p95_ms": float(np.percentile(times, 95)),
        "max_ms": max(times),
    }


def rule_per_deposit(url: str) -> dict:
    """The zone rule as /deposits?protection=outside applies it, one probe per deposit (the
    count statement geo/queries/deposits.py builds), timed through asyncpg with the service's settings."""
    query = count_query(deposit_query(ItemsQuery(DEPOSITS), DepositSearch(protection="outside")))

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
    return {
        "deposits": total,
        "outside": outside,
        "seconds": seconds,
        "deposits_per_s": total / seconds,
    }


def batch(url: str) -> dict:
    """GET /screening/deposits?f=csv read to the end: deposits per second and verdict counts."""
    verdicts: Counter = Counter()
    started = time.perf_counter()
    with (
        httpx.Client(base_url=url, timeout=3_600) as client,
        client.stream("GET", "/screening/deposits?f=csv") as response,
    ):
        response.raise_for_status()
        body = "".join(response.iter_text())
    seconds = time.perf_counter() - started
    for row in csv.DictReader(io.StringIO(body)):
        verdicts[row["verdict"]] += 1
    deposits = sum(verdicts.values())
    return {
        "deposits": deposits,
        "seconds": seconds,
        "deposits_per_s": deposits / seconds,
        "verdicts": dict(verdicts),
    }


@contextmanager
def serving(url: str):
    """Veta on `url`'s database; a start is retried, since other work on this shared machine can
    take the port or half-write a file of the tree at the wrong moment."""
    for attempt in range(3):
        try:
            server = veta(url)
            base = server.__enter__()
            break
        except RuntimeError:
            if attempt == 2:
                raise
            time.sleep(5)
    try:
        yield base
    finally:
        server.__exit__(None, None, None)


def build_whole_parts(engine: Engine) -> None:
    """A copy of the parts table holding each zone's whole polygons instead (no subdivision)."""
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {WHOLE}"))
        conn.execute(text(f"CREATE TABLE {WHOLE} (LIKE protection_zone_parts INCLUDING ALL)"))
        conn.execute(
            text(
                f"INSERT INTO {WHOLE} (zone_id, geom) SELECT id, (ST_Dump(geom)).geom FROM protection_zones"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {WHOLE}"))


@contextmanager
def parts_table(engine: Engine, whole: bool):
    """Run the block with protection_zone_parts holding whole polygons (whole=True) or the
    subdivided parts: the same SQL either way; swapped by renaming, instantly, so that both
    variants can alternate in short rounds under the same load."""
    if not whole:
        yield
        return
    with engine.begin() as conn:
        for old, new in [("protection_zone_parts", SAVED), (WHOLE, "protection_zone_parts")]:
            conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            for old, new in [("protection_zone_parts", WHOLE), (SAVED, "protection_zone_parts")]:
                conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def geopandas_sjoin(engine: Engine) -> dict:
    """The verdict of every deposit with geopandas in memory: sjoin on intersects, then the
    depth rule and the strongest legal effect. Reading the tables is not timed."""
    deposits = gpd.read_postgis(
        "SELECT id, depth_top_m, depth_bottom_m, geom FROM deposits", engine, geom_col="geom"
    )
    zones = gpd.read_postgis(
        "SELECT legal_effect, depth_top_m, depth_bottom_m, geom FROM protection_zones "
        "WHERE legal_effect IN ('exclusion', 'conditional') "
        "AND (valid_from IS NULL OR valid_from <= current_date) AND (valid_to IS NULL OR valid_to >= current_date)",
        engine,
        geom_col="geom",
    )
    started = time.perf_counter()
    pairs = gpd.sjoin(
        deposits, zones, predicate="intersects", how="inner", lsuffix="d", rsuffix="z"
    )
    inf = np.inf
    overlap = (pairs["depth_top_m_z"].fillna(0) < pairs["depth_bottom_m_d"].fillna(inf)) & (
        pairs["depth_top_m_d"].fillna(0) < pairs["depth_bottom_m_z"].fillna(inf)
    )
    constraining = pairs[overlap]
    excluded = set(constraining.loc[constraining["legal_effect"] == "exclusion", "id"])
    conditional = set(constraining["id"]) - excluded
    seconds = time.perf_counter() - started
    verdicts = {
        "excluded": len(excluded),
        "conditional": len(conditional),
        "free": len(deposits) - len(excluded) - len(conditional),
    }
    return {
        "deposits": len(deposits),
        "seconds": seconds,
        "deposits_per_s": len(deposits) / seconds,
        "verdicts": verdicts,
    }


def main() -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.screening", description=__doc__)
    parser.add_argument(
        "--fresh", action="store_true", help="drop and rebuild the benchmark databases"
    )
    args = parser.parse_args()
    data.WORK.mkdir(exist_ok=True)
    sample_url, url = prepare(args.fresh)
    engine = sync_engine(url)
    with engine.connect() as conn:
        vertices, parts = conn.execute(
            text(
                "SELECT (SELECT sum(ST_NPoints(geom)) FROM protection_zones), (SELECT count(*) FROM protection_zone_parts)"
            )
        ).one()
    result = {
        "zones_vertices": int(vertices),
        "parts": parts,
        "load_average_before": os.getloadavg(),
    }

    def measured(name: str, value: dict) -> None:
        result[name] = value
        print(f"{name}: {json.dumps(value)}", flush=True)

    sample_engine = sync_engine(sample_url)
    with serving(sample_url) as server:
        measured("single_sample", single_site(server, sample_sites(sample_engine)))
    sample_engine.dispose()
    sites = sample_sites(engine)
    build_whole_parts(engine)
    # Every variant once per round, in turn, so that all of them see the same mix of load.
    rounds: dict[str, list[dict]] = {}
    for _ in range(ROUNDS):
        rounds.setdefault("geopandas", []).append(geopandas_sjoin(engine))
        for whole in (False, True):
            name = "whole" if whole else "subdivided"
            with parts_table(engine, whole):
                with serving(url) as server:
                    rounds.setdefault(f"single_{name}", []).append(single_site(server, sites))
                    rounds.setdefault(f"batch_{name}", []).append(batch(server))
                rounds.setdefault(f"rule_{name}", []).append(rule_per_deposit(url))
        print(
            {
                k: [round(r.get("seconds", r.get("p50_ms", 0)), 1) for r in v]
                for k, v in rounds.items()
            },
            flush=True,
        )
    for name, runs in rounds.items():
        key = "p50_ms" if name.startswith("single") else "seconds"
        measured(
            name,
            {
                **sorted(runs, key=lambda r: r[key])[len(runs) // 2],
                "rounds": [r[key] for r in runs],
            },
        )
    engine.dispose()
    if (
        not result["geopandas"]["verdicts"]
        == result["batch_subdivided"]["verdicts"]
        == result["batch_whole"]["verdicts"]
    ):
        raise RuntimeError(f"verdicts differ: {json.dumps(result)}")
    result["load_average_after"] = os.getloadavg()
    data.RESULTS.mkdir(exist_ok=True)
    (data.RESULTS / "screening.json").write_text(json.dumps(result, indent=2))
    print(table(result))
    return result


def table(r: dict) -> str:
    """The README's table: one row per round, each comparison within its round."""
    rows = [
        (
            f"Zones: 5,000 synthetic, {r['zones_vertices']:,} vertices, {r['parts']:,} parts; load average "
            f"{r['load_average_before'][0]:.1f} before, {r['load_average_after'][0]:.1f} after. Single site on the "
            f"sample: p50 {r['single_sample']['p50_ms']:.1f} ms, p95 {r['single_sample']['p95_ms']:.1f} ms."
        ),
        "",
        (
            "| round | single site p50, parts / whole (ms) | batch, parts / whole / geopandas (s) "
            "| batch deposits/s with parts | rule per deposit, parts / whole (s) |"
        ),
        "|---|---|---|---|---|",
    ]
    deposits = r["batch_subdivided"]["deposits"]
    for i in range(len(r["geopandas"]["rounds"])):
        single, single_whole = r["single_subdivided"]["rounds"][i], r["single_whole"]["rounds"][i]
        batch_s, batch_whole = r["batch_subdivided"]["rounds"][i], r["batch_whole"]["rounds"][i]
        pandas_s = r["geopandas"]["rounds"][i]
        rule, rule_whole = r["rule_subdivided"]["rounds"][i], r["rule_whole"]["rounds"][i]
        rows.append(
            f"| {i + 1} | {single:.1f} / {single_whole:.1f} ({single_whole / single:.1f}x) "
            f"| {batch_s:.1f} / {batch_whole:.1f} / {pandas_s:.1f} ({batch_whole / batch_s:.1f}x; "
            f"{pandas_s / batch_s:.1f}x geopandas) | {deposits / batch_s:,.0f} "
            f"| {rule:.1f} / {rule_whole:.1f} ({rule_whole / rule:.1f}x) |"
        )
    rows += [
        "",
        f"Verdicts (equal for the service and geopandas): {r['batch_subdivided']['verdicts']}",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
