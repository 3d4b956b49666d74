"""The cuadrícula minera: which cell a point is in, cell ids, areas, and well-formed rights."""

from __future__ import annotations

from fractions import Fraction

import pytest
import shapely
from pyproj import Geod
from shapely.affinity import translate

from geo.core.errors import InvalidParameter
from geo.core.settings import Settings
from geo.rules import cuadricula as grid
from geo.rules.cuadricula import Cell, cell_at
from geo.rules.permit_rules import validate_right

SECOND = 1 / 3600
STEP = Fraction(1, 180)  # 20″ in degrees, exactly
LIMITS = Settings().right_cell_limits


def exact(degrees: float) -> Fraction:
    """The documented reading of a coordinate, in exact rational arithmetic: within 1e-9° of a
    20″ line it is on the line, else it is the float's exact value."""
    value = Fraction(degrees)
    line = round(value / STEP) * STEP
    return line if abs(value - line) <= Fraction(1, 10**9) else value


def contains_half_open(cell: Cell, lon: float, lat: float) -> bool:
    """The documented rule: the west and south edges belong to the cell."""
    west, south = cell.i * STEP, cell.j * STEP
    return west <= exact(lon) < west + STEP and south <= exact(lat) < south + STEP


# --- the cell of a point ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "lon, lat",
    [
        (-5.57, 42.61),
        (-6.7708, 42.4694),
        (0.2501, 40.1003),
        (-0.0001, 43.0001),
        # on lines (9°18′W, 36°N, 42°36′N, 0°15′E, 40°06′N), not exact in binary
        (-9.3, 36.0),
        (-5.57, 42.6),
        (0.25, 40.1),
    ],
)
def test_a_point_inside_a_cell_lies_within_its_bounds(lon, lat):
    assert contains_half_open(cell_at(lon, lat), lon, lat)


def test_a_point_on_a_meridian_line_belongs_to_the_cell_east_of_it():
    # 6°00′00″W is a grid line: the cell west of it ends there, the one east of it starts there.
    cell = cell_at(-6.0, 42.51)
    assert cell.bounds[0] == -6.0
    assert cell.id.startswith("W01080")


def test_a_point_on_a_parallel_belongs_to_the_cell_north_of_it():
    cell = cell_at(-5.99, 42.5)
    assert cell.bounds[1] == 42.5
    assert cell.id.endswith("N07650")


def test_a_point_on_a_corner_belongs_to_the_cell_north_east_of_it():
    cell = cell_at(-6.0, 42.5)
    assert cell.id == "W01080N07650"
    assert cell.bounds[:2] == (-6.0, 42.5)


def test_a_point_a_hair_below_a_line_counts_as_on_it_but_a_micrometre_does_not():
    # 1e-10° is inside the documented 1e-9° tolerance; 1e-8° is a real position west of the line.
    assert cell_at(-6.0 - 1e-10, 42.51).i == -1080
    assert cell_at(-6.0 - 1e-8, 42.51).i == -1081


def test_decimal_values_that_are_not_exact_in_binary_land_on_their_line():
    # 5.6° = 5°36′00″ is a grid line, although the float 5.6 is not exactly 5.6.
    assert cell_at(-5.6, 42.51).bounds[0] == -5.6
    assert cell_at(5.6, 42.51).bounds[0] == 5.6


def test_just_east_and_just_west_of_greenwich():
    east, west = cell_at(1e-6, 42.5), cell_at(-1e-6, 42.5)
    assert east.id == "E00000N07650" and east.bounds[0] == 0.0
    assert west.id == "W00001N07650" and west.bounds[2] == 0.0
    assert cell_at(0.0, 42.5) == east  # on the meridian: the cell east of it
    assert east.neighbours()[0] == west


