"""Zonal statistics with exact cell coverage fractions (exactextract) over any lon/lat geometry.

The geometry is reprojected to the raster's CRS (densified first, so its edges follow the
curves they are in lon/lat); the raster is never resampled. Areas are in square metres of the
raster's CRS for a projected raster and spherical square metres for a geographic one. One
geometry is a batch of one: a batch's numbers are the single form's, zone by zone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
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
from geo.rasters.zonal_pool import (
    ZonalWorkers,
    run_in_workers,
    spatial_order,
    split_for_workers,
    worker_count,
)

GEOD = Geod(ellps="WGS84")
# Segments longer than this (degrees, ~100 m) are split before reprojection.
DENSIFY_DEGREES = 0.001
# The statistics every form reports: exactextract's operations and the names Veta gives them.
CORE_OPS = ("count", "min", "max", "mean", "stdev", "median")
CORE_NAMES = ("count", "min", "max", "mean", "std", "median")
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


@dataclass(frozen=True)
class Measures:
    """What exactextract measures of each polygon: the band, the percentiles, and with `weight`
    (exactextract's cell area weight) the covered and valid areas, and for a categorical raster
    the share of each class. Without a weight: the core statistics alone. With `cell_m2` (a
    projected raster, every cell that area) the areas are not measured but computed: the
    weighted counts would be count × cell_m2, and the covered area the polygon's within the
    raster (exact coverage fractions sum to it) — two passes of exactextract fewer, about a
    third of a batch's time."""

    band: int = 1
    percentiles: tuple[int, ...] = ()
    weight: str | None = None
    categorical: bool = False
    cell_m2: float | None = None

    def operations(self) -> list[str]:
        ops = [*CORE_OPS, *(f"quantile(q={_fraction(p)!r})" for p in self.percentiles)]
        if self.weight and self.cell_m2 is None:
            ops += [
                f"valid_m2=count(coverage_weight={self.weight})",
                # default_value stands in for nodata so that nodata cells are counted too.
                f"covered_m2=count(default_value=0,coverage_weight={self.weight})",
            ]
        if self.weight and self.categorical:
            ops += ["unique", f"frac(coverage_weight={self.weight})"]
        return ops


def measures_of(info: RasterInfo, band: int = 1, percentiles: tuple[int, ...] = ()) -> Measures:
    """Everything the statistics of one band of a registered raster report."""
    geographic = ProjCRS.from_wkt(info.crs_wkt).is_geographic
    a, b, _, d, e, _ = info.transform[:6]
    return Measures(
        _band(info, band),
        percentiles,
        "area_spherical_m2" if geographic else "area_cartesian",
        info.categorical,
        None if geographic else abs(a * e - b * d),
    )


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
    (stats,) = zonal_statistics_batch(
        info, [lonlat], band=band, percentiles=percentiles, as_sent=[as_sent], workers=1
    )
    return {"raster": info.name, "band": band, "units": info.units, **stats}


def zonal_statistics_batch(
    info: RasterInfo,
    lonlat: Sequence[BaseGeometry],
    *,
    band: int = 1,
    percentiles: tuple[int, ...] = (),
    as_sent: Sequence[tuple[int, BaseGeometry] | None] | None = None,
    workers: ZonalWorkers | int | None = None,
) -> list[dict]:
    """The statistics of zonal_statistics for each (multi)polygon, in order (what a batch adds
    to each zone), spread over `workers` (a shared ZonalWorkers, or a number of processes as in
    zonal_statistics_many). Each polygon is measured alone: the numbers are the single form's."""
    measures = measures_of(info, band, percentiles)
    geometries = _in_raster_crs(info, lonlat, as_sent or [None] * len(lonlat))
    measured = zonal_statistics_many(info.path, geometries, workers=workers, measures=measures)
    areas = [abs(GEOD.geometry_area_perimeter(g)[0]) for g in lonlat]
    covered = _covered_m2(info, geometries) if measures.cell_m2 is not None else [None] * len(areas)
    return [_reported(m, a, c, measures) for m, a, c in zip(measured, areas, covered)]


def _covered_m2(info: RasterInfo, geometries: list[BaseGeometry]) -> list[float]:
    """The area of each polygon (in the raster's projected CRS) within the raster's extent:
    its own area when its bounds are inside, else its intersection with the extent."""
    extent = shapely.box(*info.bounds)
    array = np.asarray(geometries)
    bounds = shapely.bounds(array)
    minx, miny, maxx, maxy = info.bounds
    inside = (
        (bounds[:, 0] >= minx)
        & (bounds[:, 1] >= miny)
        & (bounds[:, 2] <= maxx)
        & (bounds[:, 3] <= maxy)
    )
    areas = shapely.area(array)
    for i in np.flatnonzero(~inside):
        areas[i] = shapely.area(shapely.intersection(shapely.make_valid(array[i]), extent))
    return [float(a) for a in areas]


def _in_raster_crs(
    info: RasterInfo,
    lonlat: Sequence[BaseGeometry],
    as_sent: Sequence[tuple[int, BaseGeometry] | None],
) -> list[BaseGeometry]:
    """Each polygon in the raster's CRS: as sent when sent in it, else reprojected (all the
    others in one call: the transformation is point by point, so alike either way)."""
    own = [s[1] if s and info.epsg and s[0] == info.epsg else None for s in as_sent]
    moved = [i for i, g in enumerate(own) if g is None]
    if moved:
        transformer = _to_raster_crs(info.crs_wkt)
        dense = shapely.segmentize(np.asarray([lonlat[i] for i in moved]), DENSIFY_DEGREES)
        projected = shapely.transform(
            dense, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        )
        for i, geometry in zip(moved, projected):
            own[i] = geometry
    return own  # type: ignore[return-value]  # every None was filled above


def _reported(measured: dict, area_m2: float, covered_m2: float | None, measures: Measures) -> dict:
    """One polygon's statistics as Veta reports them (hectares, nodata share, classes)."""
    if measures.cell_m2 is not None and covered_m2 is not None:
        valid, covered = float(measured["count"]) * measures.cell_m2, covered_m2
    else:
        valid, covered = float(measured["valid_m2"]), float(measured["covered_m2"])
    has_values = measured["count"] > 0
    stats: dict[str, object] = {
        "area_ha": round(area_m2 / 1e4, 4),
        "covered_ha": round(covered / 1e4, 4),
        "valid_ha": round(valid / 1e4, 4),
        # At least 0: computed areas may differ from each other by a rounding error.
        "nodata_share": max(0.0, round(1 - valid / covered, 6)) if covered > 0 else None,
        "count": float(measured["count"]),
        **{name: _number(measured[name], has_values) for name in CORE_NAMES[1:]},
        "percentiles": {
            str(p): _number(measured[f"quantile_{p}"], has_values) for p in measures.percentiles
        },
    }
    if measures.categorical:
        unique, shares = measured["unique"], measured["frac"]
        stats["classes"] = [
            {
                "value": _class_value(unique[i]),
                "hectares": round(float(shares[i]) * valid / 1e4, 4),
                "share": round(float(shares[i]), 6),
            }
            for i in np.argsort(unique)
        ]
    return stats


def zonal_statistics_many(
    path,
    geometries: list[BaseGeometry],
    band: int = 1,
    workers: ZonalWorkers | int | None = None,
    measures: Measures | None = None,
) -> list[dict]:
    """exactextract's measures (by default count, min, max, mean, std and median) of many
    polygons already in the raster's CRS, in worker processes when the batch is large enough
    to pay for them: `workers` is a shared ZonalWorkers, or a number of processes started for
    this batch alone (None or 0: every CPU; 1: in this process). The numbers are the same
    either way: each polygon is measured alone."""
    measures = measures or Measures(band)
    shared = workers if isinstance(workers, ZonalWorkers) else None
    processes = shared.processes if shared else worker_count(workers)  # type: ignore[arg-type]
    runs = split_for_workers(len(geometries), processes)
    if len(runs) == 1:
        return _measure(str(path), measures, geometries)
    order = spatial_order(geometries)
    tasks = [(str(path), measures, [geometries[i] for i in order[run]]) for run in runs]
    if shared:
        in_order = shared.run(_measure, tasks)
    else:
        in_order = run_in_workers(_measure, tasks, len(runs))
    answers: list[dict] = [{}] * len(geometries)
    for position, answer in zip(order, in_order):
        answers[position] = answer
    return answers


def _measure(path: str, measures: Measures, geometries: list[BaseGeometry]) -> list[dict]:
    """One pass of exactextract over the polygons, in this process (a worker's share of a batch),
    named as Veta names them (std, not stdev; lists, not arrays, to travel back cheaply)."""
    features = [{"type": "Feature", "properties": {}, "geometry": mapping(g)} for g in geometries]
    with rasterio.open(path) as src:
        rows = exact_extract(
            _band_source(src, measures.band), features, measures.operations(), output="geojson"
        )
    answers = []
    for row in rows:
        properties = row["properties"]
        answer = {name: properties[op] for name, op in zip(CORE_NAMES, CORE_OPS)}
        for key, value in properties.items():
            if key not in CORE_OPS:
                answer[key] = value.tolist() if isinstance(value, np.ndarray) else value
        answers.append(answer)
    return answers


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
