"""Independent Python implementations of the domain rules, used as test oracles — deliberately not importing the geo/ code they check."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date

RESTRICTING = ("exclusion", "conditional")


def _missing(value) -> bool:
    """None, or NaN (how pandas reads a NULL float)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def depths_overlap(top_a, bottom_a, top_b, bottom_b) -> bool:
    """Depth intervals sharing some volume: a missing top is the surface, a missing bottom is
    unbounded; sharing only a plane is no overlap."""

    def value(x, default):
        return default if _missing(x) else x

    return value(top_a, 0) < value(bottom_b, math.inf) and value(top_b, 0) < value(
        bottom_a, math.inf
    )


def in_force(valid_from, valid_to, today: date | None = None) -> bool:
    """In force on `today` (default: today): a missing start or end is open."""
    today = date.today() if today is None else today
    return (valid_from is None or valid_from <= today) and (valid_to is None or valid_to >= today)


def effects_on(
    geom, zones: Iterable[dict], top_m=None, bottom_m=None, today: date | None = None
) -> set[str]:
    """The legal effects of the zones in force that meet `geom`'s footprint (touching counts) and
    the depth interval `top_m`..`bottom_m` (none: the whole column)."""
    today = date.today() if today is None else today
    return {
        z["legal_effect"]
        for z in zones
        if in_force(z["valid_from"], z["valid_to"], today)
        and z["geom"].intersects(geom)
        and depths_overlap(z["depth_top_m"], z["depth_bottom_m"], top_m, bottom_m)
    }


def verdict(effects: Iterable[str]) -> str:
    """The strictest of the constraining zones' legal effects."""
    effects = set(effects)
    return (
        "excluded"
        if "exclusion" in effects
        else "conditional"
        if "conditional" in effects
        else "free"
    )
