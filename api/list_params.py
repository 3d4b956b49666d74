"""The parameters every feature list shares — limit, bbox, cursor, area — parsed one way for the
OGC items and the REST searches alike, into a geo.features.items.ItemsQuery."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date, datetime

from fastapi import Query, Request

from api.params import (
    AREA_DESCRIPTION,
    LIMIT_DESCRIPTION,
    LONLAT_BBOX,
    outline_of,
    parse_bbox,
    parse_limit,
    resolve_admin_area,
)
from geo.core.crs import CRS84, Crs, check_area_of_use
from geo.core.errors import InvalidParameter
from geo.core.limits import checked_id
from geo.features.collections import get_collection
from geo.features.items import Bbox, ItemsQuery
from geo.features.keyset import CURSOR_ALLOWED, Cursor

BBOX_DESCRIPTION = f"{LONLAT_BBOX}."
CURSOR_DESCRIPTION = "Paging cursor; take it from the `next` link."

TYPE_ALLOWED = {
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "date": "a date (2020-01-31)",
    "date-time": "an RFC 3339 date-time",
}


def typed(text: str, type_: str, format_: str | None = None) -> bool:
    """Whether the text is a value of this JSON Schema type (and format)."""
    try:
        if type_ == "integer":
            # Compared as bigint: a longer one would fail in the database, not here.
            return -(2**63) <= int(text) < 2**63
        elif type_ == "number":
            return math.isfinite(float(text))
        elif type_ == "boolean":
            return text in ("true", "false")
        elif format_ == "date":
            date.fromisoformat(text)
        elif format_ == "date-time":
            datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def parse_box(text: str | None, crs: Crs = CRS84) -> Bbox | None:
    """`bbox` in `crs` (its axis order), within its range and area of use."""
    if text is None:
        return None
    box = parse_bbox(text, "bbox", lonlat=False)
    assert box is not None  # text is not None
    minx, miny, maxx, maxy = box
    if crs.northing_first:
        minx, miny, maxx, maxy = miny, minx, maxy, maxx
    if crs.geographic and not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidParameter(
            "bbox",
            "longitude must be within ±180 and latitude within ±90",
            "minLat,minLon,maxLat,maxLon" if crs.northing_first else "minLon,minLat,maxLon,maxLat",
        )
    check_area_of_use(crs, (minx, miny, maxx, maxy), "bbox", "bbox-crs")
    return Bbox(minx, miny, maxx, maxy, crs)


def with_cursor(query: ItemsQuery, text: str | None) -> ItemsQuery:
    """The query resuming from the cursor of a next/prev link, its keys checked against the
    types they are compared as. A bare id, the cursor of the REST lists' links before they
    shared the keyset paging, is still read in the default order (it may sit in saved links)."""
    if text is None:
        return query
    collection = query.collection
    if text.isdigit() and not query.order and collection.id_type == "integer":
        return replace(query, cursor=Cursor((str(checked_id(int(text), "cursor")),)))
    cursor = Cursor.decode(text, query.order)
    types = [(p.type, p.format) for p in (collection.by_name[k.name] for k in query.sortby)]
    types.append((collection.id_type, None))
    keys_fit = (
        len(cursor.keys) == len(types)
        and cursor.keys[-1] is not None
        and all(key is None or typed(key, *type_) for key, type_ in zip(cursor.keys, types))
    )
    if not keys_fit:
        raise InvalidParameter("cursor", f"malformed cursor {text!r}", CURSOR_ALLOWED)
    return replace(query, cursor=cursor)


def items_of(
    collection_id: str, area_description: str = AREA_DESCRIPTION
) -> Callable[..., Awaitable[ItemsQuery]]:
    """FastAPI dependency of a REST list over a collection: its items query from the shared
    parameters, to which the route adds its own terms."""

    async def shared_parameters(
        request: Request,
        bbox: str | None = Query(None, description=BBOX_DESCRIPTION),
        limit: int | None = Query(None, description=LIMIT_DESCRIPTION),
        cursor: str | None = Query(None, description=CURSOR_DESCRIPTION),
        area: str | None = Query(None, description=area_description),
    ) -> ItemsQuery:
        query = ItemsQuery(
            get_collection(collection_id),
            limit=parse_limit(limit, request.app.state.settings),
            bbox=parse_box(bbox),
            area=outline_of(await resolve_admin_area(request, area)),
        )
        return with_cursor(query, cursor)

    return shared_parameters
