"""`python -m benchmarks.planning`: plan impact against single-site screening, and MDoPI assessment speed.

On veta_bench_screening (the León sample, 100,000 synthetic deposits and 5,000 detailed
synthetic zones, built by benchmarks.screening's prepare), through Veta's HTTP API on loopback:
- p50/p95 of POST /planning/impact for municipality-sized plans (the León municipalities
  nearest the median area, as exclusion plans), and of POST /screening for 2 km sites, the two
  alternating in ROUNDS rounds under the same load; the figure is the ratio of the p50s;
- `veta mdopi assess` over every deposit (geo.planning.assessment.assess in one transaction,
  as the command runs it), in deposits per second, once per round before the latencies, so
  that plan impact reads real classes; the rows it added are deleted at the end.
Raw numbers go to benchmarks/results/planning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import httpx
import numpy as np
from sqlalchemy import text

from benchmarks import data
from benchmarks.screening.__main__ import prepare, sample_sites, serving, single_site
from geo.planning.assessment import assess
from geo.planning.method import load_method
from geo.store.db import sync_engine

PLANS = 20
ROUNDS = 3


def municipality_plans(engine) -> list[dict]:
    """PLANS León municipalities around the median area, each as an exclusion plan."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "WITH m AS (SELECT code, ST_AsGeoJSON(geom) AS g, ST_Area(geom::geography) AS a FROM admin_areas "
                "WHERE level = 'municipality' AND code LIKE '24%'), "
                "med AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY a) AS a FROM m) "
                "SELECT code, g, m.a / 1e6 FROM m, med ORDER BY abs(m.a - med.a) LIMIT :n"
            ),
            {"n": PLANS},
        ).all()
    return [
        {
            "type": "Feature",
            "geometry": json.loads(g),
            "properties": {"name": code, "land_use": "protected_area", "legal_effect": "exclusion"},
        }
        for code, g, _ in rows
    ], [km2 for _, _, km2 in rows]


def plan_impact(url: str, plans: list[dict]) -> dict:
    """Latency of POST /planning/impact, one request at a time, after a warm-up of 5."""
    times = []
    with httpx.Client(base_url=url, timeout=300) as client:
        for plan in plans[:5]:
            client.post("/planning/impact", json=plan).raise_for_status()
        for plan in plans:
            started = time.perf_counter()
            client.post("/planning/impact", json=plan).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return {
        "plans": len(times),
        "p50_ms": statistics.median(times),
        "p95_ms": float(np.percentile(times, 95)),
    }


def assess_all(url: str) -> dict:
    """One `veta mdopi assess` of every deposit; its rows stay, so that plan impact reads classes."""
    engine = sync_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        n = assess(conn, load_method())
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"deposits": n, "seconds": seconds, "deposits_per_s": n / seconds}


def remove_assessments(url: str) -> None:
    engine = sync_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM deposit_assessments WHERE method_version = :v"),
            {"v": load_method().version},
        )
    engine.dispose()


def main() -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.planning", description=__doc__)
    parser.add_argument(
        "--fresh", action="store_true", help="drop and rebuild the benchmark databases"
    )
    args = parser.parse_args()
    data.WORK.mkdir(exist_ok=True)
    _, url = prepare(args.fresh)
    engine = sync_engine(url)
    plans, areas_km2 = municipality_plans(engine)
    sites = sample_sites(engine)
    result = {
        "load_average_before": os.getloadavg(),
        "plan_km2_median": statistics.median(areas_km2),
    }
    rounds: dict[str, list[dict]] = {"impact": [], "screening": [], "assess": []}
    remove_assessments(url)
    for _ in range(ROUNDS):
        rounds["assess"].append(assess_all(url))
        with serving(url) as server:
            rounds["screening"].append(single_site(server, sites))
            rounds["impact"].append(plan_impact(server, plans))
        print(
            {
                k: [round(r.get("p50_ms", r.get("seconds", 0)), 1) for r in v]
                for k, v in rounds.items()
            },
            flush=True,
        )
    for name, runs in rounds.items():
        key = "seconds" if name == "assess" else "p50_ms"
        result[name] = {
            **sorted(runs, key=lambda r: r[key])[len(runs) // 2],
            "rounds": [r[key] for r in runs],
        }
    result["ratios"] = [
        i["p50_ms"] / s["p50_ms"] for i, s in zip(rounds["impact"], rounds["screening"])
    ]
    result["load_average_after"] = os.getloadavg()
    remove_assessments(url)
    engine.dispose()
    data.RESULTS.mkdir(exist_ok=True)
    (data.RESULTS / "planning.json").write_text(json.dumps(result, indent=2))
    print(table(result))
    return result


def table(r: dict) -> str:
    rows = [
        f"Load average {r['load_average_before'][0]:.1f} before, {r['load_average_after'][0]:.1f} after; "
        f"plans: {PLANS} León municipalities, median {r['plan_km2_median']:.0f} km².",
        "",
        "| round | plan impact p50 (ms) | single-site screening p50 (ms) | ratio (target <= 1.5) | assess deposits/s |",
        "|---|---|---|---|---|",
    ]
    for i, ratio in enumerate(r["ratios"]):
        rows.append(
            f"| {i + 1} | {r['impact']['rounds'][i]:.0f} | {r['screening']['rounds'][i]:.0f} | {ratio:.2f} "
            f"| {r['assess']['deposits'] / r['assess']['rounds'][i]:,.0f} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
