"""ETags from what a response says (a hash of its body), Cache-Control, and 304 for If-None-Match.

Hashing the body rather than tracking what it was made from costs no query and cannot go stale:
it changes with the data, with the day (which zones are in force), with the code, with anything.
A 304 saves the transfer, not the database work; the clients that revalidate (browsers, caching
proxies) are not the ones that page through whole layers.

Items pages are streamed (api/streaming.py), and a streamed body's hash is known only after its
last byte, too late for a header. An answer of one chunk (up to CHUNK_ROWS features: every
ordinary page, the default limit included) is held whole before it is sent anyway, so it keeps
its ETag and its 304. A longer page goes out as it is read, with Cache-Control but no ETag: it
is a bulk read, whose clients do not revalidate, and an ETag made instead from the tables'
change counters would also have to follow the day, the viewer and the code to stay true.
"""

from __future__ import annotations

import hashlib

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

# Short: an edit shows within a minute; the ETag makes revalidation after that cheap.
CACHE_CONTROL = "public, max-age=60"


def _matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def cached(request: Request, response: Response, version: str | None = None) -> Response:
    """The response with an ETag and Cache-Control, or 304 Not Modified when the client
    already holds this body. The ETag is weak (gzip may re-encode the body), except for an
    editable record's, which starts with its version (geo.editing) so that a write's If-Match
    can be checked against it: `"<version>-<digest>"`."""
    if isinstance(response, StreamingResponse):
        # More than one chunk: sent as read, so no hash of it exists yet (see above).
        response.headers.update({"Cache-Control": CACHE_CONTROL, "Vary": "Accept"})
        return response
    digest = hashlib.sha1(response.body).hexdigest()[:24]
    etag = f'"{version}-{digest}"' if version else f'W/"{digest}"'
    # The same URL answers JSON, GeoJSON, HTML, CSV or FlatGeobuf by the Accept header.
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept"}
    if _matches(request, etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response
