"""`python -m benchmarks.tiles --against-tipg`: uncached z6–z9 deposit tiles, Veta against tipg.

On veta_bench_tiles (the León sample plus 100,000 synthetic deposits), Veta with its tile cache
off (below z10 its deposit tiles are clusters) and tipg 1.6.1 (its own virtualenv, see
benchmarks/servers.py; its tiles carry at most 10,000 features) are asked, one request at a
time over keep-alive (httpx, gzip accepted), for the deposit tiles over León's bounding box at
z6, z7, z8 and z9: both servers run side by side and alternate in short rounds, so that both
see the same load. Per zoom: p50 and req/s (requests over the time spent in them, one
connection), their ratios, and the tiles' sizes decoded and on the wire.
"""

from __future__ import annotations

import gzip
import os
import statistics
import time

import httpx
import mapbox_vector_tile
import morecantile

from benchmarks import servers
from benchmarks.data import machine

ZOOMS = (6, 7, 8, 9)
ROUNDS = 4
# Requests per server, zoom and round: every tile at least once a round.
PER_ROUND = 12
TIPG_COLLECTION = "public.deposits"


def _paths(collection: str, tiles: list[morecantile.Tile]) -> list[str]:
    return [f"/collections/{collection}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}" for t in tiles]


def _timed(client: httpx.Client, paths: list[str], count: int, start: int) -> list[float]:
    """Wall times of `count` requests cycling over `paths` from `start`; any failure stops."""
    times = []
    for i in range(start, start + count):
        path = paths[i % len(paths)]
        began = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - began)
        if response.status_code not in (200, 204):
            raise RuntimeError(f"{response.status_code} on {path}: {response.text[:200]}")
    return times


def _sizes(client: httpx.Client, paths: list[str]) -> dict:
    """Per tile: the MVT's bytes, gzip's bytes and the features it carries (largest tile)."""
    raw, wire, features = [], [], []
    for path in paths:
        response = client.get(path)
        body = response.content
        raw.append(len(body))
        wire.append(
            int(response.headers.get("content-length", 0))
            if response.headers.get("content-encoding") == "gzip"
            else len(gzip.compress(body, 1))
        )
        layers = mapbox_vector_tile.decode(body) if body else {}
        features.append(sum(len(layer["features"]) for layer in layers.values()))
    return {"max_kib": max(raw) / 1024, "max_wire_kib": max(wire) / 1024, "features": features}


def run(url: str, tiles: dict[int, list[morecantile.Tile]]) -> dict:
    os.environ["VETA_TILE_CACHE_MB"] = "0"
    rows = []
    try:
        with (
            servers.veta(url) as veta_base,
            servers.tipg(url) as tipg_base,
            httpx.Client(
                base_url=veta_base, headers={"Accept-Encoding": "gzip"}, timeout=120
            ) as veta,
            httpx.Client(
                base_url=tipg_base, headers={"Accept-Encoding": "gzip"}, timeout=120
            ) as tipg,
        ):
            for z in ZOOMS:
                veta_paths = _paths("deposits", tiles[z])
                tipg_paths = _paths(TIPG_COLLECTION, tiles[z])
                # One untimed pass each: connections, plans, PROJ and the page cache warmed.
                _timed(veta, veta_paths, len(veta_paths), 0)
                _timed(tipg, tipg_paths, len(tipg_paths), 0)
                veta_times: list[float] = []
                tipg_times: list[float] = []
                for r in range(ROUNDS):
                    first, second = ((veta, veta_paths, veta_times), (tipg, tipg_paths, tipg_times))
                    for client, paths, times in (first, second) if r % 2 == 0 else (second, first):
                        times.extend(_timed(client, paths, PER_ROUND, r * PER_ROUND))
                row = {
                    "z": z,
                    "tiles": len(tiles[z]),
                    "requests": len(veta_times),
                    "veta_p50_ms": 1000 * statistics.median(veta_times),
                    "tipg_p50_ms": 1000 * statistics.median(tipg_times),
                    "veta_req_s": len(veta_times) / sum(veta_times),
                    "tipg_req_s": len(tipg_times) / sum(tipg_times),
                    "veta": _sizes(veta, veta_paths),
                    "tipg": _sizes(tipg, tipg_paths),
                    "load_average": os.getloadavg(),
                }
                print(row, flush=True)
                rows.append(row)
    finally:
        del os.environ["VETA_TILE_CACHE_MB"]
    return {
        "machine": machine(),
        "results": rows,
        "load_average_end": os.getloadavg(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table(result: dict) -> str:
    lines = [
        "| z | tiles | requests each | Veta p50 ms | tipg p50 ms | p50 tipg / Veta "
        "| Veta req/s | tipg req/s | Veta / tipg req/s | Veta largest tile KiB (gzip) "
        "| tipg largest tile KiB (gzip) | features per tile, Veta | features per tile, tipg "
        "| load average |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["results"]:
        v, t = r["veta"], r["tipg"]
        lines.append(
            f"| {r['z']} | {r['tiles']} | {r['requests']} | {r['veta_p50_ms']:.1f} | "
            f"{r['tipg_p50_ms']:.1f} | {r['tipg_p50_ms'] / r['veta_p50_ms']:.2f}x | "
            f"{r['veta_req_s']:.1f} | {r['tipg_req_s']:.1f} | "
            f"{r['veta_req_s'] / r['tipg_req_s']:.2f}x | {v['max_kib']:.1f} ({v['max_wire_kib']:.1f}) | "
            f"{t['max_kib']:.1f} ({t['max_wire_kib']:.1f}) | {min(v['features'])}–{max(v['features'])} | "
            f"{min(t['features'])}–{max(t['features'])} | "
            f"{' '.join(f'{x:.1f}' for x in r['load_average'])} |"
        )
    return "\n".join(lines)
