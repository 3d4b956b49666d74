"""Which CRS a file is in, and bringing its geometries to Veta's lon/lat with the best datum shift.

Order: a --crs option (the user overrides a wrong .prj), else the file's own CRS, else the
mapping's; a file with none is accepted only when every coordinate is plainly lon/lat.
Each row is then checked: lat/lon swapped, or far outside the region the data should be in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.transformer import AreaOfInterest, TransformerGroup

from geo.core.crs import any_crs
from geo.core.errors import InvalidParameter
from geo.io.importing.points import Points
from geo.io.importing.report import Problem
from geo.queries import spain

# Geometries are stored in lon/lat as EPSG:4326. Spanish data is ETRS89, which differs from
# WGS 84 by well under a metre here; the shift that matters is from ED50, so every source is
# taken to ETRS89 (EPSG:4258) with the most accurate transformation PROJ has for the area.
TARGET = CRS.from_epsg(4258)
_LONLAT = (CRS.from_epsg(4326), CRS.from_epsg(4258), CRS.from_user_input("OGC:CRS84"))


@dataclass(frozen=True)
class CrsChoice:
    """The CRS used for a file and where it came from: the file, --crs, the mapping, or lon/lat."""

    crs: CRS
    origin: str


def _bounds(geometry: np.ndarray | Points) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (west, south, east, north), NaN where it has no geometry, and which rows have one."""
    if isinstance(geometry, Points):
        return geometry.bounds(), np.ones(len(geometry), dtype=bool)
    return shapely.bounds(geometry), ~shapely.is_missing(geometry)


def _present_bounds(geometry: np.ndarray | Points) -> tuple[int, np.ndarray]:
    """How many rows have a geometry, and the (west, south, east, north) of those."""
    if isinstance(geometry, Points):
        return len(geometry), geometry.total_bounds()
    present = geometry[~shapely.is_missing(geometry)]
    return len(present), shapely.total_bounds(present)


def given_crs(
    file_crs: CRS | None, option: str | None, mapping_crs: str | None
) -> CrsChoice | None:
    """The CRS named by --crs, the file or the mapping, in that order; None if none names one."""
    if option:
        return CrsChoice(any_crs(option, "--crs"), "--crs")
    if file_crs is not None:
        return CrsChoice(file_crs, "file")
    if mapping_crs:
        return CrsChoice(any_crs(mapping_crs, "mapping crs"), "mapping")
    return None


def needs_no_area(crs: CRS) -> bool:
    """Whether the way to lon/lat ETRS89 is the same wherever the data lies: lon/lat itself, or a
    CRS on ETRS89 (a projection undone, no datum shift). For any other CRS the transformation is
    chosen for the area of all the file's rows (WGS 84's, for one, is a ballpark offset far from
    Europe), so the whole file must be read before its first row is reprojected."""
    return crs in _LONLAT or crs.geodetic_crs == TARGET


def choose_crs(
    file_crs: CRS | None,
    option: str | None,
    mapping_crs: str | None,
    geometry: np.ndarray | Points | None,
) -> CrsChoice:
    """The CRS of the coordinates, or a refusal that says how to name it. `geometry` (every
    row's) is looked at only when nothing names a CRS; None when the rows are not read yet."""
    given = given_crs(file_crs, option, mapping_crs)
    if given is not None:
        return given
    assert geometry is not None, "a file that names no CRS is read whole"
    present, (west, south, east, north) = _present_bounds(geometry)
    if present:
        if west >= -180 and east <= 180 and south >= -90 and north <= 90:
            return CrsChoice(
                CRS.from_epsg(4326),
                "assumed lon/lat (no CRS given; every coordinate is within ±180/±90)",
            )
        seen = f"x {west:.6g}…{east:.6g}, y {south:.6g}…{north:.6g}"
    else:
        seen = "no coordinates"
    raise InvalidParameter(
        "--crs",
        f"the file declares no CRS and its coordinates are not lon/lat ({seen})",
        "--crs EPSG:25830 (or 25829, 3035, 23030 …), or crs in the mapping file",
    )


