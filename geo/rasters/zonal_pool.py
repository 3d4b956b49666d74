"""Batch zonal statistics spread over worker processes, each reading its own compact windows.

exactextract holds the GIL for most of its per-feature work, so threads do not help; processes
do. The polygons are put in a spatial order (the Morton order of their centres) and cut into
one contiguous run per worker, so that each worker reads a compact part of the raster. Workers
open the raster themselves and return exactly what the in-process pass returns for their
polygons; the answers come back in the caller's order.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

# Below this many polygons per worker (about 0.7 s of exactextract's work on 500 m buffers),
# starting the workers would cost a good part of what they save; not finely tuned.
MIN_POLYGONS_PER_WORKER = 200
# Workers are forked from a clean server process (not from the caller, which may run threads
# and hold database connections); it imports the zonal module once, so later pools start fast.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["geo.rasters.zonal"])


class ZonalWorkerFailed(RuntimeError):
    """A worker process of a batch died or raised: the batch has no answer."""


def worker_count(setting: int | None) -> int:
    """The processes a batch may use: the setting, or every CPU when it is 0 or unset."""
    return setting if setting and setting > 0 else (os.cpu_count() or 1)


def spatial_order(geometries: Sequence[BaseGeometry]) -> np.ndarray:
    """Indexes of the polygons along a Z-order curve of their bounding boxes' centres: close
    polygons are close in the order, so a contiguous run of them covers a compact window."""
    bounds = shapely.bounds(np.asarray(geometries, dtype=object))
    x = (bounds[:, 0] + bounds[:, 2]) / 2
    y = (bounds[:, 1] + bounds[:, 3]) / 2
    # 16 bits per axis: 65,536 steps across the batch's extent.
    span_x = max(float(np.ptp(x)), 1e-9)
    span_y = max(float(np.ptp(y)), 1e-9)
    ix = ((x - x.min()) / span_x * 65535).astype(np.uint64)
    iy = ((y - y.min()) / span_y * 65535).astype(np.uint64)
    return np.argsort(_interleave(ix) | (_interleave(iy) << np.uint64(1)), kind="stable")


def _interleave(v: np.ndarray) -> np.ndarray:
    """The bits of 16-bit integers spread to the even bit positions (Morton code)."""
    v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF)
    v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F)
    v = (v | (v << np.uint64(2))) & np.uint64(0x33333333)
    return (v | (v << np.uint64(1))) & np.uint64(0x55555555)


def split_for_workers(count: int, workers: int) -> list[np.ndarray]:
    """The positions 0..count-1 cut into at most `workers` contiguous runs, none of fewer than
    MIN_POLYGONS_PER_WORKER (a single run: do it in process)."""
    runs = max(1, min(workers, count // MIN_POLYGONS_PER_WORKER))
    return [run for run in np.array_split(np.arange(count), runs) if run.size]


def run_in_workers(function: Callable[..., list[Any]], tasks: list[tuple], workers: int) -> list:
    """function(*task) for each task in its own worker process of a pool started for these tasks
    alone, the lists it returns joined in task order. A worker that raises or dies fails the
    whole batch with ZonalWorkerFailed."""
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=_CONTEXT) as pool:
        return _gathered(pool, function, tasks)


class ZonalWorkers:
    """The worker processes that every batch of a service (or of one command) shares: started
    by the first batch large enough to need them and kept for the next, so that a request pays
    no start-up; batches that arrive together queue for the same processes. A pool a dead
    worker broke is dropped, and the next batch starts a new one."""

    def __init__(self, processes: int | None) -> None:
        self.processes = worker_count(processes)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(self, function: Callable[..., list[Any]], tasks: list[tuple]) -> list:
        """As run_in_workers, on the shared processes (callable from any thread)."""
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(self.processes, mp_context=_CONTEXT)
            executor = self._executor
        try:
            return _gathered(executor, function, tasks)
        except ZonalWorkerFailed as exc:
            if isinstance(exc.__cause__, BrokenProcessPool):
                with self._lock:
                    if self._executor is executor:
                        self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        """Stop the processes (at the service's shutdown or the command's end)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _gathered(
    pool: ProcessPoolExecutor, function: Callable[..., list[Any]], tasks: list[tuple]
) -> list:
    futures = [pool.submit(function, *task) for task in tasks]
    results: list = []
    for number, future in enumerate(futures, start=1):
        try:
            results += future.result()
        except BrokenProcessPool as exc:
            for other in futures:
                other.cancel()
            raise ZonalWorkerFailed(
                f"a zonal statistics worker process died (part {number} of {len(tasks)})"
            ) from exc
        except Exception as exc:
            for other in futures:
                other.cancel()
            raise ZonalWorkerFailed(
                f"a zonal statistics worker failed on part {number} of {len(tasks)}: {exc!r}"
            ) from exc
    return results
