"""The sample raster: a density surface of the León sample's tungsten and lithium occurrences.

Synthetic-derived and described so: a Gaussian kernel (5 km standard deviation) over the
occurrences of sample_data/deposits.geojson (literature positions and synthetic deposits
alike), in occurrences per km², on a 1 km grid in EPSG:25830 over the province, nodata outside
it. Built from the shipped files, so the same on every machine.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from rasterio.features import geometry_mask
from rasterio.transform import from_origin
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.core.settings import PROJECT_ROOT, Settings
from geo.rasters.storage import register

NAME = "sample-w-li-density"
FILE_NAME = f"{NAME}.tif"
COMMODITIES = ("tungsten", "lithium")
SIGMA_M = 5_000.0
CELL_M = 1_000.0
NODATA = -1.0
SAMPLE_DATA = PROJECT_ROOT / "sample_data"
DESCRIPTION = (
    "Synthetic-derived: kernel density (Gaussian, 5 km standard deviation) of the tungsten and "
    "lithium occurrences in Veta's León sample data (literature positions and synthetic deposits), "
    "in occurrences per km², 1 km cells. For trying rasters out; not a prospectivity model."
)


def occurrences_utm() -> np.ndarray:
    """(x, y) in EPSG:25830 of every sample deposit with tungsten or lithium among its commodities."""
    features = json.loads((SAMPLE_DATA / "deposits.geojson").read_text(encoding="utf-8"))[
        "features"
    ]
    points = [
        shape(f["geometry"]).centroid
        for f in features
        if set(f["properties"]["commodities"]) & set(COMMODITIES)
    ]
    to_utm = Transformer.from_crs(4326, 25830, always_xy=True)
    return np.column_stack(to_utm.transform([p.x for p in points], [p.y for p in points]))


def province_utm():
    feature = json.loads(
        (SAMPLE_DATA / "boundaries" / "leon_province.geojson").read_text(encoding="utf-8")
    )["features"][0]
    to_utm = Transformer.from_crs(4326, 25830, always_xy=True)
    return shapely.transform(
        shape(feature["geometry"]), lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1]))
    )


def density(xs: np.ndarray, ys: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Gaussian kernel density at (xs, ys), occurrences per km²."""
    total = np.zeros(np.broadcast(xs, ys).shape)
    for x, y in points:
        total += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * SIGMA_M**2))
    return total / (2 * np.pi * SIGMA_M**2) * 1e6


def write_sample_raster(path: Path) -> None:
    province = province_utm()
    west, south, east, north = (np.floor(np.array(province.bounds) / CELL_M) * CELL_M) + [
        0,
        0,
        CELL_M,
        CELL_M,
    ]
    cols, rows = int((east - west) / CELL_M), int((north - south) / CELL_M)
    transform = from_origin(west, north, CELL_M, CELL_M)
    xs = west + (np.arange(cols) + 0.5) * CELL_M
    ys = north - (np.arange(rows) + 0.5) * CELL_M
    values = density(xs[np.newaxis, :], ys[:, np.newaxis], occurrences_utm()).astype("float32")
    outside = geometry_mask([province], out_shape=(rows, cols), transform=transform)
    values[outside] = NODATA
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=cols,
        height=rows,
        count=1,
        dtype="float32",
        crs="EPSG:25830",
        transform=transform,
        nodata=NODATA,
    ) as dst:
        dst.write(values, 1)


def load_sample_raster(engine: Engine, settings: Settings) -> bool:
    """Register the sample raster unless it is; True when it was registered now."""
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM rasters WHERE name = :n"), {"n": NAME}).first():
            return False
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "density.tif"
        write_sample_raster(path)
        register(
            engine,
            settings,
            path,
            NAME,
            title="Tungsten and lithium occurrence density (synthetic-derived)",
            units="occurrences/km²",
            description=DESCRIPTION,
            source="Veta León sample data (derived)",
            licence="CC0 1.0 (Veta sample data)",
            file_name=FILE_NAME,
        )
    return True
