"""OGC API – Features items: /collections/{id}/items and /collections/{id}/items/{featureId}."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from api.auth import OPENS_VIEWER_CONNECTION
from api.links import base_url, same_query
from api.ogc.caching import cached
from api.ogc.html import render
from api.ogc.negotiation import (
    CSV,
    FEATURE_FORMATS,
    FLATGEOBUF,
    GEOJSON,
    HTML,
    f_parameter,
    negotiate,
)
from api.ogc.pages import csv_body, flatgeobuf_body, geojson_page, links_of, read_page
from api.ogc.params import ITEM_PARAMETERS, check_known, items_query
from api.params import admin_area, outline_of
from geo.core.crs import Crs, parse_crs
from geo.core.errors import NotFound
from geo.core.limits import path_id
from geo.editing.audit import audit_entries
from geo.editing.records import WRITERS, record_version
from geo.features.collections import get_collection
from geo.features.items import (
    ItemsQuery,
    item_query,
    page_query,
    records_query,
    selected_properties,
)
from geo.queries.areas import AreaRef

router = APIRouter(tags=["OGC API – Features"])

_FEATURES: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {}, HTML: {}, CSV: {}, FLATGEOBUF: {}}}
}
ITEM_FORMATS = {k: v for k, v in FEATURE_FORMATS.items() if k in ("json", "geojson", "html")}


def _lonlat(crs: Crs) -> bool:
    """Whether the page's coordinates are lon/lat, which its map can fit itself to."""
    return crs.srid == 4326 and not crs.northing_first


@router.get(
    "/collections/{collectionId}/items",
    response_class=Response,
    responses=_FEATURES,
    dependencies=OPENS_VIEWER_CONNECTION,
    openapi_extra=f_parameter(FEATURE_FORMATS),
)
async def collection_items(
    request: Request,
    query: ItemsQuery = Depends(items_query),
    area: AreaRef | None = Depends(admin_area),
):
    """A page of features: filter by bbox, admin area, datetime, CQL2 `filter` or property=value;
    choose the CRS, sort order and properties; follow the `next` link for the following page."""
    query = replace(query, area=outline_of(area))
    f = negotiate(request, FEATURE_FORMATS)
    headers = {"Content-Crs": f"<{query.crs.uri}>"}
    pool, counts = request.app.state.pool, request.app.state.counts
    if f in ("csv", "fgb"):
        page = await read_page(
            pool, query, records_query(query, "wkt" if f == "csv" else "wkb"), counts
        )
        links = links_of(request, page, FEATURE_FORMATS[f])
        # Files have no room for links: paging travels in the Link header (RFC 8288).
        paging = [f'<{x["href"]}>; rel="{x["rel"]}"' for x in links if x["rel"] in ("next", "prev")]
        if paging:
            headers["Link"] = ", ".join(paging)
        headers["Content-Disposition"] = f'attachment; filename="{query.collection.id}.{f}"'
        # Encoding 10,000 rows takes a noticeable fraction of a second: off the event loop.
        body = await asyncio.to_thread(csv_body if f == "csv" else flatgeobuf_body, query, page)
        return cached(request, Response(body, media_type=FEATURE_FORMATS[f], headers=headers))
    if f == "html":
        page = await read_page(pool, query, page_query(query), counts)
        features = [orjson.loads(row[1]) for row in page.rows]
        return cached(
            request,
            render(
                request,
                "ogc_items.html",
                headers,
                root=base_url(request),
                collection=query.collection,
                features=features,
                lonlat=_lonlat(query.crs),
                properties=selected_properties(query),
                returned=len(page.rows),
                matched=page.matched,
                links=links_of(request, page, HTML),
            ),
        )
    return cached(request, await geojson_page(request, query, headers))


@router.get(
    "/collections/{collectionId}/items/{featureId}",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}, HTML: {}}}},
    openapi_extra=f_parameter(ITEM_FORMATS),
)
async def collection_item(
    request: Request,
    collection_id: str = Path(alias="collectionId"),
    feature_id: str = Path(alias="featureId"),
    crs: str | None = Query(None, description="CRS of the geometry (URI), default CRS84."),
):
    """One feature with all its properties, including those only shown on its own page."""
    collection = get_collection(collection_id)
    check_known(request, ITEM_PARAMETERS)
    f = negotiate(request, ITEM_FORMATS)
    target = parse_crs(crs, "crs")
    if collection.id_type == "integer" and not feature_id.isdigit():
        raise NotFound(f"no feature {feature_id!r} in {collection.id}: its ids are integers")
    if collection.id_type == "integer":
        path_id(int(feature_id), f"feature in {collection.id} with id")
    query = item_query(collection, feature_id, target)
    version = None
    async with request.app.state.pool.acquire() as conn:
        if collection.id in WRITERS:
            # The record's version in the same statement: an editable item's ETag starts with it.
            n = len(query.values) + 1
            feature, updated_at = await conn.fetchrow(
                f"SELECT ({query.text}), (SELECT updated_at FROM {collection.id} WHERE id = ${n})",
                *query.values,
                int(feature_id),
            )
            if feature is not None:
                version = record_version(int(feature_id), updated_at)
        else:
            feature = await conn.fetchval(query.text, *query.values)
    if feature is None:
        raise NotFound(f"no feature {feature_id!r} in {collection.id}")
    headers = {"Content-Crs": f"<{target.uri}>"}
    if f == "html":
        history = (
            await audit_entries(
                request.app.state.pool, collection.id, int(feature_id), oldest_first=True
            )
            if version
            else []
        )
        return cached(
            request,
            render(
                request,
                "ogc_item.html",
                headers,
                root=base_url(request),
                collection=collection,
                feature=orjson.loads(feature),
                lonlat=_lonlat(target),
                history=history,
            ),
            version,
        )
    root = f"{base_url(request)}/collections/{collection.id}"
    links = [
        {"href": same_query(request), "rel": "self", "type": GEOJSON},
        {"href": same_query(request, f="html"), "rel": "alternate", "type": HTML},
        {"href": root, "rel": "collection", "type": "application/json"},
    ]
    if version:
        links.append(
            {
                "href": f"{root}/items/{feature_id}/history",
                "rel": "version-history",
                "type": "application/json",
                "title": "Every write to this record: who, when, before and after",
            }
        )
    body = feature[:-1] + ',"links":' + orjson.dumps(links).decode() + "}"
    return cached(request, Response(body, media_type=GEOJSON, headers=headers), version)
