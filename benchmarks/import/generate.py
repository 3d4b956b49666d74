"""Generate N synthetic deposit points over León as a GeoPackage (EPSG:25830), for the benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
from pyproj import Transformer

COMMODITIES = np.array(["W", "Au", "Sn;W", "Li", "coal", "Cu;Co;Ni", "graphite", "Sb"])
KINDS = np.array(["occurrence", "prospect", "mineralDeposit"])


def generate(n: int, path: Path, seed: int = 6) -> Path:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-7.0, -4.8, n)
    lat = rng.uniform(42.0, 43.2, n)
    x, y = Transformer.from_crs(4258, 25830, always_xy=True).transform(lon, lat)
    frame = gpd.GeoDataFrame(
        {
            "source_id": [f"b{i:07d}" for i in range(n)],
            "name": [f"Synthetic deposit {i}" for i in range(n)],
            "commodities": COMMODITIES[rng.integers(0, len(COMMODITIES), n)],
            "occurrence_type": KINDS[rng.integers(0, len(KINDS), n)],
            "location_precision": "approximate",
            "depth_top_m": rng.uniform(0, 100, n).round(1),
            "depth_bottom_m": rng.uniform(150, 900, n).round(1),
            "remarks": "synthetic benchmark record",
        },
        geometry=gpd.points_from_xy(x, y),
        crs="EPSG:25830",
    )
    frame.to_file(path, layer="deposits", engine="pyogrio")
    return path


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(
        generate(n, Path(sys.argv[2]) if len(sys.argv) > 2 else Path(f"/tmp/veta_bench_{n}.gpkg"))
    )