def test_near_six_degrees_west():
    # 6°W is a whole degree, so a grid line; 6°00′01″W is in the cell 20″ further west.
    just_west = cell_at(-6.0 - SECOND, 42.5 + SECOND)
    just_east = cell_at(-6.0 + SECOND, 42.5 + SECOND)
    assert just_west.bounds[0] == pytest.approx(-6.0 - 20 * SECOND, abs=1e-12)
    assert just_west.bounds[2] == -6.0 == just_east.bounds[0]
    assert contains_half_open(just_west, -6.0 - SECOND, 42.5 + SECOND)
    assert contains_half_open(just_east, -6.0 + SECOND, 42.5 + SECOND)


# --- ids -------------------------------------------------------------------------------------


def test_ids_round_trip_and_name_the_south_west_corner():
    for cell in (Cell(-1080, 7650), Cell(0, 0), Cell(-1, -1), Cell(32399, 16199)):
        assert grid.parse_id(cell.id) == cell
    # The numbers are the south-west corner in 20″ steps: 1080 × 20″ = 6°, 7650 × 20″ = 42°30′.
    assert Cell(-1080, 7650).bounds[:2] == (-6.0, 42.5)
    # 1007 × 20″ = 5°35′40″ west, 7651 × 20″ = 42°30′20″ north.
    assert grid.parse_id("W01007N07651").bounds[:2] == pytest.approx(
        (-(5 + 35 / 60 + 40 / 3600), 42.5 + 20 / 3600), abs=1e-12
    )


@pytest.mark.parametrize("bad", ["W1080N7650", "X01080N07650", "W00000N07650", "E99999N00000", ""])
def test_malformed_or_non_canonical_ids_are_refused(bad):
    with pytest.raises(InvalidParameter):
        grid.parse_id(bad)


# --- areas -----------------------------------------------------------------------------------


def test_one_cell_at_42_5_north_has_the_geodesic_area_within_a_hundredth_of_a_percent():
    cell = cell_at(-5.9, 42.5)
    west, south, east, north = cell.bounds
    # pyproj's polygon of geodesics on GRS80, densified so its edges follow the parallels.
    lons = [west + (east - west) * k / 50 for k in range(51)]
    ring_lons = lons + [east] * 49 + lons[::-1] + [west] * 49
    ring_lats = (
        [south] * 51
        + [south + (north - south) * k / 50 for k in range(1, 50)]
        + [north] * 51
        + [north - (north - south) * k / 50 for k in range(1, 50)]
    )
    geod_area, _ = Geod(ellps="GRS80").polygon_area_perimeter(ring_lons, ring_lats)
    assert cell.area_ha == pytest.approx(abs(geod_area) / 10_000, rel=1e-4)
    assert 27.5 < cell.area_ha < 28.5


def test_a_right_area_is_the_sum_of_its_cells():
    cells = [Cell(-1080, 7650), Cell(-1079, 7650)]
    two = grid.quadrangle_area_m2(-6.0, 42.5, -6.0 + 2 / 180, 42.5 + 1 / 180) / 10_000
    assert grid.area_ha(cells) == pytest.approx(two, rel=1e-12)


def test_cells_covering_an_area_are_those_sharing_positive_area():
    # A bbox exactly on grid lines covers its inside cells only, not the ones it touches.
    box = shapely.box(-6.0, 42.5, -6.0 + 3 / 180, 42.5 + 2 / 180)
    assert len(grid.cells_covering(box)) == 6
    nudged = translate(box, SECOND, 0)
    assert len(grid.cells_covering(nudged)) == 8


# --- well-formed rights ----------------------------------------------------------------------


def twelve_cells() -> shapely.Polygon:
    """A hand-made 4 × 3 right near Villablino (6°18′W 42°56′N), vertices on 20″ lines."""
    west, south = -6 - Fraction(18, 60), 42 + Fraction(56, 60)
    return shapely.box(float(west), float(south), float(west + 4 * STEP), float(south + 3 * STEP))


