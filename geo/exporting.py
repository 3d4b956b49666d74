"""Exporting a layer to a file in constant memory: PostGIS rows in batches from a server-side
cursor, written batch by batch by pyogrio's Arrow writer (pyarrow's for GeoParquet)."""

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
from pyproj.exceptions import CRSError

from geo import commodities
from geo.cql2 import Queryable, cql2_where
from geo.db import SESSION_SETTINGS, libpq_url
from geo.errors import InvalidParameter
from geo.importing.layers import LAYERS, SHAPEFILE_NAMES, Layer
from geo.sql import Params, SqlQuery


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
    "gpkg": Format("GPKG", ".gpkg", "application/geopackage+sqlite3", dataset_options=(("VERSION", "1.2"),)),
    "shp": Format("ESRI Shapefile", ".shp", "application/x-shapefile", (("ENCODING", "UTF-8"),)),
    "geojson": Format("GeoJSON", ".geojson", "application/geo+json", (("RFC7946", "NO"),)),
    "fgb": Format("FlatGeobuf", ".fgb", "application/flatgeobuf"),
    "parquet": Format(None, ".parquet", "application/vnd.apache.parquet"),
    "csv": Format("CSV", ".csv", "text/csv", (("GEOMETRY", "AS_WKT"),)),
}
BATCH_ROWS = 10_000
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
# Lists (commodities) become one text column, items joined like the importer splits them.
LIST_SEPARATOR = ";"
_ARROW = {"text": pa.string(), "number": pa.float64(), "integer": pa.int64(), "date": pa.date32(),
          "list": pa.string()}


@dataclass(frozen=True)
class ExportPlan:
    """A checked export: which layer, format and CRS, and the statement that reads the rows."""

    layer: Layer
    format: Format
    crs: CRS
    query: SqlQuery
    # The file's columns (Shapefile: short names) and their Arrow types, in SELECT order.
    columns: tuple[tuple[str, pa.DataType], ...]


def parse_format(name: str, parameter: str = "format") -> Format:
    if name not in FORMATS:
        raise InvalidParameter(parameter, f"unknown format {name!r}", list(FORMATS))
    return FORMATS[name]


def parse_export_crs(text: str | None, parameter: str = "crs") -> CRS:
    """Any CRS with an EPSG code (PostGIS transforms to it); EPSG:4326 lon/lat by default."""
    if text is None:
        return CRS.from_epsg(4326)
    try:
        crs = CRS.from_user_input(text)
    except CRSError:
        crs = None
    if crs is None or crs.to_epsg() is None:
        raise InvalidParameter(parameter, f"unknown CRS {text!r}", "an EPSG code such as EPSG:25830")
    return crs


def _queryables(layer: Layer) -> dict[str, Queryable]:
    kinds = {"text": "string", "number": "number", "integer": "integer", "date": "date",
             "list": "string_array"}
    fields = {name: Queryable(name, f"t.{name}", kinds[f.kind], name, f.allowed)
              for name, f in layer.fields.items()}
    if "commodities" in fields:  # the name the OGC API's filters use for the same list
        fields["commodity"] = Queryable("commodity", "t.commodities", "string_array", "any commodity",
                                        layer.fields["commodities"].allowed, commodities.matching)
    fields["source"] = Queryable("source", "t.source", "string", "source")
    fields["geometry"] = Queryable("geometry", "t.geom", "geometry", "geometry")
    return fields


