"""Planning an export: the layers that can be exported, their columns and rows, and the
statement that reads them, every option checked before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pyarrow as pa
from pyproj import CRS

from geo.catalog.areas import AREA_QUERYABLE, area_codes_sql
from geo.core import commodities
from geo.core.crs import transformable_crs
from geo.core.errors import InvalidParameter
from geo.core.sql import Params, Sql, SqlQuery
from geo.features.cql2 import Queryable, cql2_where
from geo.features.items import in_outline_sql
from geo.io.exporting import ExportPlan, Format, parse_format
from geo.io.importing.targets import LAYERS, SHAPEFILE_NAMES, Layer

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


@dataclass(frozen=True)
class Selection:
    """Which rows of a layer are exported: those a CQL2 filter and an admin area's outline
    (EWKB) let through; neither: every row."""

    filter: str | None = None
    filter_lang: str = "cql2-text"
    filter_crs: str | None = None
    area: bytes | None = None


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
    rows = Selection(filter, filter_lang, filter_crs, area)
    screened = layer_name in SCREENED
    plan = (_screened_plan if screened else _table_plan)(layer_name, fmt, target, rows)
    companion = GPKG_COMPANIONS.get(layer_name)
    if companions and companion and fmt.driver == "GPKG":
        # The outlines of exactly the deposits exported as points, in the same file.
        if screened:
            same_rows = _screened_rows(layer_name, rows)
            extra = _table_plan(companion, fmt, target, replace(rows, filter=None), same_rows)
        else:
            extra = _table_plan(companion, fmt, target, rows)
        plan = replace(plan, companions=(extra,))
    return plan


def _geometry(geometry: str, target: CRS, params: Params) -> str:
    epsg = target.to_epsg()
    return geometry if epsg == 4326 else f"ST_Transform({geometry}, {params(epsg)}::int)"


def _screened_query(name: str, rows: Selection):
    from geo.features.collections import get_collection
    from geo.features.items import CqlFilter, ItemsQuery

    return ItemsQuery(
        get_collection(name),
        filter=CqlFilter(rows.filter, rows.filter_lang, rows.filter_crs) if rows.filter else None,
        area=rows.area,
    )


def _screened_rows(name: str, rows: Selection) -> Callable[[Params], str]:
    """SQL condition on `t.id`: the row is one of the computed collection's filtered rows."""
    from geo.features.items import where_sql

    query = _screened_query(name, rows)
    return lambda params: (
        f"t.id IN (SELECT t.id FROM {query.collection.from_sql(params)} "
        f"WHERE {where_sql(query, params)})"
    )


def _table_plan(
    name: str,
    fmt: Format,
    target: CRS,
    rows: Selection,
    same_rows: Callable[[Params], str] | None = None,
) -> ExportPlan:
    view = TABLE_VIEWS[name]
    layer = LAYERS[view.table_layer]
    params = Params()
    conditions = [view.where]
    if rows.filter:
        queryables = _queryables(layer)
        conditions.append(
            cql2_where(rows.filter, rows.filter_lang, queryables, params, rows.filter_crs)
        )
    if rows.area is not None:  # the outline of an admin area (area=)
        conditions.append(in_outline_sql(Sql("t.geom"), params(rows.area)))
    if same_rows is not None:
        conditions.append(same_rows(params))
    columns = [(c, pa.int64()) for c in ("id",) if c in layer.columns]
    columns += [(n, _ARROW[f.kind]) for n, f in layer.fields.items()]
    columns += [("source", pa.string())]
    columns += [(c, pa.timestamp("us", tz="UTC")) for c in ("updated_at",) if c in layer.columns]
    lists = {n for n, f in layer.fields.items() if f.kind == "list"}
    select = [
        f"array_to_string(t.{n}, '{LIST_SEPARATOR}')" if n in lists else f"t.{n}"
        for n, _ in columns
    ]
    order = ", ".join(f"t.{k}" for k in layer.key)
    text = (
        f"SELECT {', '.join(select)}, ST_AsBinary({_geometry(view.geometry, target, params)}) "
        f"FROM {layer.name} t WHERE {' AND '.join(conditions)} ORDER BY {order}"
    )
    if fmt.driver == "ESRI Shapefile":
        columns = [(SHAPEFILE_NAMES.get(n, n), t) for n, t in columns]
    return ExportPlan(
        name, view.geometry_type, fmt, target, SqlQuery(text, tuple(params.values)), tuple(columns)
    )


def _screened_plan(name: str, fmt: Format, target: CRS, rows: Selection) -> ExportPlan:
    """A computed collection (deposit_screening) with every property, filtered as its items are."""
    from geo.features.items import where_sql

    query = _screened_query(name, rows)
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
