"""Query-parameter parsing shared by the routes: every value is checked before any SQL runs."""

from __future__ import annotations

import math
from datetime import date

from fastapi import Query, Request

from api.language import LANGUAGE_PARAMETER
from geo.core import commodities
from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter
from geo.core.settings import Settings
from geo.features.items import CqlFilter
from geo.queries.areas import AreaRef, resolve_area


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def split_values(values: list[str] | None) -> list[str]:
    """Repeated and comma-separated values as one list: ?x=a,b&x=c -> [a, b, c]."""
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


COMMODITY_DESCRIPTION = (
    "INSPIRE commodity code, name (English or Spanish), symbol or formula, any case; "
    "comma-separated or repeated (W,Li). A broader commodity finds its narrower ones "
    "(PGM, REE, aggregate)."
)


def parse_commodities(values: list[str] | None, parameter: str = "commodity") -> tuple[str, ...]:
    """Commodity values of any form the vocabulary reads -> the codes a search matches."""
    return commodities.searched_codes(split_values(values), parameter)


def parse_choices(
    values: list[str] | None, allowed: tuple[str, ...], parameter: str
) -> tuple[str, ...]:
    return v.checked_choices(split_values(values), allowed, parameter)


# The `bbox` of the REST routes, in longitude and latitude (the OGC items' follows bbox-crs);
# each route adds what it does with the box.
LONLAT_BBOX = "minLon,minLat,maxLon,maxLat (CRS84)"


def parse_bbox(
    text: str | None, parameter: str = "bbox", lonlat: bool = True
) -> tuple[float, float, float, float] | None:
    """'minx,miny,maxx,maxy' as four finite numbers with min < max (and lon/lat in range)."""
    if text is None:
        return None
    parts = text.split(",")
    allowed = (
        "four comma-separated numbers: minx,miny,maxx,maxy (lon/lat unless bbox-crs says otherwise)"
    )
    if len(parts) != 4:
        raise InvalidParameter(parameter, f"expected 4 numbers, got {len(parts)}", allowed)
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise InvalidParameter(parameter, f"not a number in {text!r}", allowed) from None
    if not all(math.isfinite(x) for x in (west, south, east, north)):
        raise InvalidParameter(parameter, "coordinates must be finite", allowed)
    if west > east or south > north:
        raise InvalidParameter(parameter, "minimum greater than maximum", allowed)
    if lonlat and not (
        -180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90
    ):
        raise InvalidParameter(
            parameter, "longitude must be within ±180 and latitude within ±90", allowed
        )
    return west, south, east, north


LIMIT_DESCRIPTION = (
    "Features per page (default and maximum: the settings VETA_DEFAULT_LIMIT, VETA_MAX_LIMIT)."
)


def parse_limit(value: int | None, settings: Settings, parameter: str = "limit") -> int:
    if value is None:
        return settings.default_limit
    if not 1 <= value <= settings.max_limit:
        raise InvalidParameter(parameter, f"{value} is out of range", f"1 to {settings.max_limit}")
    return value


# How every route's `area` names an admin area (each is read by geo.queries.areas.resolve_area);
# each route adds what it does with the area.
AREA_NAMING = "Admin area by INE code (24, 24089) or name, accent- and case-insensitive (leon)"
AREA_DESCRIPTION = f"{AREA_NAMING}; a feature is in the area when it intersects it."


def parse_day(text: str | None, parameter: str) -> date | None:
    """A day a request names (a query parameter or a body member) as YYYY-MM-DD."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(parameter, f"not a date: {text!r}", "a day as YYYY-MM-DD") from None


def parse_filter(text: str | None, lang: str | None, crs: str | None) -> CqlFilter | None:
    """The CQL2 filter of `filter`, `filter-lang` and `filter-crs` (items and tiles alike),
    its text checked later, when its SQL is built."""
    if text is None:
        for name, value in (("filter-lang", lang), ("filter-crs", crs)):
            if value is not None:
                raise InvalidParameter(name, "given without a filter", "only together with filter")
        return None
    return CqlFilter(text, lang or "cql2-text", crs)


async def resolve_admin_area(request: Request, area: str | None) -> AreaRef | None:
    """The admin area a request names (None: no area given)."""
    if area is None:
        return None
    # Administrative areas are public law, under no row-level security: read without the
    # viewer's transaction (three round trips fewer for a request with a credential), and the
    # read changes nothing in the session (no reset on release).
    async with request.app.state.pool.acquire(as_viewer=False, keeps_session=True) as conn:
        return await resolve_area(conn, area)


async def admin_area(
    request: Request, area: str | None = Query(None, description=AREA_DESCRIPTION)
) -> AreaRef | None:
    """FastAPI dependency: the `area` every collection, download, tile and screening takes,
    resolved once to its outline (None: no area given)."""
    return await resolve_admin_area(request, area)


def outline_of(area: AreaRef | None) -> bytes | None:
    return None if area is None else area.outline


def _declared(dependant) -> set[str]:
    names = {p.alias or p.name for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared(sub)
    return names


async def reject_unknown_query_parameters(request: Request) -> None:
    """Refuse query parameters the route does not declare: a misspelt `comodity=W` is an error,
    not a filter silently dropped. (The OGC routes check their own, queryables included.) `lang`,
    the language of the answer (api.language), is every route's."""
    route = request.scope.get("route")
    declared = _declared(route.dependant) if route else set()
    for name in request.query_params:
        if name not in declared and name != LANGUAGE_PARAMETER:
            raise InvalidParameter(name, "unknown query parameter", sorted(declared) or "none")
