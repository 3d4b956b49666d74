"""Batch zonal statistics over worker processes: exactly the in-process numbers, in the caller's
order, checked against numpy with coverage fractions computed here by shapely; a worker that
raises or dies fails the batch with a clear error instead of hanging it."""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import rasterio
import shapely
from exactextract.raster import RasterioRasterSource
from rasterio.transform import from_origin
from shapely.geometry import box

from geo.rasters import zonal
from geo.rasters.zonal import zonal_statistics_many
from geo.rasters.zonal_pool import (
    MIN_POLYGONS_PER_WORKER,
    ZonalWorkerFailed,
    ZonalWorkers,
    run_in_workers,
    split_for_workers,
)

CELL = 10.0
SIZE = 400
ORIGIN = (300_000.0, 4_700_000.0)
NODATA = -9999.0
# Enough polygons for two workers of at least MIN_POLYGONS_PER_WORKER each.
BATCH = 2 * MIN_POLYGONS_PER_WORKER + 37
# A hung batch would never answer; a broken one must answer well within this.
NO_HANG_S = 120


@pytest.fixture(scope="module")
def field(tmp_path_factory) -> tuple:
    """A 4 km float32 square of 10 m cells in EPSG:25830: a smooth field, seeded noise, and a
    block of nodata cells."""
    rng = np.random.default_rng(7)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    values = (
        50 + 20 * np.sin(rows / 37) * np.cos(cols / 23) + rng.normal(0, 2, (SIZE, SIZE))
    ).astype("float32")
    values[100:130, 200:260] = NODATA
    path = tmp_path_factory.mktemp("pool") / "field.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=SIZE,
        height=SIZE,
        count=1,
        dtype="float32",
        crs="EPSG:25830",
        transform=from_origin(*ORIGIN, CELL, CELL),
        nodata=NODATA,
        tiled=True,
        blockxsize=128,
        blockysize=128,
    ) as dst:
        dst.write(values, 1)
    return path, values


def _polygons() -> list:
    """Seeded buffers of 30 to 250 m scattered over the raster, and every tenth an aligned box
    of whole cells (whose statistics numpy gives exactly)."""
    rng = np.random.default_rng(11)
    polygons = []
    for i in range(BATCH):
        if i % 10 == 0:
            col, row = rng.integers(0, SIZE - 20, 2)
            w, h = rng.integers(3, 20, 2)
            polygons.append(
                box(
                    ORIGIN[0] + col * CELL,
                    ORIGIN[1] - (row + h) * CELL,
                    ORIGIN[0] + (col + w) * CELL,
                    ORIGIN[1] - row * CELL,
                )
            )
        else:
            x = rng.uniform(ORIGIN[0] + 300, ORIGIN[0] + SIZE * CELL - 300)
            y = rng.uniform(ORIGIN[1] - SIZE * CELL + 300, ORIGIN[1] - 300)
            polygons.append(shapely.Point(x, y).buffer(rng.uniform(30, 250), quad_segs=8))
    return polygons


