"""SQL for a collection's items: filtered, sorted, keyset-paged pages of GeoJSON feature text.

Each page row is (keys, feature): `keys` are the row's sort keys and id as text, the cursor a
next or prev link resumes from; `feature` is the finished GeoJSON Feature text written by
PostGIS, so Python only joins bytes. Paging is by keyset (geo/features/keyset.py). Every
feature list Veta serves is such a query: a caller that knows the domain adds its own terms as
an Extension (geo/features/extension.py), and the engine stays generic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from geo.core.crs import CRS84, Crs
from geo.core.sql import Params, Sql, SqlQuery, joined
from geo.features.collections import Collection, Property
from geo.features.cql2 import Queryable, cql2_where
from geo.features.extension import NONE, Extension, SqlPart, constant
from geo.features.geojson import feature_text_sql
from geo.features.keyset import (
    Cursor,
    SortKey,
    keys_sql,
    keyset_sql,
    order_by_sql,
    order_terms,
    sort_order,
)


@dataclass(frozen=True)
class Bbox:
    """A bounding box, easting/longitude first whatever the CRS's axis order, in `crs`."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    crs: Crs = CRS84


@dataclass(frozen=True)
class CqlFilter:
    """A CQL2 filter as sent, translated to SQL by geo.features.cql2 when the query is built."""

    text: str
    lang: str = "cql2-text"
    # As sent (a CRS URI or EPSG:nnnn); geo.features.cql2 checks it. None: CRS84.
    crs: str | None = None


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
    # What a caller adds in its own terms: conditions, properties, joins (geo/features/extension.py).
    extension: Extension = field(default=NONE)
    # Digits of the written coordinates; None: the CRS's (geo.core.crs.Crs.decimals).
    decimals: int | None = None

    @property
    def order(self) -> str:
        """The sort order as a sortby value, the part of a cursor that must not change."""
        return sort_order(self.sortby)


def geometry_sql(
    collection: Collection, crs: Crs, decimals: int | None = None, geometry: Sql | None = None
) -> Sql:
    """GeoJSON geometry text of the collection's geometry (or `geometry`, in lon/lat) in `crs`,
    axes in its order."""
    geom = geometry or collection.geometry_sql
    if crs.srid != 4326:
        geom = Sql(f"ST_Transform({geom}, {crs.srid:d})")
    if crs.northing_first:
        geom = Sql(f"ST_FlipCoordinates({geom})")
    digits = crs.decimals if decimals is None else decimals
    # Option 0: no "crs" member; the CRS is told by the Content-Crs header (Part 2).
    return Sql(f"coalesce(ST_AsGeoJSON({geom}, {digits:d}, 0), 'null')")


def properties_sql(properties: tuple[tuple[str, Sql], ...]) -> Sql:
    """A json object of (name, SQL) pairs (names are registry constants, not user input)."""
    if not properties:
        return Sql("'{}'::json")
    return Sql("json_build_object(" + ", ".join(f"'{n}', {e}" for n, e in properties) + ")")


def feature_sql(
    collection: Collection,
    crs: Crs,
    properties: tuple[tuple[str, Sql], ...],
    decimals: int | None = None,
    geometry: Sql | None = None,
) -> Sql:
    """SQL text of one GeoJSON Feature per row, concatenated rather than built as json."""
    return feature_text_sql(
        collection.id_sql,
        geometry_sql(collection, crs, decimals, geometry),
        properties_sql(properties),
    )


def _bbox_sql(bbox: Bbox, collection: Collection, params: Params) -> Sql:
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
    return Sql(f"ST_Intersects({collection.geometry_sql}, {envelope})")


def _datetime_sql(query: ItemsQuery, params: Params) -> Sql:
    assert query.datetime is not None  # only called with a datetime
    start, end = query.datetime
    fields = [query.collection.by_name[name] for name in query.collection.temporal]

    def bound(value: datetime, field: Property) -> Sql:
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
    return joined(" AND ", conditions) or Sql("TRUE")


_CQL2_TYPES = {"date": "date", "date-time": "datetime"}


