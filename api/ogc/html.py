"""HTML pages of the OGC API (landing, collections, items, item) from Jinja2 templates."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
# The property that names a feature in a page title, by preference.
TITLE_PROPERTIES = ("name", "registry_number", "cell_id", "code")


def human(value: object, name: str = "") -> str:
    """A property value as a reader wants it: yes/no, grouped digits, hectares with two
    decimals, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}" if name.endswith(("_ha", "_m")) else f"{value:,}"
    if isinstance(value, int) and not name.endswith("id"):
        return f"{value:,}"
    return str(value)


def feature_title(feature: dict) -> str:
    """A feature's name for headings and titles (its id when it has none)."""
    properties = feature.get("properties") or {}
    label = next((properties[p] for p in TITLE_PROPERTIES if properties.get(p)), None)
    return f"{label} ({feature.get('id')})" if label is not None else str(feature.get("id"))


TEMPLATES.env.filters["human"] = human
TEMPLATES.env.filters["feature_title"] = feature_title


def render(request: Request, template: str, headers: dict | None = None, **context) -> Response:
    """A page; `context` names what the template shows, the request gives it its links."""
    return TEMPLATES.TemplateResponse(request, template, context, headers=headers)
