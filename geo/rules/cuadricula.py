"""The cuadrícula minera: 20″ × 20″ cells on the ETRS89 graticule, their ids, polygons and areas.

Ley 22/1973 de Minas (Art. 75–76): a cell is bounded by two meridians and two parallels 20
sexagesimal seconds apart, with edges on whole degrees and seconds 00, 20, 40; longitudes from
Greenwich. In units of 20″ (1/180 of a degree) every edge is an integer, so a cell is named by
the integers (i, j) of its south-west corner: i = floor(lon · 180), j = floor(lat · 180).

- **Edges.** The west and south edges belong to the cell, the east and north edges to its
  neighbours: a point on a meridian line lies in the cell east of it, on a parallel in the cell
  north of it, on a corner in the cell to its north-east.
- **Tolerance.** A coordinate within 1e-9 degrees (about 0.1 mm) of a line is on that line, so
  that 5.6 (which is not exact in binary) falls on the 5°36′00″ line as written. In index units
  that is floor(x · 180 + 1.8e-7), the same expression in Python and in SQL.
- **Ids.** `W01080N07650` is the cell whose south-west corner is 1080 × 20″ west of Greenwich
  and 7650 × 20″ north of the equator (6°00′00″W 42°30′00″N): a hemisphere letter and five
  digits for each axis, the number being |i| and |j|. The cell just east of Greenwich is
  E00000…, the one just west is W00001…; `W00000` is not a valid id (zero is east).
- **Area.** Exact for a quadrangle bounded by parallels and meridians on the GRS80 ellipsoid
  (ETRS89), from the authalic-latitude formula — not a polygon of geodesics.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from geo.core.errors import InvalidParameter

PER_DEGREE = 180  # cells per degree: 3600″ / 20″
# A coordinate this close to a grid line (in degrees) is on it; below in 20″ units.
LINE_TOLERANCE_DEG = 1e-9
_SNAP = LINE_TOLERANCE_DEG * PER_DEGREE

_ID = re.compile(r"^([EW])(\d{5})([NS])(\d{5})$")
ID_FORMAT = "E|W + 5 digits, N|S + 5 digits: the south-west corner in 20″ units, e.g. W01080N07650"

# GRS80, the ellipsoid of ETRS89.
_A = 6378137.0
_F = 1 / 298.257222101
_E2 = _F * (2 - _F)
_E = math.sqrt(_E2)


def index_of(degrees: float) -> int:
    """The grid index of the cell a coordinate falls in (west/south edges belong to the cell)."""
    return math.floor(degrees * PER_DEGREE + _SNAP)


def line_of(index: int) -> float:
    """The coordinate in degrees of grid line `index` (the nearest float to index/180)."""
    return index / PER_DEGREE


@dataclass(frozen=True, order=True)
class Cell:
    """One cuadrícula, by the integer indices of its south-west corner in 20″ units."""

    i: int
    j: int

    @property
    def id(self) -> str:
        return format_id(self.i, self.j)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """west, south, east, north in degrees."""
        return line_of(self.i), line_of(self.j), line_of(self.i + 1), line_of(self.j + 1)

    @property
    def polygon(self) -> Polygon:
        return shapely.box(*self.bounds)

    @cached_property
    def area_ha(self) -> float:
        return quadrangle_area_m2(*self.bounds) / 10_000

    def neighbours(self) -> tuple[Cell, Cell, Cell, Cell]:
        """The four cells sharing a full side with this one (corner neighbours are not joined)."""
        return (
            Cell(self.i - 1, self.j),
            Cell(self.i + 1, self.j),
            Cell(self.i, self.j - 1),
            Cell(self.i, self.j + 1),
        )


def format_id(i: int, j: int) -> str:
    return f"{'E' if i >= 0 else 'W'}{abs(i):05d}{'N' if j >= 0 else 'S'}{abs(j):05d}"


def parse_id(text: str, parameter: str = "id") -> Cell:
    """The cell named by an id such as W01080N07650."""
    match = _ID.match(text.strip().upper())
    if not match:
        raise InvalidParameter(parameter, f"malformed cell id {text!r}", ID_FORMAT)
    ew, x, ns, y = match.groups()
    i = int(x) if ew == "E" else -int(x)
    j = int(y) if ns == "N" else -int(y)
    if format_id(i, j) != text.strip().upper():
        raise InvalidParameter(
            parameter, f"{text!r} is not the canonical id of a cell (zero is E/N)", ID_FORMAT
        )
    if not (-180 * PER_DEGREE <= i < 180 * PER_DEGREE and -90 * PER_DEGREE <= j < 90 * PER_DEGREE):
        raise InvalidParameter(parameter, f"cell {text!r} is off the globe", ID_FORMAT)
    return Cell(i, j)


def cell_at(lon: float, lat: float) -> Cell:
    """The cell a point falls in."""
    return Cell(index_of(lon), index_of(lat))


def index_range(low: float, high: float) -> range:
    """The indices of the cells whose interiors meet [low, high] (at least the cell of `low`)."""
    first = index_of(low)
    # The cell starting on `high` only touches the interval at its edge.
    last = math.ceil(high * PER_DEGREE - _SNAP) - 1
    return range(first, max(first, last) + 1)


def cells_in_bbox(west: float, south: float, east: float, north: float) -> tuple[range, range]:
    """The i and j ranges of the cells whose interiors meet a bbox."""
    return index_range(west, east), index_range(south, north)


def cells_covering(geometry: BaseGeometry) -> list[Cell]:
    """Every cell a geometry reaches into: for areas, the cells it shares more than a
    tolerance-wide sliver with; for points, the cell each point falls in. Sorted by (i, j)."""
    if geometry.is_empty:
        return []
    if geometry.geom_type in ("Point", "MultiPoint"):
        return sorted({cell_at(p.x, p.y) for p in getattr(geometry, "geoms", [geometry])})
    west, south, east, north = geometry.bounds
    i_range, j_range = cells_in_bbox(west, south, east, north)
    ii, jj = (a.ravel() for a in np.meshgrid(np.array(i_range), np.array(j_range), indexing="ij"))
    # A cell's core (inset by the line tolerance) meets the area: a sliver narrower than the
    # tolerance is a touch on the line, exactly as in sql_cells().
    inset = LINE_TOLERANCE_DEG
    cores = shapely.box(
        ii / PER_DEGREE + inset,
        jj / PER_DEGREE + inset,
        (ii + 1) / PER_DEGREE - inset,
        (jj + 1) / PER_DEGREE - inset,
    )
    shapely.prepare(geometry)
    hit = shapely.intersects(geometry, cores)
    return [Cell(int(i), int(j)) for i, j in zip(ii[hit], jj[hit])]


def snap(geometry: BaseGeometry) -> list[Cell]:
    """The cell-aligned reading of an area: the cells it covers at least half of. A right drawn
    a second or two off the grid snaps back to the cells it was meant to be."""
    cells, fractions = _cell_fractions(geometry)
    return [c for c, f in zip(cells, fractions) if f >= 0.5]


def partial_cells(geometry: BaseGeometry) -> list[Cell]:
    """The cells an area covers only in part (neither none nor all of it)."""
    cells, fractions = _cell_fractions(geometry)
    # Fractions are of lon/lat area; within a cell that is proportional to true area to 1e-5,
    # and the 1e-6 margin only absorbs floating-point noise of the intersection.
    return [c for c, f in zip(cells, fractions) if 1e-6 < f < 1 - 1e-6]


def _cell_fractions(geometry: BaseGeometry) -> tuple[list[Cell], np.ndarray]:
    """The cells of a polygonal geometry's bbox and the fraction of each it covers."""
    if geometry.is_empty:
        return [], np.zeros(0)
    west, south, east, north = geometry.bounds
    i_range, j_range = cells_in_bbox(west, south, east, north)
    ii, jj = np.meshgrid(np.array(i_range), np.array(j_range), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    boxes = shapely.box(
        ii / PER_DEGREE, jj / PER_DEGREE, (ii + 1) / PER_DEGREE, (jj + 1) / PER_DEGREE
    )
    shapely.prepare(geometry)
    touching = shapely.intersects(geometry, boxes)
    fractions = np.zeros(len(boxes))
    fractions[touching] = (
        shapely.area(shapely.intersection(boxes[touching], geometry)) * PER_DEGREE * PER_DEGREE
    )
    return [Cell(int(i), int(j)) for i, j in zip(ii, jj)], fractions


def union(cells: Iterable[Cell]) -> BaseGeometry:
    """The cells merged into one (multi)polygon; cells touching only at a corner stay apart."""
    # Cells never overlap, so the cheap coverage union applies; simplify(0) drops the vertices
    # left between cells along straight sides.
    return shapely.simplify(shapely.coverage_union_all([c.polygon for c in cells]), 0)


def area_ha(cells: Iterable[Cell]) -> float:
    """The area of a set of cells in hectares."""
    return sum(c.area_ha for c in cells)


def quadrangle_area_m2(west: float, south: float, east: float, north: float) -> float:
    """The area on GRS80 between two meridians and two parallels, in square metres."""

    def q(lat: float) -> float:
        s = math.sin(math.radians(lat))
        return s / (1 - _E2 * s * s) + math.log((1 + _E * s) / (1 - _E * s)) / (2 * _E)

    b2 = (_A * (1 - _F)) ** 2
    return b2 / 2 * math.radians(east - west) * (q(north) - q(south))


# SQL for the same grid, so PostGIS can generate cells in bulk with identical arithmetic.


def sql_index(degrees_sql: str) -> str:
    """SQL: index_of() of a float8 expression."""
    return f"floor(({degrees_sql}) * {PER_DEGREE} + {_SNAP!r})::int"


def sql_last_index(degrees_sql: str) -> str:
    """SQL: the last index of index_range() ending at a float8 expression (before max())."""
    return f"(ceil(({degrees_sql}) * {PER_DEGREE} - {_SNAP!r})::int - 1)"


def sql_envelope(i: str, j: str, inset: float = 0.0) -> str:
    """SQL: the polygon of cell (i, j), with exactly the coordinates Cell.bounds gives; with
    `inset`, shrunk by that many degrees on every side."""
    low, high = (f" + {inset!r}", f" - {inset!r}") if inset else ("", "")
    return (
        f"ST_MakeEnvelope({i}::float8 / {PER_DEGREE}{low}, {j}::float8 / {PER_DEGREE}{low}, "
        f"({i} + 1)::float8 / {PER_DEGREE}{high}, ({j} + 1)::float8 / {PER_DEGREE}{high}, 4326)"
    )


def sql_core(i: str, j: str) -> str:
    """SQL: the cell inset by the line tolerance; what must meet an area for the cell to
    share positive area with it (index-assisted ST_Intersects instead of ST_Relate)."""
    return sql_envelope(i, j, inset=LINE_TOLERANCE_DEG)


def sql_area_ha(j: str) -> str:
    """SQL: quadrangle_area_m2() of a cell in row j, in hectares (it depends on the row only)."""

    def q(lat: str) -> str:
        s = f"sin(radians({lat}))"
        return f"({s} / (1 - {_E2!r} * {s} ^ 2) + ln((1 + {_E!r} * {s}) / (1 - {_E!r} * {s})) / {2 * _E!r})"

    b2 = (_A * (1 - _F)) ** 2
    north, south = f"({j} + 1)::float8 / {PER_DEGREE}", f"{j}::float8 / {PER_DEGREE}"
    return f"({b2 / 2 * math.radians(1 / PER_DEGREE) / 10_000!r} * ({q(north)} - {q(south)}))"


def sql_cells(geometry: str) -> str:
    """SQL FROM item `c` (i, j, id, geom, core, area_ha): every cell of a geometry's bbox
    whose interior meets the bbox, generated from the integer indices."""
    i0, j0 = sql_index(f"ST_XMin({geometry})"), sql_index(f"ST_YMin({geometry})")
    i1 = f"greatest({i0}, {sql_last_index(f'ST_XMax({geometry})')})"
    j1 = f"greatest({j0}, {sql_last_index(f'ST_YMax({geometry})')})"
    return (
        f"(SELECT i, j, {sql_id('i', 'j')} AS id, {sql_envelope('i', 'j')} AS geom, "
        f"{sql_core('i', 'j')} AS core, {sql_area_ha('j')} AS area_ha "
        f"FROM generate_series({i0}, {i1}) i, generate_series({j0}, {j1}) j) c"
    )


def sql_id(i: str, j: str) -> str:
    """SQL: format_id() of two integer expressions."""
    return (
        f"(CASE WHEN {i} >= 0 THEN 'E' ELSE 'W' END || lpad(abs({i})::text, 5, '0') || "
        f"CASE WHEN {j} >= 0 THEN 'N' ELSE 'S' END || lpad(abs({j})::text, 5, '0'))"
    )
