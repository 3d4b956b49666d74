"""Zonal statistics of 10,000 deposits' 500 m buffers on a 10,000 x 10,000 raster: Veta
(exactextract, exact coverage fractions) against rasterstats on the same data in the same run.

Veta is timed through its user path: zonal_statistics_batch, the function that
POST /rasters/{name}/statistics and `veta raster statistics` call for a batch, with every
statistic they report (the areas and nodata share too), on one ZonalWorkers kept for the whole
run as the service keeps its own. The buffers are given as a FeatureCollection in EPSG:25830
gives them (the raster's CRS: measured as sent; in lon/lat for the hectares); the HTTP
parsing and encoding around it are not timed.

The raster (float32, 10 m cells in EPSG:25830, a smooth field plus seeded noise, written as a
COG the way `veta raster add` writes one) and the 10,000 seeded points are made once under
benchmarks/.work/rasters/. The buffers are split into rounds and the two sides alternate round
by round, so that both see the same machine load. rasterstats counts a cell when its centre is
inside a buffer; Veta weighs each cell by the share of it inside: the numbers are compared
(relative difference of the mean, and of the count) rather than expected equal.

Veta runs twice per round: as the service does, spread over VETA_RASTER_WORKERS processes
(every CPU; the shared pool's start-up, in the first round, is in its time), and in one
process, which must give exactly the same numbers. rasterstats runs in one process, as a user
would call it.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin
from rasterio.windows import Window

from benchmarks import data
from geo.core.settings import Settings
from geo.rasters.storage import RasterInfo, convert_to_cog
from geo.rasters.zonal import zonal_statistics_batch
from geo.rasters.zonal_pool import ZonalWorkers

SIZE = 10_000
CELL = 10.0
ORIGIN = (250_000.0, 4_800_000.0)
BUFFERS = 10_000
RADIUS = 500.0
ROUNDS = 10
SEED = 14
FOLDER = data.WORK / "rasters"


def field_path() -> Path:
    """The benchmark raster, made on first use (about a minute)."""
    path = FOLDER / "field-cog.tif"
    if path.exists():
        return path
    FOLDER.mkdir(parents=True, exist_ok=True)
    raw = FOLDER / "field-raw.tif"
    rng = np.random.default_rng(SEED)
    profile = {
        "driver": "GTiff",
        "width": SIZE,
        "height": SIZE,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:25830",
        "transform": from_origin(*ORIGIN, CELL, CELL),
        "nodata": -9999.0,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
    }
    with rasterio.open(raw, "w", **profile) as dst:
        for row in range(0, SIZE, 1000):
            rows = np.arange(row, row + 1000)[:, None]
            cols = np.arange(SIZE)[None, :]
            block = (
                100
                + 40 * np.sin(rows / 700) * np.cos(cols / 900)
                + 10 * np.sin((rows + cols) / 150)
                + rng.normal(0, 3, (1000, SIZE))
            ).astype("float32")
            dst.write(block, 1, window=Window(0, row, SIZE, 1000))
    with rasterio.open(raw) as src:
        convert_to_cog(src, path, categorical=False)
    raw.unlink()
    return path


def buffers() -> list:
    rng = np.random.default_rng(SEED + 1)
    margin = RADIUS + 100
    xs = rng.uniform(ORIGIN[0] + margin, ORIGIN[0] + SIZE * CELL - margin, BUFFERS)
    ys = rng.uniform(ORIGIN[1] - SIZE * CELL + margin, ORIGIN[1] - margin, BUFFERS)
    return list(shapely.buffer(shapely.points(xs, ys), RADIUS, quad_segs=16))


def raster_info(path: Path) -> RasterInfo:
    """The benchmark raster as the catalogue would describe it once registered."""
    with rasterio.open(path) as cog:
        return RasterInfo(
            id=0,
            name="field",
            title=None,
            description=None,
            units=None,
            path=path,
            crs_wkt=cog.crs.to_wkt(),
            epsg=cog.crs.to_epsg(),
            width=cog.width,
            height=cog.height,
            band_count=cog.count,
            data_type=cog.dtypes[0],
            nodata=cog.nodata,
            transform=tuple(cog.transform)[:6],
            bounds=tuple(cog.bounds),
            statistics=[],
            categorical=False,
            screening=False,
            source=None,
            licence=None,
            footprint={},
        )


def main() -> dict:
    from rasterstats import zonal_stats

    path = field_path()
    info = raster_info(path)
    polygons = buffers()
    to_lonlat = Transformer.from_crs(25830, 4326, always_xy=True)
    lonlat = shapely.transform(
        np.asarray(polygons), lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1]))
    )
    rounds = np.array_split(np.arange(BUFFERS), ROUNDS)
    shared = ZonalWorkers(Settings().raster_workers)
    times = {"veta": 0.0, "veta_one_process": 0.0, "rasterstats": 0.0}
    veta, alone, peer = [], [], []
    for indexes in rounds:
        chunk = [polygons[i] for i in indexes]
        zones = [lonlat[i] for i in indexes]
        as_sent = [(25830, p) for p in chunk]
        start = time.perf_counter()
        veta += zonal_statistics_batch(info, zones, as_sent=as_sent, workers=shared)
        times["veta"] += time.perf_counter() - start
        start = time.perf_counter()
        alone += zonal_statistics_batch(info, zones, as_sent=as_sent, workers=1)
        times["veta_one_process"] += time.perf_counter() - start
        start = time.perf_counter()
        peer += zonal_stats(chunk, str(path), stats="count min max mean std median")
        times["rasterstats"] += time.perf_counter() - start
    shared.close()
    if veta != alone:
        raise AssertionError("the pooled and the in-process statistics differ")
    mean_diff = [abs(v["mean"] - p["mean"]) / abs(p["mean"]) for v, p in zip(veta, peer)]
    count_diff = [abs(v["count"] - p["count"]) / p["count"] for v, p in zip(veta, peer)]
    return {
        "raster": f"{SIZE} x {SIZE} float32, {CELL:g} m cells, COG",
        "buffers": BUFFERS,
        "radius_m": RADIUS,
        "seconds": times,
        "workers": shared.processes,
        "ratio": times["rasterstats"] / times["veta"],
        "ratio_one_process": times["rasterstats"] / times["veta_one_process"],
        "mean_relative_difference": {"median": statistics.median(mean_diff), "max": max(mean_diff)},
        "count_relative_difference": {
            "median": statistics.median(count_diff),
            "max": max(count_diff),
        },
    }


def table(result: dict) -> str:
    t = result["seconds"]
    m, c = result["mean_relative_difference"], result["count_relative_difference"]
    return "\n".join(
        [
            f"Zonal statistics of {result['buffers']:,} buffers of {result['radius_m']:g} m on a {result['raster']}:",
            "",
            "| | seconds | buffers/s |",
            "|---|---:|---:|",
            f"| Veta (zonal_statistics_batch, the route's and CLI's path), {result['workers']} processes | {t['veta']:.1f} | {result['buffers'] / t['veta']:,.0f} |",
            f"| Veta, 1 process | {t['veta_one_process']:.1f} | {result['buffers'] / t['veta_one_process']:,.0f} |",
            f"| rasterstats, 1 process | {t['rasterstats']:.1f} | {result['buffers'] / t['rasterstats']:,.0f} |",
            f"| **ratio** | **{result['ratio']:.1f}x** ({result['ratio_one_process']:.1f}x in 1 process) | |",
            "",
            f"Mean: relative difference median {m['median']:.1e}, max {m['max']:.1e}; "
            f"count (cells): median {c['median']:.1e}, max {c['max']:.1e}. "
            f"{result['workers']} processes and 1 process: the same numbers, buffer by buffer.",
        ]
    )
