"""ETags (the request plus its tables' change counters) and Cache-Control; If-None-Match -> 304."""

from __future__ import annotations

import hashlib

from fastapi import Request
from fastapi.responses import Response

from geo.changes import table_versions

# Short: an edit shows within a minute; the ETag makes revalidation after that cheap.
CACHE_CONTROL = "public, max-age=60"


def etag_of(request: Request, versions: tuple[int, ...] = ()) -> str:
    """A weak ETag: the same query on the same data gives an equivalent body (only its
    timeStamp differs), and gzip may re-encode it."""
    query = sorted(request.query_params.multi_items())
    key = repr((request.app.version, request.url.path, query, request.headers.get("accept"), versions))
    return 'W/"' + hashlib.sha1(key.encode()).hexdigest()[:24] + '"'


def _matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


async def data_etag(request: Request, tables: tuple[str, ...]) -> str | None:
    """The ETag of a response built from these tables, None if one is not change-tracked."""
    async with request.app.state.pool.acquire() as conn:
        versions = await table_versions(conn, tables)
    return None if versions is None else etag_of(request, versions)


def cache_headers(etag: str | None) -> dict[str, str]:
    if etag is None:
        return {"Cache-Control": "no-cache"}
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL}


def not_modified(request: Request, etag: str | None) -> Response | None:
    """304 Not Modified when the client already holds this ETag, else None."""
    if etag is None or not _matches(request, etag):
        return None
    return Response(status_code=304, headers=cache_headers(etag))
