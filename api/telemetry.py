"""One structured JSON log line per request, with a request id.

The id is taken from the client's `X-Request-ID` when it is a short printable token (so a proxy's
id follows the request through), made otherwise, and returned in the same header. The line names
the route template (not the raw path, so logs group by endpoint), the status, the duration and
the query with credentials masked; headers are never logged, so Authorization cannot leak.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("veta.requests")

REQUEST_ID_HEADER = b"x-request-id"
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Query parameters whose values are credentials, compared lower-cased.
SECRET_PARAMETERS = frozenset(
    {"api_key", "apikey", "api-key", "key", "token", "access_token", "password", "secret"}
)


def request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            if _GOOD_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def masked_query(raw: bytes) -> str:
    """The query string with the values of credential-like parameters replaced by `***`."""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    return urlencode([(k, "***" if k.lower() in SECRET_PARAMETERS else v) for k, v in pairs])


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "(unmatched)"


class RequestLog:
    """Pure ASGI (so streamed answers pass through untouched): logs when the answer has ended."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500
        sent = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER
                ]
                message = {**message, "headers": [*headers, (REQUEST_ID_HEADER, rid.encode())]}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            entry = {
                "event": "request",
                "request_id": rid,
                "method": scope["method"],
                "route": route_template(scope),
                "path": scope["path"],
                "query": masked_query(scope.get("query_string", b"")),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "bytes": sent,
            }
            rows = scope["state"].get("rows")
            if rows is not None:
                entry["rows"] = rows
            log.info(json.dumps(entry, separators=(",", ":")))
