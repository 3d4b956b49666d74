"""SQL for a collection's items: filtered, sorted, keyset-paged pages of GeoJSON feature text.

Each page row is (keys, feature): `keys` are the row's sort keys and id as text, the cursor a
next or prev link resumes from; `feature` is the finished GeoJSON Feature text written by
PostGIS, so Python only joins bytes. Paging is by keyset (sort keys, then id), never OFFSET, so a
deep page costs what the first one does.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

import orjson

from geo.core.crs import CRS84, Crs
from geo.core.errors import InvalidParameter
from geo.core.sql import Params, SqlQuery
from geo.features.collections import Collection, Property
from geo.features.cql2 import Queryable, cql2_where


@dataclass(frozen=True)
class Bbox:
    """A bounding box, easting/longitude first whatever the CRS's axis order, in `crs`."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    crs: Crs = CRS84


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool = False


@dataclass(frozen=True)
class CqlFilter:
    """A CQL2 filter as sent, translated to SQL by geo.features.cql2 when the query is built."""

    text: str
    lang: str = "cql2-text"
    # As sent (a CRS URI or EPSG:nnnn); geo.features.cql2 checks it. None: CRS84.
    crs: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (or, for a prev link, before) the row with these keys, in the
    sort order `order` (a sortby value; '' for the default order by id)."""

    keys: tuple[str | None, ...]
    order: str = ""
    backwards: bool = False

    def encode(self) -> str:
        raw = orjson.dumps([list(self.keys), self.order, self.backwards])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, order: str, parameter: str = "cursor") -> Cursor:
        """The cursor of a next/prev link, which must belong to the same sort order."""
        allowed = "the value of a next or prev link of the same query"
        try:
            keys, cursor_order, backwards = orjson.loads(
                base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            )
            valid = (
                isinstance(keys, list)
                and isinstance(backwards, bool)
                and isinstance(cursor_order, str)
                and all(k is None or isinstance(k, str) for k in keys)
            )
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
            valid = False
        if not valid:
            raise InvalidParameter(parameter, f"malformed cursor {text!r}", allowed)
        if cursor_order != order:
            raise InvalidParameter(
                parameter, f"the cursor pages by sortby={cursor_order!r}, not {order!r}", allowed
            )
        return cls(tuple(keys), order, backwards)


@dataclass(frozen=True)
class ItemsQuery:
    """A parsed, validated items request (every name already checked against the collection)."""

    collection: Collection
    limit: int = 100
    crs: Crs = CRS84
    bbox: Bbox | None = None
    # Closed interval; None on a side is open ('..').
    datetime: tuple[datetime | None, datetime | None] | None = None
    sortby: tuple[SortKey, ...] = ()
    # None: every property; otherwise these, in this order.
    properties: tuple[str, ...] | None = None
    filter: CqlFilter | None = None
    # Property = value tests from query parameters (OGC API Features Part 1 /req/core/fc-filters).
    equals: tuple[tuple[str, str], ...] = ()
    # The outline (EWKB) of the admin area the features must intersect (`area=`).
    area: bytes | None = None
    cursor: Cursor | None = None

    @property
    def order(self) -> str:
        """The sort order as a sortby value, the part of a cursor that must not change."""
        return ",".join(("-" if k.descending else "") + k.name for k in self.sortby)


def geometry_sql(collection: Collection, crs: Crs) -> str:
    """GeoJSON geometry text of the collection's geometry in `crs`, axes in its order."""
    geom = collection.geometry_sql
    if crs.srid != 4326:
        geom = f"ST_Transform({geom}, {crs.srid:d})"
    if crs.northing_first:
        geom = f"ST_FlipCoordinates({geom})"
    # Option 0: no "crs" member; the CRS is told by the Content-Crs header (Part 2).
    return f"coalesce(ST_AsGeoJSON({geom}, {crs.decimals:d}, 0), 'null')"


def properties_sql(properties: tuple[Property, ...]) -> str:
    """A json object of the given properties (names are registry constants, not user input)."""
    if not properties:
        return "'{}'::json"
    return "json_build_object(" + ", ".join(f"'{p.name}', {p.sql}" for p in properties) + ")"


def feature_sql(collection: Collection, crs: Crs, properties: tuple[Property, ...]) -> str:
    """SQL text of one GeoJSON Feature per row, concatenated rather than built as json."""
    return (
        '\'{"type":"Feature","id":\' || to_json(' + collection.id_sql + ")::text || "
        "',\"geometry\":' || " + geometry_sql(collection, crs) + " || "
        "',\"properties\":' || " + properties_sql(properties) + "::text || '}'"
    )


