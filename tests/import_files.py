"""Files the import tests write: deposit points over León as a GeoDataFrame, and a GeoPackage
of them."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
from pyproj import Transformer
from shapely.geometry import Point


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
