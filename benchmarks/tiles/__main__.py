"""`python -m benchmarks.tiles`: vector tile latency at z6, z10 and z14 over León, 100,000 deposits.

Database: veta_bench_tiles, made by benchmarks/data.py's generator (the León sample plus 100,000
seeded synthetic deposits spread over the province). For each layer and zoom, the tiles covering
the province (at z14 a seeded sample of them) are requested one at a time from Veta over
loopback (httpx, keep-alive, gzip as browsers ask), cycling until enough requests are made:
p50/p99 of the wall time with the tile cache off (every tile made by PostGIS) and with it on
after one pass over the tiles (remembered), and the same tile statements run directly through
asyncpg (the database's own time). Raw numbers go to benchmarks/results/tiles.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import httpx
import morecantile
from sqlalchemy import text

from benchmarks import data, servers
from benchmarks.tiles import against_tipg
from geo.features.tiles import TILE_MATRIX_SET, tile_layer, tile_query
from geo.store.db import SESSION_SETTINGS, libpq_url, sync_engine

DATABASE = "veta_bench_tiles"
ZOOMS = (6, 10, 14)
LAYERS = ("deposits", "protection_zones", "permits")
REQUESTS = {6: 40, 10: 200, 14: 400}
Z14_SAMPLE = 400
SEED = 7


def leon_tiles(url: str, zooms: tuple[int, ...] = ZOOMS) -> dict[int, list[morecantile.Tile]]:
    """The tiles over León's bounding box at each zoom; at z14 a seeded sample of them."""
    engine = sync_engine(url)
    with engine.connect() as conn:
        west, south, east, north = conn.execute(
            text(
                "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM admin_areas WHERE code = '24'"
            )
        ).one()
    engine.dispose()
    tiles = {z: list(TILE_MATRIX_SET.tiles(west, south, east, north, [z])) for z in zooms}
    if 14 in tiles:
        rng = random.Random(SEED)
        tiles[14] = rng.sample(tiles[14], min(Z14_SAMPLE, len(tiles[14])))
    return tiles


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def over_http(
    base: str, layer: str, tiles: list[morecantile.Tile], requests: int, warm: bool
) -> dict:
    """Wall times of `requests` tile requests cycling over `tiles`; `warm`: each tile is asked for
    once before the timing starts, so the timed requests find it remembered."""
    times, sizes, empty = [], [], 0
    paths = [f"/collections/{layer}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}" for t in tiles]
    with httpx.Client(base_url=base, headers={"Accept-Encoding": "gzip"}, timeout=120) as client:
        for path in paths if warm else paths[:1]:
            client.get(path)
        for i in range(requests):
            start = time.perf_counter()
            response = client.get(paths[i % len(paths)])
            times.append(time.perf_counter() - start)
            if response.status_code not in (200, 204):
                raise RuntimeError(
                    f"{response.status_code} on {paths[i % len(paths)]}: {response.text[:200]}"
                )
            empty += response.status_code == 204
            sizes.append(int(response.headers.get("content-length", len(response.content))))
    prefix = "warm" if warm else "cold"
    return {
        "requests": requests,
        "tiles": len(tiles),
        "empty": empty,
        f"{prefix}_p50_ms": 1000 * statistics.median(times),
        f"{prefix}_p99_ms": 1000 * percentile(times, 0.99),
        "mean_bytes_on_wire": statistics.mean(sizes),
    }


@contextmanager
def veta(url: str, tile_cache_mb: int) -> Iterator[str]:
    """Veta on the benchmark database with this tile cache (servers.veta passes os.environ on)."""
    os.environ["VETA_TILE_CACHE_MB"] = str(tile_cache_mb)
    try:
        with servers.veta(url) as base:
            yield base
    finally:
        del os.environ["VETA_TILE_CACHE_MB"]


async def in_database(url: str, layer: str, tiles: list[morecantile.Tile], requests: int) -> dict:
    conn = await asyncpg.connect(libpq_url(url), server_settings=SESSION_SETTINGS)
    try:
        times, sizes = [], []
        for i in range(requests):
            query = tile_query(tile_layer(layer), tiles[i % len(tiles)])
            start = time.perf_counter()
            tile = await conn.fetchval(query.text, *query.values)
            times.append(time.perf_counter() - start)
            sizes.append(len(tile or b""))
    finally:
        await conn.close()
    return {
        "sql_p50_ms": 1000 * statistics.median(times),
        "sql_p99_ms": 1000 * percentile(times, 0.99),
        "mean_mvt_bytes": statistics.mean(sizes),
    }


def main(fresh: bool = False) -> dict:
    url = data.prepare(DATABASE, data.SYNTHETIC_DEPOSITS, fresh=fresh)
    tiles = leon_tiles(url)
    rows = {(layer, z): {"layer": layer, "z": z} for layer in LAYERS for z in ZOOMS}
    for cache_mb, warm in ((0, False), (256, True)):
        with veta(url, cache_mb) as base:
            for (layer, z), row in rows.items():
                row.update(over_http(base, layer, tiles[z], REQUESTS[z], warm))
                print(json.dumps(row), flush=True)
    for (layer, z), row in rows.items():
        row.update(asyncio.run(in_database(url, layer, tiles[z], REQUESTS[z])))
    return {
        "database": DATABASE,
        "deposits": data.SYNTHETIC_DEPOSITS,
        "results": list(rows.values()),
        "load_average": os.getloadavg(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table(result: dict) -> str:
    lines = [
        (
            "| layer | z | tiles | requests | p50 ms | p99 ms | remembered p50 ms "
            "| remembered p99 ms | SQL p50 ms | SQL p99 ms | MVT KiB | on wire KiB (gzip) |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["results"]:
        lines.append(
            f"| {r['layer']} | {r['z']} | {r['tiles']} | {r['requests']} | {r['cold_p50_ms']:.1f} | "
            f"{r['cold_p99_ms']:.1f} | {r['warm_p50_ms']:.1f} | {r['warm_p99_ms']:.1f} | "
            f"{r['sql_p50_ms']:.1f} | {r['sql_p99_ms']:.1f} | "
            f"{r['mean_mvt_bytes'] / 1024:.1f} | {r['mean_bytes_on_wire'] / 1024:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tiles", description=__doc__)
    parser.add_argument(
        "--fresh", action="store_true", help="drop and rebuild the benchmark database"
    )
    parser.add_argument(
        "--against-tipg",
        action="store_true",
        help="only uncached z6-z9 deposit tiles, Veta (clusters) against tipg (benchmarks/tiles/against_tipg.py)",
    )
    args = parser.parse_args()
    if args.against_tipg:
        url = data.prepare(DATABASE, data.SYNTHETIC_DEPOSITS, fresh=args.fresh)
        compared = against_tipg.run(url, leon_tiles(url, against_tipg.ZOOMS))
        data.RESULTS.mkdir(exist_ok=True)
        (data.RESULTS / "tiles_against_tipg.json").write_text(json.dumps(compared, indent=2))
        print(against_tipg.table(compared))
        raise SystemExit(0)
    result = main(args.fresh)
    data.RESULTS.mkdir(exist_ok=True)
    (data.RESULTS / "tiles.json").write_text(json.dumps(result, indent=2))
    print(table(result))