def _bbox_sql(bbox: Bbox, collection: Collection, params: Params) -> str:
    envelope = (
        f"ST_MakeEnvelope({params(bbox.minx)}, {params(bbox.miny)}, "
        f"{params(bbox.maxx)}, {params(bbox.maxy)}, {bbox.crs.srid:d})"
    )
    if bbox.crs.srid != 4326:
        # A box in a projected CRS has curved sides in lon/lat: densify it (about 100 points a
        # side) before transforming so the index test selects what lies inside the box; its
        # size is bounded by the CRS's area of use (geo.core.crs.check_area_of_use).
        side = f"{params(max(bbox.maxx - bbox.minx, bbox.maxy - bbox.miny) / 100)}::float8"
        envelope = f"ST_Transform(ST_Segmentize({envelope}, {side}), 4326)"
    return f"ST_Intersects({collection.geometry_sql}, {envelope})"


def _datetime_sql(query: ItemsQuery, params: Params) -> str:
    start, end = query.datetime
    fields = [query.collection.by_name[name] for name in query.collection.temporal]

    def bound(value: datetime, field: Property) -> str:
        # A day-valued field matches a time on that (UTC) day.
        return params(value.date() if field.format == "date" else value)

    first, last = fields[0], fields[-1]
    conditions = []
    if len(fields) == 1:
        # An instant: unknown (NULL) never matches.
        conditions.append(f"{first.sql} IS NOT NULL")
        if start is not None:
            conditions.append(f"{first.sql} >= {bound(start, first)}")
        if end is not None:
            conditions.append(f"{first.sql} <= {bound(end, first)}")
    else:
        # A validity interval, NULL ends open: it intersects the requested interval.
        if start is not None:
            conditions.append(f"({last.sql} IS NULL OR {last.sql} >= {bound(start, last)})")
        if end is not None:
            conditions.append(f"({first.sql} IS NULL OR {first.sql} <= {bound(end, first)})")
    return " AND ".join(conditions) or "TRUE"


_CQL2_TYPES = {"date": "date", "date-time": "datetime"}


def queryables(collection: Collection) -> dict[str, Queryable]:
    """What a CQL2 filter on the collection may name: every property, its list queryables and
    `geometry`."""
    fields = {
        p.name: Queryable(p.name, p.sql, _CQL2_TYPES.get(p.format, p.type), p.description, p.enum)
        for p in collection.properties
    }
    fields.update(
        (q.name, Queryable(q.name, q.sql, "string_array", q.description, q.enum, q.narrower))
        for q in collection.list_queryables
    )
    fields["geometry"] = Queryable(
        "geometry",
        collection.geometry_sql,
        "geometry",
        f"The feature's geometry ({collection.geometry_type})",
    )
    return fields


def in_outline_sql(geometry: str, outline_param: str) -> str:
    """SQL: the geometry meets the outline (EWKB) bound as the parameter, e.g. an admin area's."""
    return f"ST_Intersects({geometry}, ST_GeomFromEWKB({outline_param}))"


def _filter_sql(query: ItemsQuery, params: Params) -> str:
    cql = query.filter
    return cql2_where(cql.text, cql.lang, queryables(query.collection), params, cql.crs)


def where_sql(query: ItemsQuery, params: Params) -> str:
    """The conditions every page and the count share (no cursor)."""
    collection = query.collection
    conditions = []
    if query.bbox:
        conditions.append(_bbox_sql(query.bbox, collection, params))
    if query.area:
        conditions.append(in_outline_sql(collection.geometry_sql, params(query.area)))
    if query.datetime:
        conditions.append(_datetime_sql(query, params))
    for name, value in query.equals:
        prop = collection.by_name[name]
        conditions.append(f"{prop.sql} = CAST({params(value)}::text AS {prop.sql_type})")
    if query.filter:
        conditions.append(f"({_filter_sql(query, params)})")
    return " AND ".join(conditions) or "TRUE"


def _order_terms(query: ItemsQuery) -> list[tuple[str, str, bool]]:
    """(SQL expression, SQL type, descending) of the total order: sort keys with NULLs last,
    then the id."""
    terms = []
    for key in query.sortby:
        prop = query.collection.by_name[key.name]
        terms.append((f"({prop.sql} IS NULL)", "boolean", False))
        terms.append((prop.sql, prop.sql_type, key.descending))
    terms.append((query.collection.id_sql, query.collection.id_sql_type, False))
    return terms


def _keyset_sql(query: ItemsQuery, terms: list[tuple[str, str, bool]], params: Params) -> str:
    """Rows strictly after (or before) the cursor in the total order."""
    cursor = query.cursor
    values = []
    for key in cursor.keys[:-1]:
        values += [params("true" if key is None else "false"), params(key)]
    values.append(params(cursor.keys[-1]))
    alternatives = []
    for i, (expr, sql_type, descending) in enumerate(terms):
        equal = [
            f"{terms[j][0]} IS NOT DISTINCT FROM CAST({values[j]}::text AS {terms[j][1]})"
            for j in range(i)
        ]
        after = descending == cursor.backwards
        op = ">" if after else "<"
        equal.append(f"{expr} {op} CAST({values[i]}::text AS {sql_type})")
        alternatives.append("(" + " AND ".join(equal) + ")")
    return "(" + " OR ".join(alternatives) + ")"


