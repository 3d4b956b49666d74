"""A site's geometry checked and brought to lon/lat: every coordinate, ring and shape a user
can get wrong is named with its place in the body (`where`), before any SQL runs."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from geo.core.crs import Crs, check_area_of_use
from geo.core.errors import InvalidParameter
from geo.core.limits import check_vertices
from geo.core.sql import Sql

GEOD = Geod(ellps="WGS84")
# What a site may be, told to whoever sends something else.
SITE_FORMS = (
    "a GeoJSON Point (with buffer_m), Polygon or MultiPolygon, a Feature of one, "
    '{"deposit": id} or {"permit": id}'
)


def buffered_sql(geom: str, metres: str) -> Sql:
    """A site grown by its buffer_m (`geom` and `metres` SQL expressions): geodesic, in the best
    planar projection PostGIS picks for the geography, 16 segments a quarter circle. Screening
    (single and batch) and zonal statistics grow sites alike."""
    return Sql(f"ST_Buffer(({geom})::geography, ({metres})::float8, 'quad_segs=16')::geometry")


def lonlat_geometry(kind: str, coordinates: object, crs: Crs, where: str) -> BaseGeometry:
    """The GeoJSON coordinates of a `kind` geometry in `crs` as a valid lon/lat geometry:
    positions well formed and in range, rings closed, inside the CRS's area of use, valid
    (else shapely's explanation), not across the antimeridian."""
    check_vertices(coordinates, where)
    raw = _coordinates(kind, coordinates, where)
    if crs.northing_first:
        raw = _flip(kind, raw)
    if crs.geographic:
        _check_lonlat(kind, raw, where)
    source = shape({"type": kind, "coordinates": raw})
    check_area_of_use(crs, source.bounds, where, "crs")
    _check_valid(source, where, crs)
    lonlat = to_lonlat(source, crs, where)
    _check_antimeridian(lonlat, where)
    return lonlat


def _position(value: object, where: str) -> list[float]:
    allowed = "a position [x, y] of two finite numbers"
    if not isinstance(value, list) or len(value) != 2:
        reason = (
            "a third coordinate is not used; give depths as depth_top_m/depth_bottom_m"
            if isinstance(value, list) and len(value) == 3
            else f"expected [x, y], got {value!r}"
        )
        raise InvalidParameter(where, reason, allowed)
    for x in value:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise InvalidParameter(where, f"not a finite number: {x!r}", allowed)
    return [float(value[0]), float(value[1])]


def _ring(value: object, where: str) -> list[list[float]]:
    allowed = "a closed ring: at least 4 positions, the last equal to the first"
    if not isinstance(value, list) or not value:
        raise InvalidParameter(
            where, "empty ring" if value == [] else "expected a list of positions", allowed
        )
    ring = [_position(p, f"{where}[{i}]") for i, p in enumerate(value)]
    if ring[0] != ring[-1]:
        raise InvalidParameter(
            where, f"unclosed ring: starts at {ring[0]} but ends at {ring[-1]}", allowed
        )
    if len(ring) < 4:
        raise InvalidParameter(
            where, f"a ring needs at least 4 positions, got {len(ring)}", allowed
        )
    return ring


def _polygon(value: object, where: str) -> list[list[list[float]]]:
    if not isinstance(value, list) or not value:
        raise InvalidParameter(
            where,
            "empty polygon" if value == [] else "expected a list of rings",
            "a list of closed rings, the outer ring first",
        )
    return [_ring(r, f"{where}[{i}]") for i, r in enumerate(value)]


def _coordinates(kind: str, value: object, where: str) -> list:
    if value is None or value == []:
        raise InvalidParameter(where, "empty geometry: a site needs coordinates", SITE_FORMS)
    if kind == "Point":
        return _position(value, where)
    if kind == "Polygon":
        return _polygon(value, where)
    if not isinstance(value, list):
        raise InvalidParameter(where, "expected a list of polygons", "a list of polygons")
    return [_polygon(p, f"{where}[{i}]") for i, p in enumerate(value)]


def _flip(kind: str, raw: list) -> list:
    """Northing-first positions (EPSG:4326, 4258, 3035) as x, y."""
    if kind == "Point":
        return raw[::-1]
    if kind == "Polygon":
        return [[p[::-1] for p in ring] for ring in raw]
    return [[[p[::-1] for p in ring] for ring in polygon] for polygon in raw]


def _check_lonlat(kind: str, raw: list, where: str) -> None:
    rings = (
        [[raw]]
        if kind == "Point"
        else raw
        if kind == "Polygon"
        else [r for polygon in raw for r in polygon]
    )
    points = np.array([p for ring in rings for p in ring])
    allowed = "longitude within ±180 and latitude within ±90 (check the axis order of the CRS)"
    if (bad := np.abs(points[:, 1]) > 90).any():
        raise InvalidParameter(where, f"latitude out of range: {points[bad][0][1]:g}", allowed)
    if (bad := np.abs(points[:, 0]) > 180).any():
        raise InvalidParameter(where, f"longitude out of range: {points[bad][0][0]:g}", allowed)


def _check_valid(geometry: BaseGeometry, where: str, crs: Crs) -> None:
    if geometry.is_empty:
        raise InvalidParameter(where, "empty geometry", SITE_FORMS)
    if not geometry.is_valid:
        raise InvalidParameter(
            where,
            f"invalid geometry: {explain_validity(geometry)} ({crs.label})",
            "a simple polygon whose rings neither cross themselves nor each other",
        )


@lru_cache
def _transformer(srid: int) -> Transformer:
    return Transformer.from_crs(srid, 4326, always_xy=True)


def to_lonlat(geometry: BaseGeometry, crs: Crs, where: str) -> BaseGeometry:
    """A geometry in a served CRS (x, y order) in lon/lat; refused, naming `where`, when its
    coordinates lie outside the CRS's area or it is not valid once there."""
    if crs.srid == 4326:
        return geometry
    transformer = _transformer(crs.srid)
    lonlat = shapely.transform(
        geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )
    coords = shapely.get_coordinates(lonlat)
    if not np.isfinite(coords).all() or (np.abs(coords[:, 1]) > 90).any():
        raise InvalidParameter(
            where,
            f"coordinates outside the area of {crs.label}",
            "coordinates in the CRS the body or Content-Crs header names",
        )
    if not lonlat.is_valid:
        raise InvalidParameter(
            where,
            f"invalid geometry in longitude/latitude: {explain_validity(lonlat)}",
            "a simple polygon whose rings neither cross themselves nor each other",
        )
    return lonlat


def _check_antimeridian(lonlat: BaseGeometry, where: str) -> None:
    """Refuse a site with an edge spanning more than 180° of longitude: it crosses the
    antimeridian, and read as planar lon/lat it would be a strip around the whole Earth.
    Refused rather than split: Veta's data lies in Spain, so such a site is a mistake."""
    for ring in _rings_of(lonlat):
        lons = shapely.get_coordinates(ring)[:, 0]
        if len(lons) > 1 and (np.abs(np.diff(lons)) > 180).any():
            raise InvalidParameter(
                where,
                "the site crosses the antimeridian (180° longitude)",
                "a site on one side of 180°; split one that crosses it into two",
            )


def _rings_of(geometry: BaseGeometry):
    for polygon in getattr(geometry, "geoms", [geometry]):
        if polygon.geom_type == "Polygon":
            yield polygon.exterior
            yield from polygon.interiors


def check_area(
    lonlat: BaseGeometry, buffer_m: float | None, max_area_km2: float, where: str, buffer_where: str
) -> None:
    """Geodesic area of the site; with a buffer, area + perimeter × r + π r² (Steiner), exact
    for a convex site in the plane and an upper bound otherwise."""
    area, perimeter = GEOD.geometry_area_perimeter(lonlat)
    r = buffer_m or 0.0
    km2 = (abs(area) + perimeter * r + math.pi * r * r) / 1e6
    if km2 > max_area_km2:
        # Name the buffer when the geometry alone would have fitted.
        field = buffer_where if abs(area) / 1e6 <= max_area_km2 else where
        raise InvalidParameter(
            field,
            f"the site covers {km2:,.1f} km², more than the "
            f"{max_area_km2:,.0f} km² one screening may cover",
            f"a site of at most {max_area_km2:,.0f} km²",
        )
