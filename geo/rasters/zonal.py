"""Zonal statistics with exact cell coverage fractions (exactextract) over any lon/lat geometry.

The geometry is reprojected to the raster's CRS (densified first, so its edges follow the
curves they are in lon/lat); the raster is never resampled. Areas are in square metres of the
raster's CRS for a projected raster and spherical square metres for a geographic one.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import rasterio
import shapely
from exactextract import exact_extract
from exactextract.raster import RasterioRasterSource
from pyproj import CRS as ProjCRS
from pyproj import Geod, Transformer
from rasterio.enums import MaskFlags
from rasterio.windows import Window
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo.core.errors import InvalidParameter
from geo.rasters.storage import RasterInfo
from geo.rasters.zonal_pool import run_in_workers, spatial_order, split_for_workers, worker_count

GEOD = Geod(ellps="WGS84")
# Segments longer than this (degrees, ~100 m) are split before reprojection.
DENSIFY_DEGREES = 0.001
# The batch form's statistics: exactextract's operations and the names Veta gives them.
BATCH_OPS = ["count", "min", "max", "mean", "stdev", "median"]
BATCH_NAMES = ["count", "min", "max", "mean", "std", "median"]
PERCENTILE_RULE = "comma-separated whole numbers from 1 to 99, e.g. 10,50,90"


@lru_cache(maxsize=64)
def _to_raster_crs(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(4326, ProjCRS.from_wkt(crs_wkt), always_xy=True)


def to_raster_crs(lonlat: BaseGeometry, info: RasterInfo) -> BaseGeometry:
    """A lon/lat geometry in the raster's CRS (the raster is never resampled instead)."""
    transformer = _to_raster_crs(info.crs_wkt)
    dense = shapely.segmentize(lonlat, DENSIFY_DEGREES) if lonlat.geom_type != "Point" else lonlat
    return shapely.transform(
        dense, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def parse_percentiles(text: str | None) -> tuple[int, ...]:
    """Whole percentiles only: exactextract names its columns by the integer part."""
    if not text:
        return ()
    try:
        values = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise InvalidParameter(
            "percentiles", f"{text!r} is not a list of whole numbers", PERCENTILE_RULE
        ) from None
    bad = [p for p in values if not 0 < p < 100]
    if bad:
        raise InvalidParameter("percentiles", f"{bad[0]} is out of range", PERCENTILE_RULE)
    return tuple(sorted(set(values)))


def _band(info: RasterInfo, band: int) -> int:
    if not 1 <= band <= info.band_count:
        raise InvalidParameter(
            "band", f"raster {info.name!r} has no band {band}", f"1 to {info.band_count}"
        )
    return band


def zonal_statistics(
    info: RasterInfo,
    lonlat: BaseGeometry,
    *,
    band: int = 1,
    percentiles: tuple[int, ...] = (),
    as_sent: tuple[int, BaseGeometry] | None = None,
) -> dict:
    """Coverage-weighted statistics of one band over a (multi)polygon given in lon/lat, or as sent
    (srid, geometry) when that is the raster's own CRS."""
    band = _band(info, band)
    if as_sent and info.epsg and as_sent[0] == info.epsg:
        geometry = as_sent[1]
    else:
        geometry = to_raster_crs(lonlat, info)
    geographic = ProjCRS.from_wkt(info.crs_wkt).is_geographic
    weight = "area_spherical_m2" if geographic else "area_cartesian"
    ops = [
        "count",
        "min",
        "max",
        "mean",
        "stdev",
        "median",
        *(f"quantile(q={_fraction(p)!r})" for p in percentiles),
        f"valid_m2=count(coverage_weight={weight})",
        # default_value stands in for nodata so that nodata cells are counted too.
        f"covered_m2=count(default_value=0,coverage_weight={weight})",
    ]
    if info.categorical:
        ops += ["unique", f"frac(coverage_weight={weight})"]
    with rasterio.open(info.path) as src:
        features = [{"type": "Feature", "properties": {}, "geometry": mapping(geometry)}]
        result = exact_extract(_band_source(src, band), features, ops, output="geojson")[0][
            "properties"
        ]
    area_m2 = abs(GEOD.geometry_area_perimeter(lonlat)[0])
    valid, covered = float(result["valid_m2"]), float(result["covered_m2"])
    has_values = result["count"] > 0
    stats = {
        "raster": info.name,
        "band": band,
        "units": info.units,
        "area_ha": round(area_m2 / 1e4, 4),
        "covered_ha": round(covered / 1e4, 4),
        "valid_ha": round(valid / 1e4, 4),
        "nodata_share": round(1 - valid / covered, 6) if covered > 0 else None,
        "count": float(result["count"]),
        "min": _number(result["min"], has_values),
        "max": _number(result["max"], has_values),
        "mean": _number(result["mean"], has_values),
        "std": _number(result["stdev"], has_values),
        "median": _number(result["median"], has_values),
        "percentiles": {str(p): _number(result[f"quantile_{p}"], has_values) for p in percentiles},
    }
    if info.categorical:
        order = np.argsort(result["unique"])
        stats["classes"] = [
            {
                "value": _class_value(result["unique"][i]),
                "hectares": round(float(result["frac"][i]) * valid / 1e4, 4),
                "share": round(float(result["frac"][i]), 6),
            }
            for i in order
        ]
    return stats


def zonal_statistics_many(
    path, geometries: list[BaseGeometry], band: int = 1, workers: int | None = None
) -> list[dict]:
    """count, min, max, mean, std and median of many polygons already in the raster's CRS (the
    batch form: deposits' buffers, a set of sites), in `workers` processes (None or 0: every
    CPU; 1: in this process) when the batch is large enough to pay for starting them. The
    numbers are the same either way: each polygon is measured alone."""
    runs = split_for_workers(len(geometries), worker_count(workers))
    if len(runs) == 1:
        return _statistics_in_process(str(path), band, geometries)
    order = spatial_order(geometries)
    tasks = [(str(path), band, [geometries[i] for i in order[run]]) for run in runs]
    in_order = run_in_workers(_statistics_in_process, tasks, len(runs))
    answers: list[dict] = [{}] * len(geometries)
    for position, answer in zip(order, in_order):
        answers[position] = answer
    return answers


def _statistics_in_process(path: str, band: int, geometries: list[BaseGeometry]) -> list[dict]:
    """One pass of exactextract over the polygons, in this process (a worker's share of a batch)."""
    features = [{"type": "Feature", "properties": {}, "geometry": mapping(g)} for g in geometries]
    with rasterio.open(path) as src:
        rows = exact_extract(_band_source(src, band), features, BATCH_OPS, output="geojson")
    return [{name: r["properties"][op] for name, op in zip(BATCH_NAMES, BATCH_OPS)} for r in rows]


class _NodataBand(RasterioRasterSource):
    """A band whose only mask is its nodata value, read without building that mask: exactextract
    drops the nodata cells itself, and rasterio's masked read was about a tenth of the work."""

    def read_window(self, x0, y0, nx, ny):
        return self.ds.read(self.band_idx, window=Window(x0, y0, nx, ny))


def _band_source(src, band: int) -> RasterioRasterSource:
    """exactextract's view of one band: the plain read where that masks the same cells, else
    rasterio's masked read (a mask band, an alpha band, a NaN nodata, scaled values)."""
    flags = src.mask_flag_enums[band - 1]
    nodata_only = set(flags) <= {MaskFlags.nodata, MaskFlags.all_valid}
    finite_nodata = src.nodata is None or math.isfinite(src.nodata)
    unscaled = src.scales[band - 1] == 1.0 and src.offsets[band - 1] == 0.0
    if nodata_only and finite_nodata and unscaled:
        return _NodataBand(src, band)
    return RasterioRasterSource(src, band)


def _fraction(percentile: int) -> float:
    """percentile / 100, nudged up by ulps where needed: exactextract names the result
    quantile_{int(q * 100)}, and 0.29 * 100 is 28.999…"""
    q = percentile / 100
    while int(q * 100) < percentile:
        q = math.nextafter(q, 1.0)
    return q


def _number(value, has_values: bool) -> float | None:
    if not has_values or value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _class_value(value) -> int | float:
    value = float(value)
    return int(value) if value.is_integer() else value
