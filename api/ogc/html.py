"""HTML pages of the OGC API (landing, collections, items, item) from Jinja2 templates."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")


def render(request: Request, template: str, headers: dict | None = None, **context) -> Response:
    """A page; `context` names what the template shows, the request gives it its links."""
    return TEMPLATES.TemplateResponse(request, template, context, headers=headers)
