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

What Dask adds: dask-geopandas' spatial_shuffle sorts the deposits' points on a Hilbert curve
into spatially compact partitions, so that each task's statement touches one region's zone
parts and rights (and their pages stay in that backend's cache); the tasks run on as many
PostgreSQL backends at once as the cluster has worker threads, where the database batch is one
statement on one backend (Veta's sessions turn parallel query off, geo/store/db.py); and the
workers may run on other machines, each reaching the database by the URL it is given. The
driver reads only (id, point) of the deposits, and merges the partitions' rows back in id
order: the file is the in-database batch's, row for row. Where this is slower than the one
statement (a small batch, a database with no spare cores) is measured in benchmarks/README.md.
"""

from __future__ import annotations

import heapq
import math
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
from geo.io.exporting import BATCH_ROWS
from geo.io.screening_files import BatchScreening, screen_deposits
from geo.queries.deposits import where_sql
from geo.store.db import viewer_connection

if TYPE_CHECKING:
    from distributed import Client

SCHEDULER_FORMS = "tcp://host:port (a running Dask scheduler), local or local:N (N workers here)"
# Deposits per partition at most; each partition is at least one statement of this many.
PARTITION_DEPOSITS = 20_000
# Partitions per worker thread at least, so that a slow partition does not leave the others idle.
PARTITIONS_PER_THREAD = 2
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
    from distributed import Client, LocalCluster

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


def _day_and_points(url: str, batch: BatchScreening) -> tuple[Any, np.ndarray, np.ndarray]:
    """The day the run screens on, and the ids and points of the deposits the search matches
    (a point of each outline: the Hilbert curve needs only where a deposit is)."""
    params = Params()
    text = (
        "SELECT t.id, ST_AsBinary(ST_PointOnSurface(t.geom)) FROM deposits t "
        f"WHERE {where_sql(batch.search, params)} ORDER BY t.id"
    )
    with viewer_connection(url, batch.viewer) as conn, psycopg.RawCursor(conn) as cursor:
        day = batch.on or conn.execute("SELECT current_date").fetchall()[0][0]
        rows = cursor.execute(text, params.values).fetchall()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return day, ids, shapely.from_wkb([bytes(r[1]) for r in rows])


def _partition_ids(part) -> list[int]:
    return part["id"].tolist()


def _screen_partition(part, url: str, batch: BatchScreening) -> list[tuple]:
    return screen_deposits(url, batch, _partition_ids(part))


def screen_on_dask(
    client: Client, url: str, batch: BatchScreening, partitions: int | None = None
) -> tuple[DaskRun, Iterator[list[tuple]]]:
    """The run's shape, and the rows of every deposit of the search in id order, as
    screen_in_database gives them; the partitions are screened before this returns."""
    import dask
    import dask_geopandas
    import geopandas as gpd

    day, ids, points = _day_and_points(url, batch)
    batch = replace(batch, on=day)
    threads = sum(client.nthreads().values())
    if len(ids) == 0:
        return DaskRun(0, 0, threads), iter(())
    wanted = partitions or max(
        PARTITIONS_PER_THREAD * threads, math.ceil(len(ids) / PARTITION_DEPOSITS)
    )
    wanted = max(1, min(wanted, len(ids)))
    deposits = gpd.GeoDataFrame({"id": ids}, geometry=points, crs=4326)
    shuffled = dask_geopandas.from_geopandas(deposits, npartitions=wanted).spatial_shuffle(
        by="hilbert", npartitions=wanted, calculate_partitions=False, shuffle_method="tasks"
    )
    tasks = [dask.delayed(_screen_partition)(part, url, batch) for part in shuffled.to_delayed()]
    screened: list[list[tuple]] = client.gather(client.compute(tasks))
    if sum(len(rows) for rows in screened) != len(ids):
        # A deposit deleted between reading the points and screening it: say so, never a
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
