"""Files the import tests write: deposit points and star-shaped protection zones over León as
GeoDataFrames, and a GeoPackage of deposits."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
from pyproj import Transformer
from shapely.geometry import Point, Polygon


def deposit_points(n: int, prefix: str, name: str, epsg: int = 4326, seed: int = 3):
    """n valid deposits (ids prefix0, prefix1, …; names "name 0", …) at random lon/lat over
    León, written in the given CRS."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(-6.9, -4.9, n), rng.uniform(42.1, 43.1, n)
    x, y = (
        (lon, lat)
        if epsg == 4326
        else Transformer.from_crs(4258, epsg, always_xy=True).transform(lon, lat)
    )
    return gpd.GeoDataFrame(
        {
            "source_id": [f"{prefix}{i}" for i in range(n)],
            "name": [f"{name} {i}" for i in range(n)],
            "commodities": "W",
            "occurrence_type": "occurrence",
            "location_precision": "approximate",
        },
        geometry=[Point(a, b) for a, b in zip(x, y, strict=True)],
        crs=f"EPSG:{epsg}",
    )


def geopackage(path: Path, frame: gpd.GeoDataFrame) -> Path:
    """The frame as the `deposits` layer of a GeoPackage at path."""
    frame.to_file(path, layer="deposits", engine="pyogrio")
    return path


def star_zones(n: int, prefix: str, vertices: tuple[int, int], seed: int, epsg: int = 25830):
    """n star-shaped protection zones (ids prefix00000, …) over León, 300 m to 3 km across, with
    vertices[0] to vertices[1] vertices each, drawn counter-clockwise in EPSG:25830 (the
    orientation Veta stores, which ogr2ogr keeps as it finds it), in the CRS asked for."""
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(-6.9, -4.9, n), rng.uniform(42.1, 43.1, n)
    x, y = Transformer.from_crs(4258, 25830, always_xy=True).transform(lon, lat)
    shapes = []
    for i in range(n):
        angle = np.linspace(0, 2 * np.pi, int(rng.integers(*vertices)), endpoint=False)
        radius = rng.uniform(300, 3000) * (1 + 0.25 * np.sin(5 * angle + rng.uniform(0, 6.3)))
        shapes.append(
            Polygon(np.column_stack((x[i] + radius * np.cos(angle), y[i] + radius * np.sin(angle))))
        )
    frame = gpd.GeoDataFrame(
        {
            "source_id": [f"{prefix}{i:05d}" for i in range(n)],
            "name": [f"Zone {i}" for i in range(n)],
            "designation_scheme": "other",
            "designation": "test designation",
            "legal_effect": "informative",
        },
        geometry=shapes,
        crs="EPSG:25830",
    )
    return frame if epsg == 25830 else frame.to_crs(epsg)
