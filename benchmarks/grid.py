"""`python -m benchmarks.grid`: the cuadrícula endpoints (issue 5), one request at a time.

Veta serves the León sample database (benchmarks.data, `veta_bench_sample`) from a uvicorn
subprocess; each URL is requested until `SECONDS` have passed (at least `MIN_REQUESTS` times)
and its median and 90th-percentile wall time are reported with the response size and what it
answered. Raw numbers go to benchmarks/results/grid.json.
"""

from __future__ import annotations

import json
import os
import statistics
import time

import httpx

from benchmarks import data, servers

SECONDS = 3.0
MIN_REQUESTS = 5

# A 300-cell right (the investigation limit), 20 × 15 cells at 6°30′W 42°36′N.
RIGHT_300 = {
    "type": "Feature",
    "properties": {"right_type": "investigation"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [
                [-6.5, 42.6],
                [-6.5 + 20 / 180, 42.6],
                [-6.5 + 20 / 180, 42.6 + 15 / 180],
                [-6.5, 42.6 + 15 / 180],
                [-6.5, 42.6],
            ]
        ],
    },
}

CASES = [
    ("cell of a point", "GET", "/grid/cells?point=-5.57,42.6", None),
    ("one cell with holders", "GET", "/grid/cells/W01080N07650", None),
    ("cells in a bbox (54 × 36)", "GET", "/grid/cells?bbox=-6,42.5,-5.7,42.7", None),
    ("cells in a bbox (180 × 54)", "GET", "/grid/cells?bbox=-6,42.5,-5,42.8", None),
    ("free ground, Ponferrada (285 km²)", "GET", "/grid/free?area=24115", None),
    ("free ground, Ponferrada merged", "GET", "/grid/free?area=24115&merge=true", None),
    ("free ground, León province", "GET", "/grid/free?area=24", None),
    ("free ground, León province merged", "GET", "/grid/free?area=24&merge=true", None),
    ("conflicts of a right", "GET", "/permits/31/conflicts", None),
    ("registry now", "GET", "/permits?limit=100", None),
    ("registry as of a day", "GET", "/permits?as_of=2026-11-30&limit=100", None),
    ("validate a 300-cell right", "POST", "/permits/validate", RIGHT_300),
    ("OGC grid_cells, first page of 100", "GET", "/collections/grid_cells/items?limit=100", None),
    ("OGC grid_cells, bbox", "GET", "/collections/grid_cells/items?bbox=-6,42.5,-5.9,42.6", None),
]


def _summary(body: dict) -> str:
    if "cell_count" in body and "features" in body:
        return f"{body['cell_count']:,} cells, {body['area_ha']:,.0f} ha in {len(body['features']):,} features"
    if "valid" in body:
        return f"valid={body['valid']}, {body['cell_count']} cells"
    if "features" in body:
        return f"{len(body['features']):,} features"
    return "one feature"


def measure(client: httpx.Client, method: str, path: str, payload: dict | None) -> dict:
    times, started = [], time.perf_counter()
    while len(times) < MIN_REQUESTS or time.perf_counter() - started < SECONDS:
        t0 = time.perf_counter()
        response = client.request(method, path, json=payload)
        times.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    times.sort()
    return {
        "requests": len(times),
        "p50_ms": statistics.median(times),
        "p90_ms": times[int(0.9 * (len(times) - 1))],
        "bytes": len(response.content),
        "answer": _summary(response.json()),
    }


def main() -> dict:
    url = data.prepare(data.SAMPLE_DB, 0)
    results = {}
    with servers.veta(url) as base, httpx.Client(base_url=base, timeout=120) as client:
        for name, method, path, payload in CASES:
            results[name] = {"path": path, **measure(client, method, path, payload)}
    return {"cases": results}


def table(result: dict) -> str:
    lines = ["| request | p50 ms | p90 ms | bytes | answer |", "|---|---:|---:|---:|---|"]
    for name, r in result["cases"].items():
        lines.append(
            f"| {name} (`{r['path']}`) | {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | "
            f"{r['bytes']:,} | {r['answer']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    before = os.getloadavg()
    result = main()
    data.RESULTS.mkdir(exist_ok=True)
    (data.RESULTS / "grid.json").write_text(
        json.dumps({"load_average": before, **result}, indent=2)
    )
    print(f"load average before: {before[0]:.2f}\n")
    print(table(result))
