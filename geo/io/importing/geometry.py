"""Geometries fit for a layer: present, non-empty, valid (or repaired with a note of what was
done), of an allowed type, polygons as multipolygons with one ring orientation."""

from __future__ import annotations

import numpy as np
import shapely

from geo.io.importing.points import Points
from geo.io.importing.report import Problem, Repair
from geo.io.importing.targets import Layer

_POLYGONAL = ("Polygon", "MultiPolygon")


def check_geometries(
    layer: Layer,
    geometry: np.ndarray | Points,
    repair: bool,
    ids: list,
    problems: list[Problem],
    repairs: list[Repair],
    notes: list[str],
) -> np.ndarray | Points:
    """The geometries made fit for the layer; each bad one reported, each repair noted."""
    if isinstance(geometry, Points):
        if "Point" in layer.geometry_types:
            return geometry  # present, non-empty, valid, 2D and of an allowed type: nothing to do
        geometry = geometry.shapes()
    missing = shapely.is_missing(geometry)
    out = geometry.copy()
    for i in map(int, np.flatnonzero(missing)):
        problems.append(Problem(i + 1, ids[i], "geometry", "no geometry (null)"))
    present = np.flatnonzero(~missing)
    if shapely.has_z(out[present]).any():
        out[present] = shapely.force_2d(out[present])
        notes.append("Z coordinates dropped: Veta stores 2D geometries (depths are fields)")
    empty = shapely.is_empty(out[present])
    for i in map(int, present[empty]):
        problems.append(Problem(i + 1, ids[i], "geometry", "empty geometry"))
    check = present[~empty]
    # Coordinates that are not numbers (PROJ's answer for a position it cannot transform, or
    # NaN in the file) have no valid shape to repair towards: refused, even with --repair.
    infinite = check[~np.isfinite(shapely.bounds(out[check])).all(axis=1)]
    for i in map(int, infinite):
        problems.append(
            Problem(
                i + 1,
                ids[i],
                "geometry",
                "coordinates are not finite numbers after the transformation to lon/lat: "
                "a position the CRS cannot transform, or NaN/infinity in the file (right CRS?)",
            )
        )
    check = np.setdiff1d(check, infinite)
    invalid = check[~shapely.is_valid(out[check])]
    for i in map(int, invalid):
        reason = shapely.is_valid_reason(out[i])
        if repair:
            out[i], action = _repaired(out[i])
            repairs.append(Repair(i + 1, ids[i], reason, action))
        else:
            problems.append(
                Problem(
                    i + 1,
                    ids[i],
                    "geometry",
                    f"invalid geometry: {reason} (--repair makes it valid)",
                )
            )
    if len(invalid) and not repair:
        check = np.setdiff1d(check, invalid)
    kinds = shapely.get_type_id(out[check])
    if "MultiPolygon" in layer.geometry_types:
        polygons = check[kinds == shapely.GeometryType.POLYGON]
        out[polygons] = shapely.multipolygons(out[polygons], indices=np.arange(len(polygons)))
        kinds[kinds == shapely.GeometryType.POLYGON] = shapely.GeometryType.MULTIPOLYGON
    # One ring orientation (exterior counter-clockwise, as RFC 7946) whatever the file used:
    # Shapefiles store the other one, and a re-import must not look like a change.
    polygonal = check[kinds == shapely.GeometryType.MULTIPOLYGON]
    out[polygonal] = shapely.orient_polygons(out[polygonal], exterior_cw=False)
    allowed = {getattr(shapely.GeometryType, t.upper()) for t in layer.geometry_types}
    names = ", ".join(
        layer.geometry_types + (("Polygon",) if "MultiPolygon" in layer.geometry_types else ())
    )
    for i in map(int, check[~np.isin(kinds, list(allowed))]):
        problems.append(
            Problem(
                i + 1,
                ids[i],
                "geometry",
                f"a {out[i].geom_type} cannot be a {layer.name} geometry (allowed: {names})",
            )
        )
    return out


def _repaired(geom) -> tuple[object, str]:
    """make_valid, keeping the polygonal parts: the repaired shape and what changed."""
    fixed = shapely.make_valid(geom)
    parts = shapely.get_parts(fixed)
    polygons = [
        p for part in parts if part.geom_type in _POLYGONAL for p in shapely.get_parts(part)
    ]
    dropped = len(parts) - sum(1 for p in parts if p.geom_type in _POLYGONAL)
    result = shapely.MultiPolygon(polygons) if polygons else fixed
    before, after = geom.area, result.area
    change = f"area {100 * (after - before) / before:+.4f}%" if before else "area from 0"
    action = f"make_valid → {result.geom_type} of {len(polygons)} part(s), {change}"
    if dropped:
        action += f"; dropped {dropped} line/point part(s) without area"
    return result, action
