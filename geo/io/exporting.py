"""Exporting a layer to a file in constant memory: PostGIS rows in batches from a server-side
cursor, written batch by batch by pyogrio's Arrow writer (pyarrow's for GeoParquet)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
from pyproj import CRS

from geo.catalog.areas import AREA_QUERYABLE, area_codes_sql
from geo.core import commodities
from geo.core.crs import transformable_crs
from geo.core.errors import InvalidParameter
from geo.core.sql import Params, Sql, SqlQuery
from geo.features.cql2 import Queryable, cql2_where
from geo.features.items import in_outline_sql
from geo.io.importing.targets import LAYERS, SHAPEFILE_NAMES, Layer
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
# Lists (commodities) become one text column, items joined like the importer splits them.
LIST_SEPARATOR = ";"
_ARROW = {
    "text": pa.string(),
    "number": pa.float64(),
    "integer": pa.int64(),
    "date": pa.date32(),
    "list": pa.string(),
}


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


@dataclass(frozen=True)
class TableView:
    """An exported layer over an import layer's table: its geometry and which rows."""

    table_layer: str
    geometry: str
    geometry_type: str
    where: str = "TRUE"


# A deposit is a point or an outline. Exported, every deposit is a point (an outline's point on
# its surface) in `deposits`, and the outlines are a layer of their own: import the points,
# then the footprints, and the outlines replace the points again.
TABLE_VIEWS = {
    "deposits": TableView(
        "deposits",
        "CASE WHEN GeometryType(t.geom) = 'POINT' THEN t.geom ELSE ST_PointOnSurface(t.geom) END",
        "Point",
    ),
    "deposit_footprints": TableView(
        "deposits", "t.geom", "MultiPolygon", "GeometryType(t.geom) <> 'POINT'"
    ),
    **{
        name: TableView(name, "t.geom", layer.geometry_types[0])
        for name, layer in LAYERS.items()
        if name != "deposits"
    },
}
# Collections computed in the database (geo/catalog/collections.py), exported with their properties.
SCREENED = {
    "deposit_screening": (
        "Point",
        "CASE WHEN GeometryType(t.geom) = 'POINT' THEN t.geom ELSE ST_PointOnSurface(t.geom) END",
    )
}
EXPORT_LAYERS = (*TABLE_VIEWS, *SCREENED)
# A GeoPackage of the first also holds the second.
GPKG_COMPANIONS = {"deposits": "deposit_footprints", "deposit_screening": "deposit_footprints"}
_PROPERTY_ARROW = {
    ("string", None): pa.string(),
    ("number", None): pa.float64(),
    ("integer", None): pa.int64(),
    ("boolean", None): pa.bool_(),
    ("string", "date"): pa.date32(),
    ("string", "date-time"): pa.timestamp("us", tz="UTC"),
}


def parse_format(name: str, parameter: str = "format") -> Format:
    if name not in FORMATS:
        raise InvalidParameter(parameter, f"unknown format {name!r}", list(FORMATS))
    return FORMATS[name]


def _queryables(layer: Layer) -> dict[str, Queryable]:
    kinds = {
        "text": "string",
        "number": "number",
        "integer": "integer",
        "date": "date",
        "list": "string_array",
    }
    fields = {
        name: Queryable(name, f"t.{name}", kinds[f.kind], name, f.allowed)
        for name, f in layer.fields.items()
    }
    if "commodities" in fields:  # the name the OGC API's filters use for the same list
        fields["commodity"] = Queryable(
            "commodity",
            "t.commodities",
            "string_array",
            "any commodity",
            layer.fields["commodities"].allowed,
            commodities.matching,
        )
    fields["source"] = Queryable("source", "t.source", "string", "source")
    fields["area"] = Queryable(
        "area", area_codes_sql(Sql("t.geom")), "string_array", AREA_QUERYABLE
    )
    fields["geometry"] = Queryable("geometry", "t.geom", "geometry", "geometry")
    return fields


def plan_export(
    layer_name: str,
    format_name: str,
    crs: str | None = None,
    filter: str | None = None,
    filter_lang: str = "cql2-text",
    filter_crs: str | None = None,
    area: bytes | None = None,
    companions: bool = True,
) -> ExportPlan:
    """Check every option and build the statement(s); nothing has run yet. `area` is the
    outline (EWKB) of an admin area the features must intersect."""
    if layer_name not in EXPORT_LAYERS:
        raise InvalidParameter("layer", f"unknown layer {layer_name!r}", list(EXPORT_LAYERS))
    fmt, target = parse_format(format_name), transformable_crs(crs)
    args = (layer_name, fmt, target, filter, filter_lang, filter_crs, area)
    plan = _screened_plan(*args) if layer_name in SCREENED else _table_plan(*args)
    companion = GPKG_COMPANIONS.get(layer_name)
    if companions and companion and fmt.driver == "GPKG":
        # The outlines of exactly the deposits exported as points, in the same file.
        same_rows = (
            _screened_rows(layer_name, filter, filter_lang, filter_crs, area)
            if layer_name in SCREENED
            else None
        )
        extra = _table_plan(
            companion,
            fmt,
            target,
            None if same_rows else filter,
            filter_lang,
            filter_crs,
            area,
            same_rows,
        )
        plan = replace(plan, companions=(extra,))
    return plan


