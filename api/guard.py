"""ASGI guard in front of the app: URL length, body size and NUL bytes, and the request's kind.

Answers before any route runs: 414 for a URL over VETA_MAX_URL_BYTES, 413 when Content-Length
announces more than VETA_MAX_BODY_MB (the body is never read) or when a body without one grows
past it while streaming, 400 for a NUL byte in the query string (PostgreSQL text cannot hold
one). It also tells geo.store.timed_pool which statement timeout the request's queries get, and
geo.store.routed_pool whether the request may write (by its method: a read-only one may be
served by a replica); a read-only one's transactions end beside its answer, which does not
wait for their COMMIT (geo/store/after_answer.py).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from api.middleware import HttpMiddleware
from geo.core.errors import VetaError
from geo.core.settings import Settings
from geo.store.after_answer import AFTER_ANSWER, AfterAnswer
from geo.store.routed_pool import REQUEST_ROUTE, route_for
from geo.store.timed_pool import REQUEST_KIND

# Path prefixes and the statement-timeout kind of their requests; the rest are `read`.
KIND_BY_PREFIX = (
    ("/screening/batch", "batch"),
    ("/screening/deposits", "batch"),
    ("/screening", "screening"),
    ("/downloads/", "export"),
)


class BodyTooLarge(VetaError, status=413, title="Content too large", slug="content-too-large"):
    """A request body grew past the limit while it was being read."""

    def extensions(self) -> dict:
        return {"invalid_params": [{"name": "body", "reason": "too large", "allowed": self.detail}]}


def request_kind(path: str) -> str:
    return next((kind for prefix, kind in KIND_BY_PREFIX if path.startswith(prefix)), "read")


class Guard(HttpMiddleware):
    """Pure ASGI middleware (no body buffering), outermost but for the error handlers."""

    def __init__(self, app: ASGIApp, settings: Settings):
        super().__init__(app)
        self.max_url = settings.max_url_bytes
        self.max_body = int(settings.max_body_mb * 2**20)
        self.max_import = int(settings.import_max_mb * 2**20)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        token = REQUEST_KIND.set(request_kind(scope["path"]))
        route = route_for(scope["method"])
        route_token = REQUEST_ROUTE.set(route)
        after_answer = AfterAnswer() if route.read_only else None
        after_token = AFTER_ANSWER.set(after_answer)
        try:
            await self.app(scope, self._limited(receive, self._body_limit(scope)), send)
        finally:
            try:
                if after_answer is not None:
                    # The answer is out; the request ends with its transactions.
                    await after_answer.close()
            finally:
                AFTER_ANSWER.reset(after_token)
                REQUEST_ROUTE.reset(route_token)
                REQUEST_KIND.reset(token)

    def _refusal(self, scope: Scope):
        instance = scope["path"]
        url_bytes = len(scope.get("raw_path") or scope["path"].encode()) + len(
            scope["query_string"]
        )
        if url_bytes > self.max_url:
            reason = f"the URL has {url_bytes:,} bytes, more than the {self.max_url:,} allowed"
            return problem(
                414,
                "URI too long",
                reason,
                "uri-too-long",
                instance,
                invalid_params=[
                    {
                        "name": "url",
                        "reason": reason,
                        "allowed": f"at most {self.max_url:,} bytes; send large "
                        "geometries in a POST body",
                    }
                ],
            )
        if b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]:
            name = next(
                (
                    k
                    for k, v in parse_qsl(
                        scope["query_string"].decode("latin-1"), keep_blank_values=True
                    )
                    if "\x00" in k or "\x00" in v
                ),
                "query",
            )
            reason = "contains a NUL character (%00)"
            return problem(
                400,
                "Invalid parameter",
                f"{name}: {reason}",
                "invalid-parameter",
                instance,
                invalid_params=[{"name": name, "reason": reason, "allowed": "text without NUL"}],
            )
        declared = dict(scope["headers"]).get(b"content-length")
        limit = self._body_limit(scope)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return self._too_large(instance, int(declared), limit)
        return None

    def _body_limit(self, scope: Scope) -> int:
        """Bytes a request's body may have: a file to import may be larger than any other body."""
        return self.max_import if scope["path"] == "/imports" else self.max_body

    def _too_large(self, instance: str, size: int, max_body: int):
        limit = f"at most {max_body / 2**20:g} MiB"
        reason = f"the body has {size:,} bytes"
        response = problem(
            413,
            "Content too large",
            f"body: {reason}, {limit}",
            "content-too-large",
            instance,
            invalid_params=[{"name": "body", "reason": reason, "allowed": limit}],
        )
        # The body is never read: the connection cannot carry another request after it.
        response.headers["Connection"] = "close"
        return response

    def _limited(self, receive: Receive, max_body: int) -> Receive:
        """`receive` that counts body bytes and stops reading at the limit."""
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    raise BodyTooLarge(f"body: more than the {max_body / 2**20:g} MiB allowed")
            return message

        return limited
