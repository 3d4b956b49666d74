"""Batch screening of deposits on a Dask cluster: Hilbert partitions, each screened by PostGIS.

Why each partition is screened in PostGIS, not in geopandas on the worker: whether a zone
constrains a deposit is one rule, written in SQL (geo/rules/protection.py: footprints touching
counts, depth intervals with a missing one as the whole column, validity dates, the counted
legal effects), and so are the ground status (the rights' effective status on the day,
geo/rules/ground.py) and the municipalities. A shapely copy of them would be a second
definition to keep equal forever, on exactly the cases where engines differ (a point on a
boundary, NULL depths, a right lapsed on its expiry date). So every Dask task runs the
in-database batch's own statement (geo/queries/screening_batch.py) on its partition's deposit
ids, on a day fixed once for the whole run; PostGIS finds, through the zone parts' index, only
the zones, rights and municipalities that meet those deposits: each partition reads what it
needs, nothing is broadcast.

What Dask adds: the deposits' boxes are placed on a Hilbert curve (dask-geopandas'
hilbert_distance, at the driver) and cut into partitions of consecutive distances: the
spatially compact partitions of spatial_shuffle without its shuffle of the geometries through
the cluster (a task shuffle of 100,000 boxes took 9 s, the distances 0.1 s); each task's statement is bounded by its partition's box, so
PostGIS's index hands it only that region's deposits, zone parts, rights and municipalities
(the ids then pick the partition's own deposits out of the box, see deposit_ids_source). The
tasks run
on as many PostgreSQL backends at once as the cluster has worker threads, where the database
batch is one statement on one backend (Veta's sessions turn parallel query off,
geo/store/db.py); the workers may run on other machines, each reaching the database by the URL
it is given, and since a task only reads (no temporary table) that may be a read replica. The
driver reads only the deposits' ids and boxes, and merges the partitions' rows back in id
order: the file is the in-database batch's, row for row. The price is the work at partition
edges (boxes overlap, and a deposit in two boxes is tested by both before its id sets it
aside) and a plan per partition; when that outweighs the extra backends — a small batch, a
database with no idle cores — the one statement is faster: see benchmarks/README.md.
"""

from __future__ import annotations

import heapq
import math
import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
import shapely

from geo.core.errors import InvalidParameter, VetaError
from geo.core.sql import Params
from geo.features.items import where_sql
from geo.io.exporting import BATCH_ROWS
from geo.io.screening_files import BatchScreening, screen_deposits
from geo.store.db import viewer_connection

if TYPE_CHECKING:
    from distributed import Client

SCHEDULER_FORMS = "tcp://host:port (a running Dask scheduler), local or local:N (N workers here)"
# Deposits per partition at most; each partition is at least one statement of this many.
PARTITION_DEPOSITS = 20_000
# Partitions per worker thread at least, so that a slow partition does not leave the others idle.
PARTITIONS_PER_THREAD = 2
_PAD = 1e-7  # degrees
# The Hilbert curve's order, as dask-geopandas' spatial_shuffle uses it: a 65,536 x 65,536 grid.
HILBERT_LEVEL = 16
_LOCAL = re.compile(r"local(?::(\d+))?")


@dataclass(frozen=True)
class Scheduler:
    """A Dask scheduler to connect to, or a LocalCluster of `local_workers` to start."""

    address: str | None = None
    local_workers: int | None = None


def parse_scheduler(text: str) -> Scheduler:
    local = _LOCAL.fullmatch(text.strip())
    if local:
        workers = int(local.group(1) or 2)
        if not 1 <= workers <= 64:
            raise InvalidParameter("scheduler", f"{workers} local workers", "1 to 64 workers")
        return Scheduler(local_workers=workers)
    if re.fullmatch(r"(tcp|tls)://[^\s/:]+:\d+", text.strip()):
        return Scheduler(address=text.strip())
    raise InvalidParameter("scheduler", f"not a scheduler address: {text!r}", SCHEDULER_FORMS)


