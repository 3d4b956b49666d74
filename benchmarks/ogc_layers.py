"""Issue 3, what the tipg comparison does not cover: CRSs, sorted keyset paging, the screening
collection and the file formats, each against the plain GeoJSON page on 100,000 deposits.

`python -m benchmarks.ogc_layers` (after `python -m benchmarks data`); prints a Markdown table and
keeps the numbers in benchmarks/results/ogc_layers.json.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from urllib.parse import urlencode

import httpx

from benchmarks import data, servers
from benchmarks.load import ACCEPT_ENCODING

REPEATS = 9  # one request at a time; the median is reported
UTM_BOX = "180000,4650000,240000,4700000"  # the Bierzo in EPSG:25830
DEEP = 50_000

REQUESTS = {
    "GeoJSON, limit 1000": "/collections/deposits/items?limit=1000",
    "crs=EPSG:25830, limit 1000": "/collections/deposits/items?limit=1000&crs=EPSG:25830",
    "crs=EPSG:4326 (lat first), limit 1000": "/collections/deposits/items?limit=1000&crs=EPSG:4326",
    "bbox, limit 1000": "/collections/deposits/items?limit=1000&bbox=-6.9,42.3,-6.3,42.7",
    "bbox-crs=EPSG:25830, limit 1000": f"/collections/deposits/items?limit=1000&bbox={UTM_BOX}&bbox-crs=EPSG:25830",
    "sortby=-size_class,name, limit 100": "/collections/deposits/items?limit=100&sortby=-size_class,name",
    "screening, limit 100": "/collections/deposit_screening/items?limit=100",
    "screening, protection_status = 'free', limit 100": "/collections/deposit_screening/items?"
    + urlencode({"limit": 100, "filter": "protection_status = 'free'"}),
    "CSV, limit 10000": "/collections/deposits/items?limit=10000&f=csv",
    "FlatGeobuf, limit 10000": "/collections/deposits/items?limit=10000&f=fgb",
    "GeoJSON, limit 10000": "/collections/deposits/items?limit=10000",
}


def deep(url: str, first_path: str) -> str:
    """The page DEEP features in, reached as a client reaches it: following next links."""
    path, skipped = first_path.replace("limit=100", "limit=10000"), 0
    with httpx.Client(timeout=300) as client:
        page_url = url + path
        while skipped < DEEP:
            page = client.get(page_url).raise_for_status().json()
            skipped += page["numberReturned"]
            page_url = next(link["href"] for link in page["links"] if link["rel"] == "next")
    return page_url.replace("limit=10000", "limit=100")


def measure(client: httpx.Client, url: str) -> dict:
    """Median and worst time of REPEATS requests one at a time, after one to warm up. Plain
    timing rather than wrk: some of these take seconds, longer than a wrk round."""
    client.get(url).raise_for_status()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        response = client.get(url).raise_for_status()
        times.append((time.perf_counter() - start) * 1000)
    return {
        "p50_ms": statistics.median(times),
        "max_ms": max(times),
        "bytes": len(response.content),
    }


def main() -> dict:
    database = data.prepare(data.LARGE_DB, data.SYNTHETIC_DEPOSITS)
    rows = []
    with servers.veta(database) as url:
        targets = {name: url + path for name, path in REQUESTS.items()}
        sorted_first = REQUESTS["sortby=-size_class,name, limit 100"]
        targets[f"sortby=-size_class,name, page {DEEP:,} deep"] = deep(url, sorted_first)
        with httpx.Client(timeout=300, headers={"Accept-Encoding": ACCEPT_ENCODING}) as client:
            for name, target in targets.items():
                rows.append({"request": name, "url": target, **measure(client, target)})
    return {
        "load_average": os.getloadavg(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rows": rows,
    }


def table(result: dict) -> str:
    lines = ["| request | p50 (ms) | max (ms) | body (bytes, unzipped) |", "|---|---:|---:|---:|"]
    lines += [
        f"| {r['request']} | {r['p50_ms']:.1f} | {r['max_ms']:.1f} | {r['bytes']:,} |"
        for r in result["rows"]
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    outcome = main()
    data.RESULTS.mkdir(exist_ok=True)
    (data.RESULTS / "ogc_layers.json").write_text(json.dumps(outcome, indent=2))
    print(f"load average {outcome['load_average'][0]:.1f}, {outcome['when']}\n\n{table(outcome)}")