def test_a_twelve_cell_investigation_right_passes():
    result = validate_right(twelve_cells(), "investigation", LIMITS)
    assert result.valid, result.problems
    assert len(result.proposal) == 12
    assert result.proposal_geometry().equals(twelve_cells())
    assert result.area_ha == pytest.approx(
        sum(c.area_ha for c in grid.cells_covering(twelve_cells()))
    )


def test_the_same_right_shifted_by_one_second_fails_as_off_grid_and_snaps_back():
    result = validate_right(translate(twelve_cells(), SECOND, 0), "investigation", LIMITS)
    codes = [p.code for p in result.problems]
    assert codes == ["vertices_off_grid", "partial_cells"]
    assert "4 vertices are not on the 20″ grid lines" in result.problems[0].message
    # 4 columns shifted east by 1″ reach into a 5th column: 3 rows × 2 edge columns partial.
    assert "covers 6 cells only in part" in result.problems[1].message
    assert result.proposal_geometry().equals(twelve_cells())


def test_cells_touching_only_at_a_corner_are_not_joined():
    a = Cell(-1100, 7700).polygon
    b = Cell(-1099, 7701).polygon
    result = validate_right(shapely.MultiPolygon([a, b]), "investigation", LIMITS)
    assert [p.code for p in result.problems] == ["cells_not_joined"]
    assert "2 groups (1, 1 cells) not joined along a full side" in result.problems[0].message
    assert "touching only at a corner are not joined" in result.problems[0].message


def test_cells_sharing_a_side_are_joined():
    joined = shapely.union_all([Cell(-1100, 7700).polygon, Cell(-1099, 7700).polygon])
    assert validate_right(joined, "investigation", LIMITS).valid


def test_a_right_over_its_cell_limit_fails():
    # 301 cells: a 20 × 15 block plus one more on a side, for a type allowed 1–300.
    west, south = -6.5, 42.6
    block = shapely.box(west, south, west + 20 / 180, south + 15 / 180)
    extra = Cell(grid.index_of(west) + 20, grid.index_of(south)).polygon
    result = validate_right(shapely.union_all([block, extra]), "investigation", LIMITS)
    assert [p.code for p in result.problems] == ["too_many_cells"]
    assert result.problems[0].message == "301 cells is over the limit for investigation: 1–300"


def test_an_exploration_right_needs_its_minimum_and_limits_are_configurable():
    assert [p.code for p in validate_right(twelve_cells(), "exploration", LIMITS).problems] == [
        "too_few_cells"
    ]
    custom = {**LIMITS, "investigation": (1, 10)}
    assert [p.code for p in validate_right(twelve_cells(), "investigation", custom).problems] == [
        "too_many_cells"
    ]


def test_every_problem_is_reported_at_once():
    # Off the grid, and the snapped cells are split in two groups: both are said.
    a = translate(Cell(-1100, 7700).polygon, SECOND, 0)
    b = Cell(-1097, 7700).polygon
    result = validate_right(shapely.MultiPolygon([a, b]), "investigation", LIMITS)
    assert {p.code for p in result.problems} == {
        "vertices_off_grid",
        "partial_cells",
        "cells_not_joined",
    }


def test_a_diagonal_edge_between_grid_nodes_is_not_whole_cells():
    triangle = shapely.Polygon([(-6.0, 42.5), (-6.0 + 2 / 180, 42.5), (-6.0, 42.5 + 2 / 180)])
    result = validate_right(triangle, "investigation", LIMITS)
    assert [p.code for p in result.problems] == ["partial_cells"]


def test_vertices_within_the_tolerance_are_on_the_lines():
    slipped = translate(twelve_cells(), 5e-8, -5e-8)
    assert validate_right(slipped, "investigation", LIMITS).valid


def test_unknown_right_type_and_non_areas_are_refused():
    with pytest.raises(InvalidParameter, match="right_type"):
        validate_right(twelve_cells(), "quarry", LIMITS)
    with pytest.raises(InvalidParameter, match="geometry"):
        validate_right(shapely.Point(-6, 42.5), "investigation", LIMITS)
