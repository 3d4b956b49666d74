"""One page of items with its exact count and neighbours: GeoJSON streamed, CSV and FlatGeobuf read whole."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass

import asyncpg
import geopandas
import pandas
import shapely
from fastapi import Request
from fastapi.responses import Response

from api.feature_lists import stream_items
from api.links import same_query
from api.ogc.documents import link
from api.ogc.negotiation import GEOJSON, HTML
from api.streaming import Progress, collection_bytes
from geo.core.sql import SqlQuery
from geo.features.items import (
    ItemsQuery,
    count_query,
    page_query,
    selected_properties,
    shown_properties,
)
from geo.features.keyset import Cursor
from geo.io.spreadsheet import safe_cell
from geo.store.counts import UNCACHED, CountCache


@dataclass(frozen=True)
class Page:
    """A page's rows in order (each starting with its keyset keys) and where it sits."""

    rows: list
    has_prev: bool
    has_next: bool
    matched: int
    # The sort order the rows' keys belong to, carried into the cursors of next/prev links.
    order: str


async def read_page(
    pool: asyncpg.Pool, query: ItemsQuery, page: SqlQuery, counts: CountCache = UNCACHED
) -> Page:
    """The page's rows and the exact number matched, counted at the same time on a second
    connection unless `counts` has it for the current data. Rows are at most `limit` (the
    page is bounded in memory by it)."""
    counting = asyncio.create_task(counts.count(pool, count_query(query)))
    try:
        async with pool.acquire() as conn:
            rows = await conn.fetch(page.text, *page.values)
        matched = await counting
    finally:
        if not counting.done():
            counting.cancel()
    beyond = len(rows) > query.limit
    rows = rows[: query.limit]
    if query.cursor and query.cursor.backwards:
        # Read backwards from the cursor: put in order; the page we came from follows.
        rows.reverse()
        return Page(rows, has_prev=beyond, has_next=True, matched=matched, order=query.order)
    return Page(
        rows, has_prev=query.cursor is not None, has_next=beyond, matched=matched, order=query.order
    )


def page_links(
    request: Request, media_type: str, order: str, prev_key: list | None, next_key: list | None
) -> list[dict]:
    """self, alternate, and next/prev links (from the keys of the page's last and first rows)
    that keep every other query parameter."""
    f = request.query_params.get("f")
    links = [link(same_query(request), "self", media_type)]
    if f != "html":
        links.append(link(same_query(request, f="html"), "alternate", HTML, "This page as HTML"))
    if next_key is not None:
        after = Cursor(tuple(next_key), order).encode()
        links.append(link(same_query(request, cursor=after), "next", media_type, "Next page"))
    if prev_key is not None:
        before = Cursor(tuple(prev_key), order, backwards=True).encode()
        links.append(link(same_query(request, cursor=before), "prev", media_type, "Previous page"))
    return links


def links_of(request: Request, page: Page, media_type: str) -> list[dict]:
    """The links of a page read whole."""
    prev_key = page.rows[0][0] if page.rows and page.has_prev else None
    next_key = page.rows[-1][0] if page.rows and page.has_next else None
    return page_links(request, media_type, page.order, prev_key, next_key)


def _members(returned: int, matched: int | None, links: list[dict]) -> dict:
    # No timeStamp (optional in Part 1): the same data gives the same bytes, and so the same ETag.
    return {"numberMatched": matched, "numberReturned": returned, "links": links}


async def geojson_page(request: Request, query: ItemsQuery, headers: dict) -> Response:
    """The page as a FeatureCollection, streamed as its rows arrive (the count beside them);
    PostGIS wrote each feature, here they are only joined. A page read backwards (a prev link)
    comes in reverse and is put in order whole: it is at most `limit` rows."""
    if query.cursor and query.cursor.backwards:
        state = request.app.state
        page = await read_page(state.pool, query, page_query(query), state.counts)
        members = _members(len(page.rows), page.matched, links_of(request, page, GEOJSON))
        body = collection_bytes([row[1] for row in page.rows], members)
        return Response(body, media_type=GEOJSON, headers=headers)
    progress = Progress()

    def tail(returned: int, next_key: list | None, matched: int | None) -> dict:
        prev_key = progress.first_key if query.cursor and returned else None
        links = page_links(request, GEOJSON, query.order, prev_key, next_key)
        return _members(returned, matched, links)

    return await stream_items(request, query, tail, headers=headers, progress=progress)


def _columns(query: ItemsQuery) -> list[str]:
    return ["id", *(name for name, _ in shown_properties(query))]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def csv_body(query: ItemsQuery, page: Page) -> bytes:
    """One row per feature: id, the properties, and the geometry as WKT (column `wkt`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_columns(query), "wkt"])
    for row in page.rows:
        writer.writerow([_text(safe_cell(v)) for v in list(row)[1:]])
    return out.getvalue().encode()


def flatgeobuf_body(query: ItemsQuery, page: Page) -> bytes:
    """The page as a FlatGeobuf file with typed columns and the CRS, written by GDAL."""
    columns = _columns(query)
    records = [dict(zip(columns, list(row)[1:-1])) for row in page.rows]
    geometry = shapely.from_wkb([row[-1] for row in page.rows])
    crs = (
        "OGC:CRS84"
        if query.crs.srid == 4326 and not query.crs.northing_first
        else f"EPSG:{query.crs.srid}"
    )
    frame = geopandas.GeoDataFrame(records, columns=columns, geometry=geometry, crs=crs)
    for prop in selected_properties(query):
        if prop.format in ("date", "date-time"):
            # As dates, not text: GDAL writes datetime64 columns as typed date fields.
            frame[prop.name] = pandas.to_datetime(frame[prop.name], utc=prop.format == "date-time")
    out = io.BytesIO()
    frame.to_file(out, driver="FlatGeobuf", engine="pyogrio")
    return out.getvalue()
