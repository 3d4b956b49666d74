"""ASGI middleware: the Host header must be a host name or address with an optional port, and one
of VETA_ALLOWED_HOSTS when that is set; anything else is refused 400 naming the header.

When VETA_BASE_URL is empty Veta's links are built from the Host the request names: a value with
a slash, an @, spaces or quotes would otherwise be written into every link of the answer.
Starlette's TrustedHostMiddleware answers plain text; this answers problem+json like every error.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem
from geo.core.errors import InvalidParameter
from geo.core.settings import Settings

HEADER = "Host"
# A DNS name (labels of letters, digits, hyphens; underscores too, as container names have them),
# an IPv4 address, or an IPv6 address in brackets; then an optional port.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
WELL_FORMED = re.compile(
    rf"(?P<host>{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?"
)
MAX_LENGTH = 255 + len(":65535")
WELL_FORMED_SHOWN = "host[:port]: a host name, an IPv4 address or a bracketed IPv6 address"
ANSWERED = "a host named in the setting VETA_ALLOWED_HOSTS"


def host_name(value: str) -> str | None:
    """The host of a well-formed Host value, lower case and without its port; None if malformed."""
    matched = WELL_FORMED.fullmatch(value) if len(value) <= MAX_LENGTH else None
    if matched is None or (matched["port"] is not None and int(matched["port"]) > 65535):
        return None
    return matched["host"].lower().rstrip(".")


def allowed(host: str, patterns: list[str]) -> bool:
    """Whether a host is one of the patterns: a name, or `*.` and a domain for its subdomains."""
    for pattern in (p.lower().rstrip(".") for p in patterns):
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class TrustedHosts:
    """Pure ASGI middleware, outside everything that builds a URL from the request."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.allowed_hosts = list(settings.allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal([v for k, v in scope["headers"] if k == b"host"])
            if refusal is not None:
                error = InvalidParameter(HEADER, *refusal)
                refused = problem(
                    error.status,
                    error.title,
                    error.detail,
                    error.slug,
                    scope["path"],
                    **error.extensions(),
                )
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, values: list[bytes]) -> tuple[str, str] | None:
        """(reason, what is allowed) of a refused request; None for one that passes. The value
        is not repeated back, nor the hosts that are allowed."""
        if len(values) > 1:
            return "the header is given more than once", "one Host header"
        if not values:
            # HTTP/1.0 may leave it out; links then name the address the server listens on.
            return ("the header is missing", ANSWERED) if self.allowed_hosts else None
        host = host_name(values[0].decode("latin-1"))
        if host is None:
            return "not a host name or address with an optional port", WELL_FORMED_SHOWN
        if self.allowed_hosts and not allowed(host, self.allowed_hosts):
            return "not a host this service answers for", ANSWERED
        return None