def selected_properties(query: ItemsQuery) -> tuple[Property, ...]:
    """The properties a page shows: those named by `properties`, else all."""
    if query.properties is None:
        return query.collection.properties
    return tuple(query.collection.by_name[name] for name in query.properties)


def _page_query(query: ItemsQuery, columns: str) -> SqlQuery:
    params = Params()
    source = query.collection.from_sql(params)
    conditions = [where_sql(query, params)]
    terms = _order_terms(query)
    if query.cursor:
        conditions.append(_keyset_sql(query, terms, params))
    reverse = query.cursor is not None and query.cursor.backwards
    order = ", ".join(f"{expr} {'DESC' if desc != reverse else 'ASC'}" for expr, _, desc in terms)
    # The cursor keeps each sort key's value (its NULL flag follows from it) and the id.
    keys = "ARRAY[" + ", ".join(f"({expr})::text" for expr, _, _ in terms[1::2] + terms[-1:]) + "]"
    text = (
        f"SELECT {keys}, {columns} FROM {source} WHERE {' AND '.join(conditions)} "
        f"ORDER BY {order} LIMIT {params(query.limit + 1)}"
    )
    return SqlQuery(text, tuple(params.values))


def page_query(query: ItemsQuery) -> SqlQuery:
    """(keys, feature text) rows of one page in the requested order, limit + 1 of them so the
    caller sees whether another page follows. A backwards cursor returns rows in reverse."""
    return _page_query(query, feature_sql(query.collection, query.crs, selected_properties(query)))


def records_query(query: ItemsQuery, geometry: str) -> SqlQuery:
    """The same page as (keys, id, property values…, geometry) rows for tabular formats; the
    geometry as 'wkt' or 'wkb', easting/longitude first as GIS files store it."""
    collection, crs = query.collection, query.crs
    geom = (
        collection.geometry_sql
        if crs.srid == 4326
        else f"ST_Transform({collection.geometry_sql}, {crs.srid:d})"
    )
    geom = f"ST_AsText({geom}, {crs.decimals:d})" if geometry == "wkt" else f"ST_AsBinary({geom})"
    values = ", ".join(p.sql for p in selected_properties(query))
    return _page_query(query, f"{collection.id_sql}, " + (f"{values}, " if values else "") + geom)


def count_query(query: ItemsQuery) -> SqlQuery:
    """The exact number of items matching the query, all pages together."""
    params = Params()
    source = query.collection.from_sql(params)
    return SqlQuery(
        f"SELECT count(*) FROM {source} WHERE {where_sql(query, params)}",
        tuple(params.values),
        query.collection.tables,
    )


def item_query(collection: Collection, feature_id: str, crs: Crs) -> SqlQuery:
    """One feature, with its detail properties, by id (the id as text from the URL)."""
    params = Params()
    source = collection.from_sql(params)
    feature = feature_sql(collection, crs, collection.properties + collection.detail)
    text = (
        f"SELECT {feature} FROM {source} "
        f"WHERE {collection.id_sql} = CAST({params(feature_id)}::text AS {collection.id_sql_type})"
    )
    return SqlQuery(text, tuple(params.values))


def extent_query(collection: Collection) -> SqlQuery:
    """The collection's lon/lat bounding box and, if it has one, its temporal extent (as text)."""
    params = Params()
    if collection.extent:
        bounds = ", ".join(f"{params(x)}::float8" for x in collection.extent)
        return SqlQuery(f"SELECT {bounds}, NULL::text, NULL::text", tuple(params.values))
    source = collection.from_sql(params)
    temporal = "NULL::text AS first, NULL::text AS last"
    if len(collection.temporal) == 1:
        # An instant: unknown (NULL) ones are left out.
        instant = collection.by_name[collection.temporal[0]].sql
        temporal = f"min({instant})::text AS first, max({instant})::text AS last"
    elif collection.temporal:
        # Validity intervals: one open end (NULL) makes the extent open on that side.
        first = collection.by_name[collection.temporal[0]].sql
        last = collection.by_name[collection.temporal[1]].sql
        temporal = (
            f"CASE WHEN bool_or({first} IS NULL) THEN NULL ELSE min({first}) END::text AS first, "
            f"CASE WHEN bool_or({last} IS NULL) THEN NULL ELSE max({last}) END::text AS last"
        )
    text = (
        f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), first, last FROM "
        f"(SELECT ST_Extent({collection.geometry_sql}) AS e, {temporal} FROM {source}) extent"
    )
    return SqlQuery(text, tuple(params.values))