@contextmanager
def dask_client(scheduler: Scheduler) -> Iterator[Client]:
    """A client of the scheduler, or of a LocalCluster started for the run (threads: the work is
    in PostgreSQL, a worker only waits on its connection) and closed after it."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # an install without the extra, such as the production image
        raise InvalidParameter(
            "scheduler", "Dask is not installed here", "install Veta with pip install '.[dask]'"
        ) from None
    if scheduler.address:
        with Client(scheduler.address) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=scheduler.local_workers,
            threads_per_worker=1,
            processes=False,
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@dataclass(frozen=True)
class DaskRun:
    """How the run was split: deposits, partitions and the cluster's worker threads."""

    deposits: int
    partitions: int
    threads: int


def _day_and_boxes(url: str, batch: BatchScreening) -> tuple[Any, np.ndarray, np.ndarray]:
    """The day the run screens on, and the ids and bounding boxes of the deposits the search
    matches (a point is its own box): the Hilbert curve orders them by their boxes' centres,
    and a partition's boxes together bound every deposit in it."""
    params, deposits = Params(), batch.deposits()
    text = (
        f"SELECT t.id, ST_AsBinary(ST_Envelope(t.geom)) FROM {deposits.collection.from_sql(params)} "
        f"WHERE {where_sql(deposits, params)} ORDER BY t.id"
    )
    with viewer_connection(url, batch.viewer) as conn, psycopg.RawCursor(conn) as cursor:
        day = batch.on or conn.execute("SELECT current_date").fetchall()[0][0]
        rows = cursor.execute(text, params.values).fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return day, ids, shapely.from_wkb([bytes(r[1]) for r in rows])


def _screened(
    url: str, batch: BatchScreening, ids: list[int], box: tuple[float, float, float, float]
) -> bytes:
    """A partition's rows, as one pickle: Dask's own serialization walks a list of 16,000
    tuples item by item (1.1-1.9 s more per partition between processes, measured)."""
    return pickle.dumps(screen_deposits(url, batch, ids, box), protocol=pickle.HIGHEST_PROTOCOL)


def screen_on_dask(
    client: Client, url: str, batch: BatchScreening, partitions: int | None = None
) -> tuple[DaskRun, Iterator[list[tuple]]]:
    """The run's shape, and the rows of every deposit of the search in id order, as
    screen_in_database gives them; the partitions are screened before this returns."""
    import dask_geopandas
    import geopandas as gpd

    day, ids, boxes = _day_and_boxes(url, batch)
    batch = replace(batch, on=day)
    threads = sum(client.nthreads().values())
    if len(ids) == 0:
        return DaskRun(0, 0, threads), iter(())
    wanted = partitions or max(
        PARTITIONS_PER_THREAD * threads, math.ceil(len(ids) / PARTITION_DEPOSITS)
    )
    wanted = max(1, min(wanted, len(ids)))
    deposits = gpd.GeoDataFrame({"id": ids}, geometry=boxes, crs=4326)
    # Computed here, where the boxes are: sending them to the workers costs more than this.
    distances = (
        dask_geopandas.from_geopandas(deposits, npartitions=1)
        .hilbert_distance(total_bounds=deposits.total_bounds, level=HILBERT_LEVEL)
        .compute(scheduler="sync")
    )
    edges = shapely.bounds(boxes)
    tasks = []
    for chunk in np.array_split(np.argsort(distances.to_numpy(), kind="stable"), wanted):
        # The partition's box, widened by about a centimetre: the box test must never leave
        # out a deposit on its edge.
        box = (
            float(edges[chunk, 0].min()) - _PAD,
            float(edges[chunk, 1].min()) - _PAD,
            float(edges[chunk, 2].max()) + _PAD,
            float(edges[chunk, 3].max()) + _PAD,
        )
        tasks.append(client.submit(_screened, url, batch, ids[chunk].tolist(), box, pure=False))
    screened: list[list[tuple]] = [pickle.loads(rows) for rows in client.gather(tasks)]
    if sum(len(rows) for rows in screened) != len(ids):
        # A deposit deleted (or moved) between reading the boxes and screening: say so, never a
        # file that silently misses it.
        raise VetaError("deposits were deleted during the run; nothing was written, run it again")
    merged = heapq.merge(*screened, key=lambda row: row[0])  # each partition is in id order

    def in_batches() -> Iterator[list[tuple]]:
        rows: list[tuple] = []
        for row in merged:
            rows.append(row)
            if len(rows) == BATCH_ROWS:
                yield rows
                rows = []
        if rows:
            yield rows

    return DaskRun(len(ids), len(screened), threads), in_batches()
