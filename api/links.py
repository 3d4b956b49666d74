"""Link building: absolute URLs that keep every query parameter but the ones replaced."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request


def base_url(request: Request) -> str:
    configured = request.app.state.settings.base_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


def url_for_path(request: Request, path: str, **params) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
    return f"{base_url(request)}{path}" + (f"?{query}" if query else "")


def same_query(request: Request, **replace) -> str:
    """This request's URL with some parameters replaced (None removes one)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in replace]
    items += [(k, str(v)) for k, v in replace.items() if v is not None]
    query = urlencode(items)
    return f"{base_url(request)}{request.url.path}" + (f"?{query}" if query else "")
