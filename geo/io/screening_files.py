"""Batch screening of deposits into a file: the in-database batch's rows as CSV, GeoJSON or GeoPackage.

The rows are those of geo/queries/screening_batch.py, one per deposit in id order, whether one
statement screened every deposit (screen_in_database, what GET /screening/deposits runs) or
Dask partitions did (geo/io/screening_dask.py, each partition by the same statement): this
module writes both alike. CSV has the columns of `/screening/deposits?f=csv`, GeoJSON its
features (written by PostGIS), a GeoPackage the same columns with each deposit's geometry.
The file is written under a temporary name beside it and renamed at the end: a failed run
leaves nothing half-written.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pyarrow as pa
import pyogrio

from geo.core.errors import InvalidParameter
from geo.core.sql import Params, SqlQuery
from geo.features.collections import get_collection
from geo.features.items import ItemsQuery
from geo.io.exporting import BATCH_ROWS, FORMATS
from geo.io.spreadsheet import safe_row
from geo.queries.deposits import DepositSearch, deposit_query
from geo.queries.screening import ScreeningOptions
from geo.queries.screening_batch import (
    COLUMNS,
    SiteSource,
    batch_query,
    deposit_ids_source,
    deposits_source,
)
from geo.store.db import viewer_connection
from geo.store.viewer import ANONYMOUS, Viewer

BATCH_FORMATS = ("csv", "geojson", "gpkg")
LAYER = "deposit_screening_batch"
# Deposits are points and outlines: one GeoPackage layer of either ("Unknown" to GDAL).
_GEOMETRY_TYPE = "Unknown"
_SCHEMA = pa.schema(
    [pa.field(c, pa.float64() if c == "site_area_ha" else pa.string()) for c in COLUMNS]
    + [pa.field("geometry", pa.binary())]
)


@dataclass(frozen=True)
class BatchScreening:
    """Which deposits, counted how, as of which day, for whom, into which format."""

    search: DepositSearch
    options: ScreeningOptions
    format: str
    # None: the database's current_date (a Dask run fixes it once for every partition).
    on: date | None = None
    viewer: Viewer = ANONYMOUS
    # The outline (EWKB) of the admin area the deposits must intersect.
    area: bytes | None = None

    def deposits(self) -> ItemsQuery:
        """The deposits screened, as the feature engine selects them (/deposits alike)."""
        return deposit_query(ItemsQuery(get_collection("deposits"), area=self.area), self.search)


def parse_batch_format(name: str) -> str:
    if name not in BATCH_FORMATS:
        raise InvalidParameter("format", f"unknown format {name!r}", BATCH_FORMATS)
    return name


def _statement(batch: BatchScreening, source: SiteSource, params: Params) -> SqlQuery:
    return batch_query(
        source,
        params,
        batch.options,
        geojson=batch.format == "geojson",
        on=batch.on,
        with_wkb=batch.format == "gpkg",
    )


def screen_in_database(url: str, batch: BatchScreening) -> Iterator[list[tuple]]:
    """Every deposit of the search in one statement, as rows (ord, ...) from a server-side
    cursor, BATCH_ROWS at a time."""
    params = Params()
    query = _statement(batch, deposits_source(batch.deposits(), params), params)
    with (
        viewer_connection(url, batch.viewer) as conn,
        psycopg.RawServerCursor(conn, "veta_screening") as cursor,
    ):
        cursor.itersize = BATCH_ROWS
        cursor.execute(query.text, query.values)
        while rows := cursor.fetchmany(BATCH_ROWS):
            yield rows


def screen_deposits(
    url: str, batch: BatchScreening, ids: Sequence[int], bounds: tuple[float, float, float, float]
) -> list[tuple]:
    """The rows of the deposits of `ids`, all within `bounds` (one partition), by the same
    statement."""
    if not ids:
        return []
    params = Params()
    query = _statement(batch, deposit_ids_source(ids, bounds, params), params)
    with viewer_connection(url, batch.viewer) as conn, psycopg.RawCursor(conn) as cursor:
        cursor.execute(query.text, query.values)
        return cursor.fetchall()


def write_batch(batches: Iterable[list[tuple]], path: Path, format: str) -> int:
    """Write the rows (ord first) to `path` in `format`, replacing it; how many were written."""
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    partial.unlink(missing_ok=True)
    try:
        if format == "gpkg":
            count = _write_geopackage(batches, partial)
        else:
            with partial.open("w", encoding="utf-8", newline="") as out:
                count = (_write_csv if format == "csv" else _write_geojson)(batches, out)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


def _write_csv(batches: Iterable[list[tuple]], out) -> int:
    # As GET /screening/deposits?f=csv writes it: the same header, cells made spreadsheet-safe.
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for rows in batches:
        writer.writerows(safe_row(row[1:]) for row in rows)
        count += len(rows)
    return count


def _write_geojson(batches: Iterable[list[tuple]], out) -> int:
    out.write('{"type":"FeatureCollection","features":[')
    count = 0
    for rows in batches:
        for row in rows:
            out.write(("," if count else "") + row[1])
            count += 1
    out.write(f'],"numberReturned":{count}}}\n')
    return count


def _record_batches(batches: Iterable[list[tuple]], counted: list[int]) -> Iterator[pa.RecordBatch]:
    for rows in batches:
        counted[0] += len(rows)
        columns = list(zip(*rows))[1:]
        arrays = []
        for values, field in zip(columns, _SCHEMA):
            if field.name == "site_area_ha":  # numeric arrives as Decimal
                values = tuple(None if x is None else float(x) for x in values)
            arrays.append(pa.array(values, type=field.type))
        yield pa.RecordBatch.from_arrays(arrays, schema=_SCHEMA)


def _write_geopackage(batches: Iterable[list[tuple]], path: Path) -> int:
    fmt = FORMATS["gpkg"]
    counted = [0]
    pyogrio.write_arrow(
        pa.RecordBatchReader.from_batches(_SCHEMA, _record_batches(batches, counted)),
        str(path),
        layer=LAYER,
        driver=fmt.driver,
        geometry_name="geometry",
        geometry_type=_GEOMETRY_TYPE,
        crs="EPSG:4326",
        dataset_options=dict(fmt.dataset_options) or None,
    )
    return counted[0]