def _coverage(polygon) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the cells the polygon touches and the share of each inside, by shapely."""
    minx, miny, maxx, maxy = polygon.bounds
    c0, c1 = int((minx - ORIGIN[0]) // CELL), int(math.ceil((maxx - ORIGIN[0]) / CELL))
    r0, r1 = int((ORIGIN[1] - maxy) // CELL), int(math.ceil((ORIGIN[1] - miny) / CELL))
    rows, cols = np.mgrid[r0:r1, c0:c1]
    rows, cols = rows.ravel(), cols.ravel()
    cells = shapely.box(
        ORIGIN[0] + cols * CELL,
        ORIGIN[1] - (rows + 1) * CELL,
        ORIGIN[0] + (cols + 1) * CELL,
        ORIGIN[1] - rows * CELL,
    )
    shares = shapely.area(shapely.intersection(cells, polygon)) / (CELL * CELL)
    inside = shares > 0
    return (rows[inside], cols[inside]), shares[inside]


def test_pooled_batch_gives_exactly_the_in_process_numbers(field):
    path, values = field
    polygons = _polygons()
    pooled = zonal_statistics_many(path, polygons, workers=2)
    alone = zonal_statistics_many(path, polygons, workers=1)
    assert len(pooled) == len(polygons)
    # Bit for bit, polygon by polygon, in the caller's order.
    assert pooled == alone
    for polygon, stats in zip(polygons, pooled):
        cells, shares = _coverage(polygon)
        cell_values = values[cells].astype(np.float64)
        valid = cell_values != NODATA
        v, w = cell_values[valid], shares[valid]
        mean = (v * w).sum() / w.sum()
        assert stats["count"] == pytest.approx(w.sum(), rel=1e-6)
        assert stats["mean"] == pytest.approx(mean, rel=1e-6)
        assert stats["std"] == pytest.approx(
            math.sqrt((w * (v - mean) ** 2).sum() / w.sum()), rel=1e-5, abs=1e-6
        )
        assert (stats["min"], stats["max"]) == (v.min(), v.max())
        if polygon.equals(polygon.envelope):
            # Whole cells weigh alike: the weighted median is numpy's.
            assert stats["median"] == pytest.approx(np.median(v), rel=1e-6)


def test_small_batches_stay_in_process_and_large_ones_split_contiguously():
    assert len(split_for_workers(2 * MIN_POLYGONS_PER_WORKER - 1, 2)) == 1
    assert len(split_for_workers(10 * MIN_POLYGONS_PER_WORKER, 1)) == 1
    runs = split_for_workers(10_001, 2)
    assert [len(r) for r in runs] == [5001, 5000]
    assert np.array_equal(np.concatenate(runs), np.arange(10_001))


def test_a_worker_that_raises_fails_the_batch_with_a_clear_error(tmp_path):
    missing = tmp_path / "gone.tif"
    with ThreadPoolExecutor(1) as waiter:
        batch = waiter.submit(zonal_statistics_many, missing, _polygons(), 1, 2)
        with pytest.raises(ZonalWorkerFailed, match="worker failed on part 1 of 2.*gone.tif"):
            batch.result(timeout=NO_HANG_S)


def test_a_worker_that_dies_fails_the_batch_instead_of_hanging():
    with ThreadPoolExecutor(1) as waiter:
        # os._exit ends the worker process at once, as a crash in GDAL would.
        batch = waiter.submit(run_in_workers, os._exit, [(3,), (3,)], 2)
        with pytest.raises(ZonalWorkerFailed, match="worker process died"):
            batch.result(timeout=NO_HANG_S)


def test_the_plain_read_of_a_nodata_band_gives_the_masked_reads_numbers(field, monkeypatch):
    path, _ = field
    polygons = _polygons()
    with rasterio.open(path) as src:
        assert type(zonal._band_source(src, 1)).__name__ == "_NodataBand"
    plain = zonal_statistics_many(path, polygons, workers=1)
    monkeypatch.setattr(zonal, "_band_source", RasterioRasterSource)
    assert zonal_statistics_many(path, polygons, workers=1) == plain


def test_shared_workers_are_kept_and_start_afresh_after_a_worker_dies(field):
    path, _ = field
    polygons = _polygons()
    alone = zonal_statistics_many(path, polygons, workers=1)
    workers = ZonalWorkers(2)
    try:
        assert zonal_statistics_many(path, polygons, workers=workers) == alone
        kept = workers._executor
        assert kept is not None
        assert zonal_statistics_many(path, polygons, workers=workers) == alone
        assert workers._executor is kept
        with ThreadPoolExecutor(1) as waiter:
            broken = waiter.submit(workers.run, os._exit, [(3,), (3,)])
            with pytest.raises(ZonalWorkerFailed, match="worker process died"):
                broken.result(timeout=NO_HANG_S)
        assert zonal_statistics_many(path, polygons, workers=workers) == alone
        assert workers._executor is not kept
    finally:
        workers.close()
