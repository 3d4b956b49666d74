"""The rule for when a protection zone constrains something, in 2D and in depth (3D).

A zone constrains a deposit or site when the zone is in force on the given day, its legal
effect is one of those counted, the footprints intersect (touching the boundary counts: a
deposit exactly on a zone's edge is inside it) and the depth intervals overlap, a missing
interval being the whole column (see depth_intervals_overlap in the first migration).
"""

from __future__ import annotations

from geo.core.sql import Params


def zone_in_force(zone: str, day: str = "current_date") -> str:
    """SQL: the zone aliased `zone` is valid on `day` (a SQL date expression)."""
    return (
        f"({zone}.valid_from IS NULL OR {zone}.valid_from <= {day}) "
        f"AND ({zone}.valid_to IS NULL OR {zone}.valid_to >= {day})"
    )


def zone_footprint_intersects(zone: str, target: str) -> str:
    """SQL: the footprint of zone `zone` intersects the row `target`, tested on the zone's
    ST_Subdivide parts (protection_zone_parts): their GiST index finds the few small pieces
    near the target instead of testing every vertex of a detailed zone.

    Written as `id = ANY(ARRAY(...))` so that the planner looks the zones up by primary key
    once per target; an `IN (subquery)` here became a subplan run for every (target, zone)
    pair, and testing `zone.geom` would detoast the whole zone geometry again."""
    return (
        f"{zone}.id = ANY(ARRAY(SELECT part.zone_id FROM protection_zone_parts part "
        f"WHERE ST_Intersects(part.geom, {target}.geom)))"
    )


def zone_applies(
    zone: str, target: str, legal_effects: list[str], params: Params, day: str = "current_date"
) -> str:
    """SQL: the rule but for the footprints: a counted legal effect, in force on `day` (today
    unless given), depth intervals overlapping."""
    return (
        f"{zone}.legal_effect = ANY({params(legal_effects)}::text[]) "
        f"AND depth_intervals_overlap({zone}.depth_top_m, {zone}.depth_bottom_m, "
        f"{target}.depth_top_m, {target}.depth_bottom_m) "
        f"AND {zone_in_force(zone, day)}"
    )


def zone_constrains(zone: str, target: str, legal_effects: list[str], params: Params) -> str:
    """SQL: zone `zone` constrains the row `target` (both with geom and depth_top/bottom_m)."""
    return f"{zone_footprint_intersects(zone, target)} AND {zone_applies(zone, target, legal_effects, params)}"


def zones_constraining_each(
    targets: str,
    key: str,
    legal_effects: list[str],
    params: Params,
    day: str = "current_date",
    within: str | None = None,
) -> str:
    """SQL: distinct (key, id, name, legal_effect) rows, one per zone constraining each row of
    `targets` (a FROM item aliased s) — the same rule as zone_constrains, written as one join
    for a whole set of targets: each zone part then probes the targets' GiST index (when they
    have one) instead of every target probing the parts', far fewer index scans, and PostGIS
    reuses the part's prepared geometry across the targets it meets. `within`, an SQL box
    every target lies in, changes no answer (a part outside it meets none of them) but lets a
    statement over one region's targets read only that region's parts."""
    near = f" AND part.geom && {within}" if within else ""
    return (
        f"SELECT DISTINCT s.{key} AS key, z.id, z.name, z.legal_effect FROM {targets} "
        f"JOIN protection_zone_parts part ON ST_Intersects(part.geom, s.geom){near} "
        "JOIN protection_zones z ON z.id = part.zone_id "
        f"WHERE {zone_applies('z', 's', legal_effects, params, day)}"
    )
