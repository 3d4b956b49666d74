"""Parsing an items request (OGC API – Features Parts 1-3) into a validated geo.features.items.ItemsQuery."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from fastapi import Path, Query, Request

from api.language import LANGUAGE_PARAMETER
from api.list_params import TYPE_ALLOWED, parse_box, typed, with_cursor
from api.params import parse_filter, parse_limit
from geo.core.crs import CRS84, parse_crs
from geo.core.errors import InvalidParameter
from geo.features.collections import Collection, Property, get_collection
from geo.features.items import ItemsQuery, SortKey

ITEMS_PARAMETERS = (
    "f",
    "limit",
    "bbox",
    "bbox-crs",
    "crs",
    "datetime",
    "sortby",
    "properties",
    "filter",
    "filter-lang",
    "filter-crs",
    "cursor",
    "area",
)
ITEM_PARAMETERS = ("f", "crs")


def check_known(
    request: Request, known: tuple[str, ...], collection: Collection | None = None
) -> None:
    """Refuse parameters this resource does not define, rather than silently ignore them."""
    names = collection.by_name if collection else {}
    for name in request.query_params:
        if name not in known and name not in names and name != LANGUAGE_PARAMETER:
            allowed = list(known) + (["a queryable name (see /queryables)"] if collection else [])
            raise InvalidParameter(name, "unknown query parameter", allowed)


def _instant(text: str, end: bool) -> datetime:
    """An RFC 3339 date-time; a bare date means its whole (UTC) day."""
    try:
        if "T" not in text.upper():
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max if end else time.min, UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(
            "datetime",
            f"not an RFC 3339 date or date-time: {text!r}",
            "2020-01-01, 2020-01-01T00:00:00Z, intervals start/end with '..' for open",
        ) from None
    if moment.tzinfo is None:
        raise InvalidParameter(
            "datetime", f"{text!r} has no time zone", "a time with Z or an offset"
        )
    return moment


def _datetime(
    text: str | None, collection: Collection
) -> tuple[datetime | None, datetime | None] | None:
    if text is None:
        return None
    if not collection.temporal:
        raise InvalidParameter(
            "datetime",
            f"collection {collection.id} has no temporal property",
            "no datetime for this collection",
        )
    if "/" not in text:
        return _instant(text, end=False), _instant(text, end=True)
    start, _, end = text.partition("/")
    open_ = ("", "..")
    interval = (
        None if start in open_ else _instant(start, end=False),
        None if end in open_ else _instant(end, end=True),
    )
    if interval == (None, None):
        raise InvalidParameter(
            "datetime", "an interval needs at least one bound", "start/end, ../end, start/.."
        )
    start_at, end_at = interval
    if start_at is not None and end_at is not None and start_at > end_at:
        raise InvalidParameter("datetime", "the interval ends before it starts", "start <= end")
    return interval


def _sortby(text: str | None, collection: Collection) -> tuple[SortKey, ...]:
    if text is None:
        return ()
    keys: list[SortKey] = []
    # '+' in a query string arrives as a space: ' name' is '+name'.
    for item in text.split(","):
        item = item.strip()
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if name not in collection.sortable:
            raise InvalidParameter(
                "sortby",
                f"{name!r} is not a sortable property of {collection.id}",
                [f"[+|-]{n}" for n in collection.sortable],
            )
        if any(k.name == name for k in keys):
            raise InvalidParameter("sortby", f"{name!r} is given twice", "each property once")
        keys.append(SortKey(name, descending))
    return tuple(keys)


def _properties(text: str | None, collection: Collection) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    for name in names:
        if name not in collection.by_name:
            raise InvalidParameter(
                "properties", f"{collection.id} has no property {name!r}", list(collection.by_name)
            )
    return tuple(dict.fromkeys(names))


def _value(prop: Property, text: str) -> str:
    """A property=value test's value, checked against the property's type and code list."""
    if not typed(text, prop.type, prop.format):
        raise InvalidParameter(
            prop.name,
            f"{text!r} is not of the property's type",
            TYPE_ALLOWED.get(prop.format or prop.type, "text"),
        )
    if prop.enum and text not in prop.enum:
        raise InvalidParameter(prop.name, f"unknown value {text!r}", prop.enum)
    return text


def items_query(
    request: Request,
    collection_id: str = Path(alias="collectionId"),
    limit: int | None = Query(
        None,
        description="Features per page (default and maximum: VETA_DEFAULT_LIMIT, VETA_MAX_LIMIT).",
    ),
    bbox: str | None = Query(
        None, description="minx,miny,maxx,maxy in bbox-crs (default CRS84 lon/lat)."
    ),
    bbox_crs: str | None = Query(
        None, alias="bbox-crs", description="CRS of bbox (URI), default CRS84."
    ),
    crs: str | None = Query(
        None,
        description="CRS of the response geometry (URI), default CRS84; see the collection's crs list.",
    ),
    datetime_: str | None = Query(
        None,
        alias="datetime",
        description="Instant or interval (start/end, '..' open) on the collection's temporal property.",
    ),
    sortby: str | None = Query(
        None, description="Comma-separated properties, '-' for descending: -size_class,name."
    ),
    properties: str | None = Query(
        None, description="Comma-separated properties to return (default all)."
    ),
    filter_: str | None = Query(
        None, alias="filter", description="A CQL2 filter on the queryables."
    ),
    filter_lang: str | None = Query(
        None, alias="filter-lang", description="cql2-text (default) or cql2-json."
    ),
    filter_crs: str | None = Query(
        None, alias="filter-crs", description="CRS of the filter's geometries (URI), default CRS84."
    ),
    cursor: str | None = Query(
        None, description="Paging position; take it from a next or prev link."
    ),
) -> ItemsQuery:
    """FastAPI dependency: the request's items query, every value checked before SQL is built."""
    collection = get_collection(collection_id)
    check_known(request, ITEMS_PARAMETERS, collection)
    if bbox_crs is not None and bbox is None:
        raise InvalidParameter("bbox-crs", "given without a bbox", "only together with bbox")
    equals = tuple(
        (name, _value(collection.by_name[name], value))
        for name, value in request.query_params.multi_items()
        if name in collection.by_name
    )
    query = ItemsQuery(
        collection=collection,
        limit=parse_limit(limit, request.app.state.settings),
        crs=parse_crs(crs, "crs"),
        bbox=parse_box(bbox, parse_crs(bbox_crs, "bbox-crs") if bbox_crs else CRS84),
        datetime=_datetime(datetime_, collection),
        sortby=_sortby(sortby, collection),
        properties=_properties(properties, collection),
        filter=parse_filter(filter_, filter_lang, filter_crs),
        equals=equals,
    )
    return with_cursor(query, cursor)
