"""Reading one page of items (rows, exact count, neighbours) and encoding it: GeoJSON, CSV, FlatGeobuf."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass

import asyncpg
import geopandas
import orjson
import pandas
import shapely
from fastapi import Request

from api.links import same_query
from api.ogc.documents import link
from api.ogc.negotiation import GEOJSON, HTML
from geo.core.sql import SqlQuery
from geo.features.items import Cursor, ItemsQuery, count_query, selected_properties
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


def page_links(request: Request, page: Page, media_type: str) -> list[dict]:
    """self, alternate, and next/prev links that keep every other query parameter."""
    f = request.query_params.get("f")
    links = [link(same_query(request), "self", media_type)]
    if f != "html":
        links.append(link(same_query(request, f="html"), "alternate", HTML, "This page as HTML"))
    if page.rows and page.has_next:
        after = Cursor(tuple(page.rows[-1][0]), page.order).encode()
        links.append(link(same_query(request, cursor=after), "next", media_type, "Next page"))
    if page.rows and page.has_prev:
        before = Cursor(tuple(page.rows[0][0]), page.order, backwards=True).encode()
        links.append(link(same_query(request, cursor=before), "prev", media_type, "Previous page"))
    return links


def geojson_body(request: Request, page: Page) -> bytes:
    """The FeatureCollection: PostGIS wrote each feature, here they are only joined."""
    # No timeStamp (optional in Part 1): the same data gives the same bytes, and so the same ETag.
    members = {
        "numberMatched": page.matched,
        "numberReturned": len(page.rows),
        "links": page_links(request, page, GEOJSON),
    }
    features = ",".join(row[1] for row in page.rows)
    return (
        b'{"type":"FeatureCollection","features":['
        + features.encode()
        + b"],"
        + orjson.dumps(members)[1:]
    )


def _columns(query: ItemsQuery) -> list[str]:
    return ["id", *(p.name for p in selected_properties(query))]


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