def _geometry(geometry: str, target: CRS, params: Params) -> str:
    epsg = target.to_epsg()
    return geometry if epsg == 4326 else f"ST_Transform({geometry}, {params(epsg)}::int)"


def _screened_query(
    name: str, filter: str | None, filter_lang: str, filter_crs: str | None, area: bytes | None
):
    from geo.features.collections import get_collection
    from geo.features.items import CqlFilter, ItemsQuery

    return ItemsQuery(
        get_collection(name),
        filter=CqlFilter(filter, filter_lang, filter_crs) if filter else None,
        area=area,
    )


def _screened_rows(
    name: str, filter: str | None, filter_lang: str, filter_crs: str | None, area: bytes | None
) -> Callable[[Params], str]:
    """SQL condition on `t.id`: the row is one of the computed collection's filtered rows."""
    from geo.features.items import where_sql

    query = _screened_query(name, filter, filter_lang, filter_crs, area)
    return lambda params: (
        f"t.id IN (SELECT t.id FROM {query.collection.from_sql(params)} "
        f"WHERE {where_sql(query, params)})"
    )


def _table_plan(
    name: str,
    fmt: Format,
    target: CRS,
    filter: str | None,
    filter_lang: str,
    filter_crs: str | None,
    area: bytes | None,
    rows: Callable[[Params], str] | None = None,
) -> ExportPlan:
    view = TABLE_VIEWS[name]
    layer = LAYERS[view.table_layer]
    params = Params()
    conditions = [view.where]
    if filter:
        conditions.append(cql2_where(filter, filter_lang, _queryables(layer), params, filter_crs))
    if area is not None:  # the outline of an admin area (area=)
        conditions.append(in_outline_sql(Sql("t.geom"), params(area)))
    if rows is not None:
        conditions.append(rows(params))
    table = layer.table
    columns = [(c, pa.int64()) for c in ("id",) if c in table.columns]
    columns += [(n, _ARROW[f.kind]) for n, f in layer.fields.items()]
    columns += [("source", pa.string())]
    columns += [(c, pa.timestamp("us", tz="UTC")) for c in ("updated_at",) if c in table.columns]
    lists = {n for n, f in layer.fields.items() if f.kind == "list"}
    select = [
        f"array_to_string(t.{n}, '{LIST_SEPARATOR}')" if n in lists else f"t.{n}"
        for n, _ in columns
    ]
    order = ", ".join(f"t.{k}" for k in layer.key)
    text = (
        f"SELECT {', '.join(select)}, ST_AsBinary({_geometry(view.geometry, target, params)}) "
        f"FROM {table.name} t WHERE {' AND '.join(conditions)} ORDER BY {order}"
    )
    if fmt.driver == "ESRI Shapefile":
        columns = [(SHAPEFILE_NAMES.get(n, n), t) for n, t in columns]
    return ExportPlan(
        name, view.geometry_type, fmt, target, SqlQuery(text, tuple(params.values)), tuple(columns)
    )


def _screened_plan(
    name: str,
    fmt: Format,
    target: CRS,
    filter: str | None,
    filter_lang: str,
    filter_crs: str | None,
    area: bytes | None,
) -> ExportPlan:
    """A computed collection (deposit_screening) with every property, filtered as its items are."""
    from geo.features.items import where_sql

    query = _screened_query(name, filter, filter_lang, filter_crs, area)
    collection = query.collection
    geometry_type, geometry = SCREENED[name]
    params = Params()
    source = collection.from_sql(params)
    where = where_sql(query, params)
    properties = collection.properties
    columns = [("id", pa.int64())] + [
        (p.name, _PROPERTY_ARROW[(p.type, p.format)]) for p in properties
    ]
    select = [f"{collection.id_sql} AS id"] + [f"{p.sql} AS {p.name}" for p in properties]
    text = (
        f"SELECT {', '.join(select)}, ST_AsBinary({_geometry(geometry, target, params)}) "
        f"FROM {source} WHERE {where} ORDER BY {collection.id_sql}"
    )
    if fmt.driver == "ESRI Shapefile":
        # dBase names: at most 10 characters, kept unique by a running number.
        short: list[tuple[str, pa.DataType]] = []
        for n, t in columns:
            cut = SHAPEFILE_NAMES.get(n, n)[:10]
            while cut in (c for c, _ in short):
                cut = f"{cut[:8]}{len(short):02d}"
            short.append((cut, t))
        columns = short
    return ExportPlan(
        name, geometry_type, fmt, target, SqlQuery(text, tuple(params.values)), tuple(columns)
    )


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
