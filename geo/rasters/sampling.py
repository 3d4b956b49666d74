"""Raster values at points: per band, nearest cell or bilinear, nodata and outside as null."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import rasterio
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from rasterio.windows import Window

from geo.core.crs import parse_crs
from geo.core.errors import InvalidParameter
from geo.rasters.storage import RasterInfo

METHODS = ("nearest", "bilinear")


@lru_cache(maxsize=64)
def _transformer(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(4326, ProjCRS.from_wkt(crs_wkt), always_xy=True)


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InvalidParameter("method", f"{method!r} is not a sampling method", METHODS)
    return method


def parse_points(
    body: object, content_crs: str | None, max_points: int
) -> list[tuple[float, float]]:
    """The lon/lat of every Point feature of a FeatureCollection in CRS84 or the Content-Crs."""
    allowed = f"a GeoJSON FeatureCollection of 1 to {max_points:,} Point features"
    if not isinstance(body, dict) or body.get("type") != "FeatureCollection":
        raise InvalidParameter("body", "expected a GeoJSON FeatureCollection", allowed)
    features = body.get("features")
    if not isinstance(features, list) or not features:
        raise InvalidParameter("features", "expected a non-empty list of features", allowed)
    if len(features) > max_points:
        raise InvalidParameter(
            "features",
            f"{len(features):,} points, more than one request may sample (VETA_RASTER_MAX_POINTS)",
            allowed,
        )
    crs = parse_crs(content_crs.strip().strip("<>") if content_crs else None, "Content-Crs")
    xy = []
    for i, feature in enumerate(features):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        coords = (
            geometry.get("coordinates")
            if isinstance(geometry, dict) and geometry.get("type") == "Point"
            else None
        )
        if not (
            isinstance(coords, list)
            and len(coords) in (2, 3)
            and all(
                isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c)
                for c in coords
            )
        ):
            raise InvalidParameter(
                f"features[{i}].geometry",
                "expected a GeoJSON Point with numeric coordinates",
                allowed,
            )
        xy.append((coords[1], coords[0]) if crs.northing_first else (coords[0], coords[1]))
    x, y = np.asarray(xy, dtype=float).T
    if crs.srid != 4326:
        x, y = Transformer.from_crs(crs.srid, 4326, always_xy=True).transform(x, y)
    bad = np.flatnonzero(
        ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
    )
    if bad.size:
        raise InvalidParameter(
            f"features[{bad[0]}].geometry",
            f"coordinates outside the area of {crs.label}",
            "coordinates in the CRS the Content-Crs header names (default CRS84, lon/lat)",
        )
    return list(zip(x.tolist(), y.tolist()))


def sample_points(
    info: RasterInfo, lonlat: list[tuple[float, float]], method: str = "nearest"
) -> list[list]:
    """For each lon/lat point, one value per band (None where nodata or outside the raster)."""
    check_method(method)
    if not lonlat:
        return []
    xs, ys = _transformer(info.crs_wkt).transform(
        *(np.asarray(c, dtype=float) for c in zip(*lonlat))
    )
    with rasterio.open(info.path) as src:
        # Fractional column/row of each point in the grid (0.5 = a cell's centre).
        cols, rows = ~src.transform * (np.asarray(xs), np.asarray(ys))
        if method == "nearest":
            return [_nearest(src, c, r) for c, r in zip(cols, rows)]
        return [_bilinear(src, c, r) for c, r in zip(cols, rows)]


def _inside(src, col: float, row: float) -> bool:
    return (
        math.isfinite(col) and math.isfinite(row) and 0 <= col < src.width and 0 <= row < src.height
    )


def _nearest(src, col: float, row: float) -> list:
    if not _inside(src, col, row):
        return [None] * src.count
    data = src.read(window=Window(int(col), int(row), 1, 1), masked=True)[:, 0, 0]
    return [_value(v) for v in data]


def _bilinear(src, col: float, row: float) -> list:
    """Bilinear between the four nearest cell centres; null when any of them is nodata or
    outside, rather than a value leaning on cells that have none."""
    if not _inside(src, col, row):
        return [None] * src.count
    c0, r0 = math.floor(col - 0.5), math.floor(row - 0.5)
    fx, fy = col - 0.5 - c0, row - 0.5 - r0
    # At the outer half-cell of the raster the edge cells are used as they are.
    c0, c1 = max(c0, 0), min(c0 + 1, src.width - 1)
    r0, r1 = max(r0, 0), min(r0 + 1, src.height - 1)
    data = src.read(window=Window(c0, r0, c1 - c0 + 1, r1 - r0 + 1), masked=True, boundless=False)
    data = data.astype(np.float64)
    if data.shape[1] == 1:
        data = np.concatenate([data, data], axis=1)
        fy = 0.0
    if data.shape[2] == 1:
        data = np.concatenate([data, data], axis=2)
        fx = 0.0
    values = []
    for band in data:
        if np.ma.is_masked(band):
            values.append(None)
            continue
        top = band[0, 0] * (1 - fx) + band[0, 1] * fx
        bottom = band[1, 0] * (1 - fx) + band[1, 1] * fx
        values.append(_value(top * (1 - fy) + bottom * fy))
    return values


def _value(v) -> float | int | None:
    if v is np.ma.masked:
        return None
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
