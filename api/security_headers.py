"""ASGI middleware: the security headers of every answer, and the content security policy of pages.

Every answer says `X-Content-Type-Options: nosniff` (a browser runs or styles nothing whose media
type does not say it is a script or a style) and sends only the origin, not the path and query,
to other sites (`Referrer-Policy`). HTML pages also get a content security policy that allows
only Veta's own scripts, styles and connections, no inline script or style, and no framing by
other sites (`frame-ancestors`, and `X-Frame-Options` for browsers that predate it). A route that
sets its own policy (ReDoc, the web map) keeps it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware

# Each directive and its sources. MapLibre GL JS starts its workers from blob: URLs and turns
# tiles into images through blob: and data: URLs.
DIRECTIVES: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:", "blob:"),
    "worker-src": ("'self'", "blob:"),
    "connect-src": ("'self'",),
    "frame-ancestors": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
}


def content_security_policy(**more: tuple[str, ...]) -> str:
    """The pages' policy, with more sources for some directives (`connect_src=(origin,)`); one
    it does not name starts from default-src's."""
    directives = {name: list(sources) for name, sources in DIRECTIVES.items()}
    for key, sources in more.items():
        name = key.replace("_", "-")
        directives.setdefault(name, list(DIRECTIVES["default-src"])).extend(sources)
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


CONTENT_SECURITY_POLICY = content_security_policy()
EVERY_ANSWER = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
PAGES = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
}


class SecurityHeaders(HttpMiddleware):
    """Pure ASGI middleware: adds the headers to the start of each answer, whatever answered it."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                added = EVERY_ANSWER
                if headers.get("content-type", "").startswith("text/html"):
                    added = {**EVERY_ANSWER, **PAGES}
                for name, value in added.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
