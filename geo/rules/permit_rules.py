"""Is a mining right's geometry well formed? Whole cuadrículas, joined by sides, allowed count.

Every rule is checked and every problem reported, together with the snapped proposal: the
cells the geometry covers at least half of (geo.rules.cuadricula.snap), merged. Connectivity and the
cell count are judged on that proposal, so a right drawn a second off the grid is told only
that it is off the grid, not also that it has the wrong number of cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter
from geo.rules import cuadricula as grid
from geo.rules.cuadricula import Cell

# Vertices within this distance (degrees, about 1 cm) of a 20″ line are on it.
VERTEX_TOLERANCE_DEG = 1e-7
EXAMPLES = 5  # offending vertices or cells quoted in a message


@dataclass(frozen=True)
class Problem:
    """One rule a right breaks: a stable code, a sentence, and the cells concerned."""

    code: str
    message: str
    cells: tuple[str, ...] = ()


@dataclass(frozen=True)
class Validation:
    """Everything known about a right's geometry after checking it."""

    right_type: str
    problems: tuple[Problem, ...]
    proposal: tuple[Cell, ...]  # the snapped, cell-aligned reading, sorted
    limits: tuple[int, int | None]
    area_ha: float

    @property
    def valid(self) -> bool:
        return not self.problems

    def proposal_geometry(self) -> BaseGeometry:
        return grid.union(self.proposal)


def validate_right(
    geometry: BaseGeometry, right_type: str, cell_limits: dict[str, tuple[int, int | None]]
) -> Validation:
    """Check a right's geometry against every rule of the cuadrícula and its type's limits."""
    if right_type not in v.RIGHT_TYPES:
        raise InvalidParameter("right_type", f"unknown right type {right_type!r}", v.RIGHT_TYPES)
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidParameter(
            "geometry",
            f"a right is an area, got a {geometry.geom_type}",
            "a GeoJSON Polygon or MultiPolygon in lon/lat (EPSG:4326)",
        )
    limits = cell_limits[right_type]
    problems: list[Problem] = []

    if not geometry.is_valid:
        problems.append(
            Problem(
                "invalid_geometry",
                f"the geometry is not valid: {shapely.is_valid_reason(geometry)}",
            )
        )
        geometry = shapely.make_valid(geometry)

    off_grid = _vertices_off_grid(geometry)
    if off_grid:
        quoted = "; ".join(f"({x:.7f}, {y:.7f})" for x, y in off_grid[:EXAMPLES])
        problems.append(
            Problem(
                "vertices_off_grid",
                f"{len(off_grid)} vertices are not on the 20″ grid lines (tolerance "
                f"{VERTEX_TOLERANCE_DEG:g}°), e.g. {quoted}",
            )
        )

    partial = grid.partial_cells(_onto_lines(geometry))
    if partial:
        problems.append(
            Problem(
                "partial_cells",
                f"the right is not made of whole cells: it covers {len(partial)} cells only in part",
                tuple(c.id for c in partial),
            )
        )

    proposal = tuple(grid.snap(geometry))
    if not proposal:
        problems.append(Problem("no_cells", "the right does not cover half of any cell"))
    groups = joined_groups(proposal)
    if len(groups) > 1:
        sizes = ", ".join(str(len(g)) for g in groups)
        problems.append(
            Problem(
                "cells_not_joined",
                f"the cells form {len(groups)} groups ({sizes} cells) not joined along a full side; "
                "cells touching only at a corner are not joined",
                tuple(g[0].id for g in groups),
            )
        )

    low, high = limits
    count = len(proposal)
    allowed = f"{low}–{high}" if high is not None else f"at least {low}"
    if proposal and count < low:
        problems.append(
            Problem(
                "too_few_cells", f"{count} cells is below the limit for {right_type}: {allowed}"
            )
        )
    if high is not None and count > high:
        problems.append(
            Problem(
                "too_many_cells", f"{count} cells is over the limit for {right_type}: {allowed}"
            )
        )
    return Validation(right_type, tuple(problems), proposal, limits, grid.area_ha(proposal))


def joined_groups(cells: tuple[Cell, ...] | list[Cell]) -> list[list[Cell]]:
    """The cells split into groups joined along full sides (4-neighbour components), sorted."""
    remaining = set(cells)
    groups = []
    for start in sorted(cells):
        if start not in remaining:
            continue
        remaining.discard(start)
        group, frontier = [start], [start]
        while frontier:
            for n in frontier.pop().neighbours():
                if n in remaining:
                    remaining.discard(n)
                    group.append(n)
                    frontier.append(n)
        groups.append(sorted(group))
    return groups


def _off_line(values: np.ndarray) -> np.ndarray:
    """Distance in degrees from each coordinate to the nearest 20″ line."""
    scaled = values * grid.PER_DEGREE
    return np.abs(scaled - np.round(scaled)) / grid.PER_DEGREE


def _vertices_off_grid(geometry: BaseGeometry) -> list[tuple[float, float]]:
    xy = shapely.get_coordinates(geometry)
    bad = (_off_line(xy[:, 0]) > VERTEX_TOLERANCE_DEG) | (
        _off_line(xy[:, 1]) > VERTEX_TOLERANCE_DEG
    )
    # Rings repeat their first vertex at the end; report each place once.
    return list(dict.fromkeys(map(tuple, xy[bad].tolist())))


def _onto_lines(geometry: BaseGeometry) -> BaseGeometry:
    """The geometry with coordinates within tolerance of a grid line moved onto it, so that
    the whole-cell test does not count a tolerated 1e-8° slip as a partial cell."""

    def move(xy: np.ndarray) -> np.ndarray:
        scaled = xy * grid.PER_DEGREE
        lines = np.round(scaled)
        on = np.abs(scaled - lines) <= VERTEX_TOLERANCE_DEG * grid.PER_DEGREE
        return np.where(on, lines / grid.PER_DEGREE, xy)

    return shapely.transform(geometry, move)