def plan_export(layer_name: str, format_name: str, crs: str | None = None, filter: str | None = None,
                filter_lang: str = "cql2-text", filter_crs: str | None = None) -> ExportPlan:
    """Check every option and build the statement; nothing has run yet."""
    if layer_name not in LAYERS:
        raise InvalidParameter("layer", f"unknown layer {layer_name!r}", list(LAYERS))
    layer, fmt, target = LAYERS[layer_name], parse_format(format_name), parse_export_crs(crs)
    params = Params()
    where = cql2_where(filter, filter_lang, _queryables(layer), params, filter_crs) if filter else "TRUE"
    table = layer.table
    columns = [(c, pa.int64()) for c in ("id",) if c in table.columns]
    columns += [(name, _ARROW[f.kind]) for name, f in layer.fields.items()]
    columns += [("source", pa.string())]
    columns += [(c, pa.timestamp("us", tz="UTC")) for c in ("updated_at",) if c in table.columns]
    lists = {n for n, f in layer.fields.items() if f.kind == "list"}
    select = [f"array_to_string(t.{n}, '{LIST_SEPARATOR}')" if n in lists else f"t.{n}"
              for n, _ in columns]
    epsg = target.to_epsg()
    geom = "t.geom" if epsg == 4326 else f"ST_Transform(t.geom, {params(epsg)}::int)"
    order = ", ".join(f"t.{k}" for k in layer.key)
    text = (f"SELECT {', '.join(select)}, ST_AsBinary({geom}) FROM {table.name} t "
            f"WHERE {where} ORDER BY {order}")
    if fmt.driver == "ESRI Shapefile":
        columns = [(SHAPEFILE_NAMES.get(n, n), t) for n, t in columns]
    return ExportPlan(layer, fmt, target, SqlQuery(text, tuple(params.values)), tuple(columns))


def _batches(url: str, plan: ExportPlan, progress: Callable[[int], None]) -> Iterator[list[tuple]]:
    """The rows, BATCH_ROWS at a time, from a server-side cursor (never all in memory)."""
    with psycopg.connect(libpq_url(url)) as conn:
        for name, value in SESSION_SETTINGS.items():
            conn.execute(f"SET {name} = '{value}'")
        with psycopg.RawServerCursor(conn, "veta_export") as cursor:
            cursor.itersize = BATCH_ROWS
            cursor.execute(plan.query.text, plan.query.values)
            while rows := cursor.fetchmany(BATCH_ROWS):
                progress(len(rows))
                yield rows


def _schema(plan: ExportPlan) -> pa.Schema:
    return pa.schema([pa.field(n, t) for n, t in plan.columns] + [pa.field("geometry", pa.binary())])


def _record_batches(url: str, plan: ExportPlan, progress: Callable[[int], None]) -> Iterator[pa.RecordBatch]:
    schema = _schema(plan)
    for rows in _batches(url, plan, progress):
        columns = list(zip(*rows, strict=True))
        yield pa.RecordBatch.from_arrays(
            [pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)],
            schema=schema)


def _geoparquet_metadata(plan: ExportPlan) -> dict[bytes, bytes]:
    types = list(plan.layer.geometry_types)
    geo = {"version": "1.1.0", "primary_column": "geometry",
           "columns": {"geometry": {"encoding": "WKB", "geometry_types": types,
                                    "crs": plan.crs.to_json_dict()}}}
    return {b"geo": json.dumps(geo).encode()}


def write_export(url: str, plan: ExportPlan, path: Path,
                 progress: Callable[[int], None] = lambda n: None) -> None:
    """Stream the plan's rows into the file at path (replacing it)."""
    batches = _record_batches(url, plan, progress)
    schema = _schema(plan)
    if plan.format.driver is None:
        with pq.ParquetWriter(path, schema.with_metadata(_geoparquet_metadata(plan))) as writer:
            for batch in batches:
                writer.write_batch(batch)
        return
    types = plan.layer.geometry_types
    try:
        pyogrio.write_arrow(
            pa.RecordBatchReader.from_batches(schema, batches), str(path), layer=str(plan.layer.name),
            driver=plan.format.driver, geometry_name="geometry",
            geometry_type=types[0] if len(types) == 1 else "Unknown", crs=plan.crs.to_wkt(),
            layer_options=dict(plan.format.layer_options) or None,
            dataset_options=dict(plan.format.dataset_options) or None)
    except pyogrio.errors.DataLayerError:
        shapefile = plan.format.driver == "ESRI Shapefile"
        for part in [path, *(path.with_suffix(s) for s in _SHAPEFILE_PARTS if shapefile)]:
            part.unlink(missing_ok=True)  # no half-written file is left behind
        if shapefile and len(types) > 1:
            raise InvalidParameter("format", f"a Shapefile holds one geometry type, and these "
                                   f"{plan.layer.name} mix {' and '.join(types)}",
                                   [f for f in FORMATS if f != "shp"]) from None
        raise
