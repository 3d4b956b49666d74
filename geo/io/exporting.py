"""Writing an export into a file in constant memory: PostGIS rows in batches from a server-side
cursor, written batch by batch by pyogrio's Arrow writer (pyarrow's for GeoParquet).

Which layers are exported, with which columns and rows, is planned in geo/io/export_plans.py;
this module knows the formats and writes a plan."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
from pyproj import CRS

from geo.core.errors import InvalidParameter
from geo.core.sql import SqlQuery
from geo.io.spreadsheet import safe_column
from geo.store.db import viewer_connection
from geo.store.viewer import ANONYMOUS, Viewer


@dataclass(frozen=True)
class Format:
    """An export format: its GDAL driver (None: written with pyarrow), suffix and media type."""

    driver: str | None
    suffix: str
    media_type: str
    layer_options: tuple[tuple[str, str], ...] = ()
    dataset_options: tuple[tuple[str, str], ...] = ()


FORMATS: dict[str, Format] = {
    # GeoPackage 1.2: read without warnings by the GDAL 3.6 of Debian 12 and the QGIS built on it.
    "gpkg": Format(
        "GPKG", ".gpkg", "application/geopackage+sqlite3", dataset_options=(("VERSION", "1.2"),)
    ),
    "shp": Format("ESRI Shapefile", ".shp", "application/x-shapefile", (("ENCODING", "UTF-8"),)),
    "geojson": Format("GeoJSON", ".geojson", "application/geo+json", (("RFC7946", "NO"),)),
    "fgb": Format("FlatGeobuf", ".fgb", "application/flatgeobuf"),
    "parquet": Format(None, ".parquet", "application/vnd.apache.parquet"),
    "csv": Format("CSV", ".csv", "text/csv", (("GEOMETRY", "AS_WKT"),)),
}
BATCH_ROWS = 10_000
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


@dataclass(frozen=True)
class ExportPlan:
    """A checked export: which layer, format and CRS, and the statement that reads the rows."""

    name: str
    # One geometry type per file layer: QGIS shows a mixed one as "Geometry: Unknown".
    geometry_type: str
    format: Format
    crs: CRS
    query: SqlQuery
    # The file's columns (Shapefile: short names) and their Arrow types, in SELECT order.
    columns: tuple[tuple[str, pa.DataType], ...]
    # Layers written into the same file after this one (a GeoPackage of deposits also holds
    # their footprints).
    companions: tuple[ExportPlan, ...] = ()


def parse_format(name: str, parameter: str = "format") -> Format:
    if name not in FORMATS:
        raise InvalidParameter(parameter, f"unknown format {name!r}", list(FORMATS))
    return FORMATS[name]


@dataclass(frozen=True)
class _Reading:
    """Where and for whom the rows are read, and for how long at most."""

    url: str
    viewer: Viewer
    statement_timeout_s: float | None


def _batches(
    reading: _Reading, plan: ExportPlan, progress: Callable[[int], None]
) -> Iterator[list[tuple]]:
    """The rows, BATCH_ROWS at a time, from a server-side cursor (never all in memory), as the
    viewer may see them: under the service's role (whoever connects) and the viewer's settings,
    so row-level security leaves out every confidential record not theirs. All in the one
    transaction the connection opens, every setting local to it (geo/store/db.py,
    viewer_connection)."""
    with viewer_connection(reading.url, reading.viewer, reading.statement_timeout_s) as conn:
        with psycopg.RawServerCursor(conn, "veta_export") as cursor:
            cursor.itersize = BATCH_ROWS
            cursor.execute(plan.query.text, plan.query.values)
            while rows := cursor.fetchmany(BATCH_ROWS):
                progress(len(rows))
                yield rows


def _schema(plan: ExportPlan) -> pa.Schema:
    return pa.schema(
        [pa.field(n, t) for n, t in plan.columns] + [pa.field("geometry", pa.binary())]
    )


def _record_batches(
    reading: _Reading, plan: ExportPlan, progress: Callable[[int], None]
) -> Iterator[pa.RecordBatch]:
    schema = _schema(plan)
    cell = safe_column if plan.format.driver == "CSV" else (lambda column: column)
    for rows in _batches(reading, plan, progress):
        columns = list(zip(*rows, strict=True))
        yield pa.RecordBatch.from_arrays(
            [
                cell(pa.array(values, type=field.type))
                for values, field in zip(columns, schema, strict=True)
            ],
            schema=schema,
        )


def _geoparquet_metadata(plan: ExportPlan) -> dict[bytes, bytes]:
    geo = {
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {
            "geometry": {
                "encoding": "WKB",
                "geometry_types": [plan.geometry_type],
                "crs": plan.crs.to_json_dict(),
            }
        },
    }
    return {b"geo": json.dumps(geo).encode()}


def write_export(
    url: str,
    plan: ExportPlan,
    path: Path,
    progress: Callable[[int], None] = lambda n: None,
    statement_timeout_s: float | None = None,
    viewer: Viewer = ANONYMOUS,
) -> dict[str, int]:
    """Stream the plan's rows (and its companions' into the same file) into the file at path,
    replacing it; how many features each layer got. A statement running longer than
    statement_timeout_s is cancelled (psycopg.errors.QueryCanceled). Only what `viewer` may
    see is written."""
    reading = _Reading(url, viewer, statement_timeout_s)
    counts: dict[str, int] = {}
    for i, each in enumerate((plan, *plan.companions)):
        counts[each.name] = 0

        def counted(n: int, name: str = each.name) -> None:
            counts[name] += n
            progress(n)

        try:
            _write_layer(reading, each, path, counted, append=i > 0)
        except BaseException:
            shapefile = plan.format.driver == "ESRI Shapefile"
            for part in [path, *(path.with_suffix(s) for s in _SHAPEFILE_PARTS if shapefile)]:
                part.unlink(missing_ok=True)  # no half-written file is left behind
            raise
    return counts


def _write_layer(
    reading: _Reading,
    plan: ExportPlan,
    path: Path,
    progress: Callable[[int], None],
    append: bool,
) -> None:
    batches = _record_batches(reading, plan, progress)
    schema = _schema(plan)
    if plan.format.driver is None:
        with pq.ParquetWriter(path, schema.with_metadata(_geoparquet_metadata(plan))) as writer:
            for batch in batches:
                writer.write_batch(batch)
        return
    pyogrio.write_arrow(
        pa.RecordBatchReader.from_batches(schema, batches),
        str(path),
        layer=plan.name,
        driver=plan.format.driver,
        geometry_name="geometry",
        geometry_type=plan.geometry_type,
        crs=plan.crs.to_wkt(),
        append=append,
        layer_options=dict(plan.format.layer_options) or None,
        dataset_options=None if append else dict(plan.format.dataset_options) or None,
    )