def _transformer(crs: CRS, geometry: np.ndarray | Points | None) -> tuple[Transformer, dict]:
    """The most accurate available transformation for the data's area (any area, for a CRS
    that needs none: `geometry` None), and a note on it."""
    area = None
    if geometry is not None:
        _, (west, south, east, north) = _present_bounds(geometry)
        lon_lat = Transformer.from_crs(crs, 4326, always_xy=True).transform_bounds(
            west, south, east, north
        )
        if np.all(np.isfinite(lon_lat)):
            area = AreaOfInterest(*(float(v) for v in lon_lat))
    group = TransformerGroup(crs, TARGET, always_xy=True, area_of_interest=area)
    if not group.transformers:
        raise InvalidParameter(
            "--crs", f"PROJ knows no transformation from {crs.to_string()} to ETRS89"
        )
    chosen = group.transformers[0]
    info = {
        "transformation": chosen.description,
        "accuracy_m": chosen.accuracy if chosen.accuracy >= 0 else "unknown",
    }
    if not group.best_available:
        missing = sorted({g.short_name for op in group.unavailable_operations for g in op.grids})
        info["best_unavailable"] = (
            f"a more accurate transformation needs the grid(s) {', '.join(missing)}, not installed "
            "(projsync --file NAME, or PROJ_NETWORK=ON); used the one above"
        )
    return chosen, info


def lonlat_reprojection(
    geometry: np.ndarray | Points | None, choice: CrsChoice
) -> tuple[Callable[[np.ndarray | Points], np.ndarray | Points], dict]:
    """How to bring geometries of this file to lon/lat ETRS89 (stored as EPSG:4326), chosen
    once for the whole file (the transformation best for its area), and how it is done: applied
    chunk by chunk, as each is validated. `geometry` is every row's, or None for a file read in
    batches, whose CRS needs no area (`needs_no_area`)."""
    info = {"crs": choice.crs.to_string(), "from": choice.origin}
    if choice.crs in _LONLAT or (geometry is not None and not _present_bounds(geometry)[0]):
        return lambda shapes: shapes, info
    assert geometry is not None or needs_no_area(choice.crs)
    transformer, how = _transformer(choice.crs, geometry)
    info.update(how)

    def move(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

    def reproject(shapes: np.ndarray | Points) -> np.ndarray | Points:
        if isinstance(shapes, Points):
            moved = move(shapes.xy)
            # A point PROJ cannot transform comes back infinite: shapely's checks report it.
            return Points(moved) if np.isfinite(moved).all() else shapely.points(moved)
        return shapely.transform(shapes, move)

    return reproject, info


def to_lonlat(geometry: np.ndarray | Points, choice: CrsChoice) -> tuple[np.ndarray | Points, dict]:
    """The geometries in lon/lat ETRS89 (stored as EPSG:4326), and how they got there."""
    reproject, info = lonlat_reprojection(geometry, choice)
    return reproject(geometry), info


def _inside(
    geometry: np.ndarray | Points, rows: np.ndarray, region: tuple | None, swapped: bool
) -> np.ndarray:
    """Which of the rows lie in the region (None: Spain's land and territorial sea), read with
    x and y exchanged when `swapped`."""
    if isinstance(geometry, Points):
        x, y = geometry.xy[rows, 0], geometry.xy[rows, 1]
        if swapped:
            x, y = y, x
        if region is None:
            return spain.within_spain(x, y)
        west, south, east, north = region
        return (west <= x) & (x <= east) & (south <= y) & (y <= north)
    shapes = geometry[rows]
    if swapped:
        shapes = shapely.transform(shapes, lambda xy: xy[:, ::-1])
    if region is None:
        return spain.touches_spain(shapes)
    return shapely.intersects(shapely.box(*region), shapes)


def position_problems(
    geometry: np.ndarray | Points,
    ids: list[str | None],
    region: tuple[float, float, float, float] | None,
    geographic_source: bool,
) -> list[Problem]:
    """A row whose geometry lies outside the region: swapped lat/lon when swapping fixes it."""
    bounds, present = _bounds(geometry)
    # Non-finite positions are the geometry check's to report (geometry.py), once.
    rows = np.flatnonzero(present & np.isfinite(bounds).all(axis=1))
    outside = rows[~_inside(geometry, rows, region, swapped=False)]
    swapped_inside = (
        _inside(geometry, outside, region, swapped=True)
        if geographic_source
        else np.zeros(len(outside), bool)
    )
    where = (
        "Spain (land and 12 nautical miles of sea)" if region is None else f"the region {region}"
    )
    problems = []
    for i, swapped in zip(outside, swapped_inside):
        x0, y0 = bounds[i][:2]
        if swapped:
            reason = (
                f"latitude and longitude look swapped (x {x0:.6f}, y {y0:.6f}); "
                "longitude is x, latitude is y"
            )
        else:
            reason = (
                f"position lon {x0:.4f}, lat {y0:.4f} is far outside {where}; "
                "wrong CRS or coordinates?"
            )
        problems.append(Problem(int(i) + 1, ids[i], "geometry", reason))
    return problems