def queryables(collection: Collection) -> dict[str, Queryable]:
    """What a CQL2 filter on the collection may name: every property, its list queryables and
    `geometry`."""
    fields = {
        p.name: Queryable(
            p.name, p.sql, _CQL2_TYPES.get(p.format or "", p.type), p.description, p.enum
        )
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


def in_outline_sql(geometry: Sql, outline_param: Sql) -> Sql:
    """SQL: the geometry meets the outline (EWKB) bound as the parameter, e.g. an admin area's."""
    return Sql(f"ST_Intersects({geometry}, ST_GeomFromEWKB({outline_param}))")


def _filter_sql(query: ItemsQuery, params: Params) -> Sql:
    cql = query.filter
    assert cql is not None  # only called with a filter
    return Sql(cql2_where(cql.text, cql.lang, queryables(query.collection), params, cql.crs))


def where_sql(query: ItemsQuery, params: Params) -> Sql:
    """The conditions every page and the count share (no cursor)."""
    collection = query.collection
    conditions: list[Sql] = []
    if query.bbox:
        conditions.append(_bbox_sql(query.bbox, collection, params))
    if query.area:
        conditions.append(in_outline_sql(collection.geometry_sql, params(query.area)))
    if query.datetime:
        conditions.append(_datetime_sql(query, params))
    for name, value in query.equals:
        prop = collection.by_name[name]
        conditions.append(Sql(f"{prop.sql} = CAST({params(value)}::text AS {prop.sql_type})"))
    if query.filter:
        conditions.append(Sql(f"({_filter_sql(query, params)})"))
    conditions += [Sql(f"({condition(params)})") for condition in query.extension.conditions]
    return joined(" AND ", conditions) or Sql("TRUE")


def selected_properties(query: ItemsQuery) -> tuple[Property, ...]:
    """The collection's properties a page shows: those named by `properties`, else all."""
    if query.properties is None:
        return query.collection.properties
    return tuple(query.collection.by_name[name] for name in query.properties)


def shown_properties(query: ItemsQuery) -> tuple[tuple[str, SqlPart], ...]:
    """(name, SQL) of every property a page shows, in order: the selected ones, read as the
    extension says where it replaces them, then those the extension adds."""
    replaced = dict(query.extension.properties)
    shown = tuple(
        (p.name, replaced.pop(p.name, constant(p.expression))) for p in selected_properties(query)
    )
    added = tuple((n, part) for n, part in query.extension.properties if n in replaced)
    return shown + added


def _source(query: ItemsQuery, params: Params) -> Sql:
    source = query.extension.source
    return source(params) if source else query.collection.from_sql(params)


def _page_query(query: ItemsQuery, columns: SqlPart) -> SqlQuery:
    params = Params()
    source = _source(query, params)
    conditions = [where_sql(query, params)]
    terms = order_terms(query.collection, query.sortby)
    if query.cursor:
        conditions.append(keyset_sql(query.cursor, terms, params))
    order = order_by_sql(terms, reverse=query.cursor is not None and query.cursor.backwards)
    page = (
        f"FROM {source} WHERE {' AND '.join(conditions)} "
        f"ORDER BY {order} LIMIT {params(query.limit + 1)}"
    )
    joins = query.extension.joins
    if joins is None:
        text = f"SELECT {keys_sql(terms)}, {columns(params)} {page}"
    else:
        # The page's rows are chosen first and only they are joined: joined before the
        # ORDER BY … LIMIT, the lookup would run for every match (50 times as many rows as
        # the page for the headline search of benchmarks/README.md).
        text = (
            f"SELECT {keys_sql(terms)}, {columns(params)} FROM (SELECT t.* {page}) t "
            f"{joins(params)} ORDER BY {order}"
        )
    return SqlQuery(text, tuple(params.values))


def page_query(query: ItemsQuery) -> SqlQuery:
    """(keys, feature text) rows of one page in the requested order, limit + 1 of them so the
    caller sees whether another page follows. A backwards cursor returns rows in reverse."""

    def feature(params: Params) -> Sql:
        properties = tuple((name, part(params)) for name, part in shown_properties(query))
        geometry = query.extension.geometry
        return feature_sql(
            query.collection,
            query.crs,
            properties,
            query.decimals,
            geometry(params) if geometry else None,
        )

    return _page_query(query, feature)


def records_query(query: ItemsQuery, geometry: str) -> SqlQuery:
    """The same page as (keys, id, property values…, geometry) rows for tabular formats; the
    geometry as 'wkt' or 'wkb', easting/longitude first as GIS files store it."""
    collection, crs = query.collection, query.crs
    computed = query.extension.geometry

    def columns(params: Params) -> Sql:
        geom = computed(params) if computed else collection.geometry_sql
        if crs.srid != 4326:
            geom = Sql(f"ST_Transform({geom}, {crs.srid:d})")
        written = (
            f"ST_AsText({geom}, {crs.decimals:d})" if geometry == "wkt" else f"ST_AsBinary({geom})"
        )
        values = [str(collection.id_sql), *(part(params) for _, part in shown_properties(query))]
        return Sql(", ".join([*values, written]))

    return _page_query(query, columns)


def count_query(query: ItemsQuery) -> SqlQuery:
    """The exact number of items matching the query, all pages together."""
    params = Params()
    source = _source(query, params)
    return SqlQuery(
        f"SELECT count(*) FROM {source} WHERE {where_sql(query, params)}",
        tuple(params.values),
        query.collection.tables + query.extension.reads,
    )


def item_query(collection: Collection, feature_id: str, crs: Crs) -> SqlQuery:
    """One feature, with its detail properties, by id (the id as text from the URL)."""
    params = Params()
    source = collection.from_sql(params)
    properties = tuple((p.name, p.expression) for p in collection.properties + collection.detail)
    feature = feature_sql(collection, crs, properties)
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
