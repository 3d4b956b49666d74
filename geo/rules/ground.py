"""Ground status: whether the mining rights on a site leave it open, applied for, or held.

The legal verdict (excluded | conditional | free) says what the protection zones allow; the
ground status says whether another right already stands on the site, so that "free" is never
read as "available" when a company has applied for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from geo.core.sql import text_array
from geo.rules.protection import zone_in_force
from geo.rules.registry import HOLDING, IN_FORCE, effective_status_sql

OPEN, APPLIED_FOR, HELD = "open", "applied_for", "held"
GROUND_STATUSES = (OPEN, APPLIED_FOR, HELD)
# A right applied for or admitted to processing blocks a later one on the same cells, but is
# not yet granted (Ley 22/1973: first come, first served).
APPLYING = tuple(s for s in HOLDING if s not in IN_FORCE)
DESCRIPTION = (
    "open: no right holds or is applied for on the site; applied_for: a right applied "
    "for or admitted covers part of it; held: a granted or extended right in force does"
)


# What the rights on a site make of its ground, the first that applies (none: open); the one
# list that the rule in Python and in SQL both read.
GROUND_BY_STATUS = ((IN_FORCE, HELD), (APPLYING, APPLIED_FOR))


def ground_status(statuses: Iterable[str]) -> str:
    """The ground status from the effective statuses (today) of the rights on the site."""
    present = set(statuses)
    for held, ground in GROUND_BY_STATUS:
        if present & set(held):
            return ground
    return OPEN


def ground_status_sql(statuses: str) -> str:
    """SQL: the same from a text[] of effective statuses (NULL or empty: open)."""
    present = f"coalesce({statuses}, '{{}}')"
    whens = " ".join(
        f"WHEN {present} && {text_array(held)} THEN '{ground}'" for held, ground in GROUND_BY_STATUS
    )
    return f"CASE {whens} ELSE '{OPEN}' END"


def on_site_sql(right: str, site: str) -> str:
    """SQL: the right stands on the site, not merely along its edge (a point site: touches it)."""
    return (
        f"ST_Intersects({right}, {site}) AND (ST_Dimension({site}) = 0 "
        f"OR NOT ST_Touches({right}, {site}))"
    )


def held_or_excluded(cell: str, legal_effects: str) -> str:
    """SQL: cell `cell` is held by a right today or meets a zone in force whose legal effect is
    in `legal_effects` (an SQL text[] expression). The one rule of what is not free ground."""
    return (
        f"(EXISTS (SELECT 1 FROM permits p WHERE ST_Intersects(p.geom, {cell}.core) "
        f"AND {effective_status_sql('p', 'current_date')} = ANY({text_array(HOLDING)})) "
        # Zones are tested through their subdivided parts (migration 0002): a national park is
        # one huge polygon, its parts are small and indexed.
        "OR EXISTS (SELECT 1 FROM protection_zone_parts zp JOIN protection_zones z ON z.id = zp.zone_id "
        f"WHERE ST_Intersects(zp.geom, {cell}.core) AND z.legal_effect = ANY({legal_effects}) "
        f"AND {zone_in_force('z')}))"
    )
