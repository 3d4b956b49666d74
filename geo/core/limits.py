"""What one request may carry: geometry vertices and densification, ids, checked before any SQL."""

from __future__ import annotations

from numbers import Real

from geo.core.errors import InvalidParameter, NotFound
from geo.core.settings import get_settings

# Veta's ids are PostgreSQL integers; a larger one names nothing and must not reach the driver.
MAX_ID = 2**31 - 1
# A projected box or polygon is densified before it is transformed to lon/lat so its edges
# follow the shape the user drew: every kilometre, but never into more than this many vertices
# (a 2e9 m box at 1 km is 8 million of them, gigabytes in one backend).
DENSIFY_STEP_M = 1000.0
MAX_DENSIFIED_VERTICES = 4096


def count_positions(coordinates: object, stop_after: int) -> int:
    """Positions in nested GeoJSON coordinates (a list of numbers is one), counted without
    recursion and without looking at each number; stops once past `stop_after`."""
    count, stack = 0, [coordinates]
    while stack and count <= stop_after:
        item = stack.pop()
        if not isinstance(item, list) or not item:
            continue
        if isinstance(item[0], Real) and not isinstance(item[0], bool):
            count += 1
        elif isinstance(item[0], list) and item[0] and isinstance(item[0][0], Real):
            count += len(item)  # a ring or line: its positions, not walked one by one
        else:
            stack.extend(item)
    return count


def check_vertices(coordinates: object, parameter: str) -> None:
    """Refuse a geometry with more vertices than VETA_GEOMETRY_MAX_VERTICES."""
    limit = get_settings().geometry_max_vertices
    count = count_positions(coordinates, limit)
    if count > limit:
        raise InvalidParameter(
            parameter,
            f"the geometry has more than {limit:,} vertices",
            f"at most {limit:,} vertices per geometry (simplify it first)",
        )


def densify_step(perimeter: float) -> float:
    """The segment length for densifying a shape of this perimeter (CRS units, metres)."""
    return max(DENSIFY_STEP_M, perimeter / MAX_DENSIFIED_VERTICES)


def path_id(value: int, what: str) -> int:
    """An id from a URL path: one beyond the id range names nothing (404, never a driver error)."""
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"no {what} {value}")
    return value


def checked_id(value: int, parameter: str) -> int:
    """An id given in a parameter or body member: out of range is that parameter's fault."""
    if not 1 <= value <= MAX_ID:
        raise InvalidParameter(
            parameter, f"{value} is not a valid id", f"an integer from 1 to {MAX_ID}"
        )
    return value
