"""HTML pages of the OGC API (landing, collections, items, item) and reports from Jinja2 templates,
in the request's language (geo.core.i18n)."""

from __future__ import annotations

from pathlib import Path

import shapely
from babel.numbers import get_decimal_symbol, get_group_symbol
from fastapi import Request
from fastapi.templating import Jinja2Templates
from shapely.geometry import shape
from starlette.responses import Response

from api.links import same_query
from geo.core.i18n import current_language, gettext, ngettext, pgettext
from geo.core.vocabulary import COMMODITY_BY_CODE

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
# The property that names a feature in a page title, by preference.
TITLE_PROPERTIES = ("name", "registry_number", "cell_id", "code")
# Properties whose values are a code list's, shown in the reader's words: the list's context in
# geo/core/messages.py is the property's name in words, but for these.
_LISTS_NAMED_OTHERWISE = {
    "level": "admin level",
    "status": "right status",
    "mdopi_class": "MDoPI class",
}
TERM_KINDS = {
    name: _LISTS_NAMED_OTHERWISE.get(name, name.replace("_", " "))
    for name in (
        *("occurrence_type", "deposit_type", "size_class", "mine_status", "location_precision"),
        *("designation_scheme", "designation", "legal_effect", "level"),
        *("right_type", "section", "status", "ground_status", "mdopi_class", "verdict"),
    )
}
# Properties holding commodity codes, one or several (", "-separated).
COMMODITY_PROPERTIES = ("main_commodity", "commodities")


def _localised(formatted: str) -> str:
    """Python's grouped digits ("4,385.60") with the current language's separators ("4.385,60")."""
    language = current_language()
    group, decimal = get_group_symbol(language), get_decimal_symbol(language)
    separators: dict[str, str | int | None] = {",": group, ".": decimal}
    return formatted.translate(str.maketrans(separators))


def number(value: float | None, digits: int = 2) -> str:
    """A number with grouped digits and `digits` decimals, as the reader's language writes it."""
    return "" if value is None else _localised(f"{value:,.{digits}f}")


def percent(value: float | None, digits: int = 1) -> str:
    return "" if value is None else _localised(f"{value:.{digits}%}")


def human(value: object, name: str = "") -> str:
    """A property value as a reader wants it: yes/no, grouped digits, hectares with two
    decimals, code lists' terms and commodities by name, nothing for null, in the reader's
    language."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, float):
        return number(value) if name.endswith(("_ha", "_m")) else _localised(f"{value:,}")
    if isinstance(value, int) and not name.endswith("id"):
        return _localised(f"{value:,}")
    if name in TERM_KINDS and isinstance(value, str):
        return term(value, TERM_KINDS[name])
    if name in COMMODITY_PROPERTIES and isinstance(value, str):
        return ", ".join(commodity_name(code) for code in value.split(", "))
    return str(value)


def commodity_name(code: str) -> str:
    """A commodity as the reader's language names it (the CGI vocabulary's label); an unknown
    code as it is."""
    commodity = COMMODITY_BY_CODE.get(code)
    if commodity is None:
        return code
    return (commodity.name_es if current_language() == "es" else None) or commodity.name


def feature_title(feature: dict) -> str:
    """A feature's name for headings and titles (its id when it has none)."""
    properties = feature.get("properties") or {}
    label = next((properties[p] for p in TITLE_PROPERTIES if properties.get(p)), None)
    return f"{label} ({feature.get('id')})" if label is not None else str(feature.get("id"))


def bounds(features: list[dict]) -> list[list[float]] | None:
    """[[west, south], [east, north]] of the features' GeoJSON geometries, for the page's map
    (None: no geometry, or one not in lon/lat)."""
    shapes = [shape(f["geometry"]) for f in features if f.get("geometry")]
    if not shapes:
        return None
    west, south, east, north = shapely.total_bounds(shapes)
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return None
    return [[float(west), float(south)], [float(east), float(north)]]


def term(value: str | None, kind: str) -> str:
    """A code list's value as the reader's language names it (`verdict`, `right type`, …)."""
    return pgettext(kind, value) if value else ""


TEMPLATES.env.add_extension("jinja2.ext.i18n")
TEMPLATES.env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the i18n extension
    gettext=gettext, ngettext=ngettext, newstyle=True, pgettext=pgettext
)
TEMPLATES.env.globals["language"] = current_language


def changed_fields(entry: dict) -> str:
    """The fields an audit entry changed (all of them for an insert or a delete)."""
    before, after = entry.get("before") or {}, entry.get("after") or {}
    if not before or not after:
        return ""
    ignored = {"updated_at", "created_at"}
    return ", ".join(
        sorted(
            k
            for k in after.keys() | before.keys()
            if k not in ignored and before.get(k) != after.get(k)
        )
    )


TEMPLATES.env.filters["changed_fields"] = changed_fields
# Links to this page in another language, on the base URL like every link.
TEMPLATES.env.globals["same_query"] = same_query
TEMPLATES.env.filters["term"] = term
TEMPLATES.env.filters["number"] = number
TEMPLATES.env.filters["percent"] = percent
TEMPLATES.env.filters["human"] = human
TEMPLATES.env.filters["bounds"] = bounds
TEMPLATES.env.filters["feature_title"] = feature_title


def render(request: Request, template: str, headers: dict | None = None, **context) -> Response:
    """A page; `context` names what the template shows, the request gives it its links."""
    return TEMPLATES.TemplateResponse(request, template, context, headers=headers)
