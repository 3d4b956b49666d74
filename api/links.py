"""Link building: absolute URLs that keep every query parameter but the ones replaced."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from starlette.requests import HTTPConnection


def base_url(request: HTTPConnection) -> str:
    """VETA_BASE_URL, or when it is empty the request's own (api.trusted_hosts has checked its
    Host header is a well-formed host[:port])."""
    configured = request.app.state.settings.base_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def request_url(request: HTTPConnection) -> str:
    """This request's URL on the base URL, its query as sent: what a problem's `instance` names."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{base_url(request)}{request.url.path}" + (f"?{query}" if query else "")


def url_for_path(request: Request, path: str, **params) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
    return f"{base_url(request)}{path}" + (f"?{query}" if query else "")


def same_query(request: Request, **replace) -> str:
    """This request's URL with some parameters replaced (None removes one)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in replace]
    items += [(k, str(v)) for k, v in replace.items() if v is not None]
    query = urlencode(items)
    return f"{base_url(request)}{request.url.path}" + (f"?{query}" if query else "")
