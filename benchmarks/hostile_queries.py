"""Issue 18, finding 1: ten giant projected BBOX filters at once leave the database's memory flat.

`python -m benchmarks.hostile_queries`. Veta serves the León sample; four bystander clients
search and screen meanwhile. Each scenario runs for ROUND seconds with ten attackers sending,
one request after another, `S_INTERSECTS(geometry, BBOX(…))` in EPSG:3857: the finding's
±1e9 m box (refused as outside the CRS's area of use) and the largest box that is accepted,
the whole Pseudo-Mercator world (densified at perimeter / 4096, not at 1 km). The database's
private memory (RssAnon of the postmaster and its children) is sampled every 0.1 s.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

import httpx

from benchmarks.hostile import bystanders, p, private_memory_mb, sample_memory, veta_on_sample

ROUND = float(os.environ.get("VETA_BENCH_ROUND_S", "20"))
CLIENTS = 4
ATTACKERS = 10
MERCATOR = "http://www.opengis.net/def/crs/EPSG/0/3857"
BOXES = {"±1e9 m (finding 1)": 1e9, "whole world, ±20,037,508 m": 20_037_508}


async def attack(base: str, extent: float, seconds: float) -> list[tuple[int, float]]:
    params = {
        "filter": f"S_INTERSECTS(geometry,BBOX({-extent},{-extent},{extent},{extent}))",
        "filter-crs": MERCATOR,
        "limit": "100",
    }
    answers = []
    end = time.monotonic() + seconds

    async def one(client: httpx.AsyncClient) -> None:
        while time.monotonic() < end:
            started = time.monotonic()
            response = await client.get(
                base + "/collections/deposit_screening/items", params=params
            )
            answers.append((response.status_code, time.monotonic() - started))

    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(one(client) for _ in range(ATTACKERS)))
    return answers


async def scenario(base: str, database_url: str, name: str, extent: float | None) -> dict:
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_memory(database_url, stop))
    if extent is None:
        seen, answers = await bystanders(base, CLIENTS, ROUND), []
    else:
        seen, answers = await asyncio.gather(
            bystanders(base, CLIENTS, ROUND), attack(base, extent, ROUND)
        )
    stop.set()
    memory = await sampler
    return {
        "scenario": name,
        "requests": len(seen),
        "p50_ms": p(seen, 0.5),
        "p99_ms": p(seen, 0.99),
        "attacks": len(answers),
        "statuses": sorted({s for s, _ in answers}),
        "attack_median_s": statistics.median([t for _, t in answers]) if answers else None,
        "memory_median_mb": statistics.median(memory),
        "memory_max_mb": max(memory),
    }


async def run(base: str, database_url: str) -> list[dict]:
    rows = [await scenario(base, database_url, "idle", None)]
    for name, extent in BOXES.items():
        rows.append(await scenario(base, database_url, f"10 × {name}", extent))
    return rows


def table(rows: list[dict], before_mb: float) -> str:
    idle = rows[0]["p99_ms"]
    lines = [
        f"Database private memory before: {before_mb:.0f} MB.",
        "",
        "| scenario | bystander requests | p50 ms | p99 ms | p99 / idle | attacks | answers | attack median s | "
        "db memory median MB | db memory max MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['requests']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['p99_ms'] / idle:.2f} | {r['attacks']} | {', '.join(map(str, r['statuses'])) or '–'} | "
            + (f"{r['attack_median_s']:.3f}" if r["attacks"] else "–")
            + f" | {r['memory_median_mb']:.0f} | {r['memory_max_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    print(f"load average before: {os.getloadavg()}")
    with veta_on_sample() as (base, database_url):
        before = private_memory_mb(database_url)
        rows = asyncio.run(run(base, database_url))
    print(f"load average after: {os.getloadavg()}")
    print(table(rows, before))


if __name__ == "__main__":
    main()
