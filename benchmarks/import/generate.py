"""Synthetic inputs over León for the import benchmarks: deposit points as a GeoPackage, the same
records as a CSV of x/y columns, and detailed protection zones (polygons) as a GeoPackage; all
in EPSG:25830, seeded, so that every run and every tool reads the same bytes."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

COMMODITIES = np.array(["W", "Au", "Sn;W", "Li", "coal", "Cu;Co;Ni", "graphite", "Sb"])
KINDS = np.array(["occurrence", "prospect", "mineralDeposit"])
SCHEMES = np.array(["natura2000", "regionalNaturalSpaces", "mineralSafeguarding", "other"])
EFFECTS = np.array(["exclusion", "conditional", "safeguarding", "informative"])
# León's box in lon/lat (ETRS89), where every generated position lies.
LEON = (-7.0, 42.0, -4.8, 43.2)


def _positions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """N positions over León in EPSG:25830 metres."""
    west, south, east, north = LEON
    lon, lat = rng.uniform(west, east, n), rng.uniform(south, north, n)
    x, y = Transformer.from_crs(4258, 25830, always_xy=True).transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def deposits(n: int, seed: int = 6) -> gpd.GeoDataFrame:
    """N deposit points with Veta's field names; the commodities as a file would write them."""
    rng = np.random.default_rng(seed)
    x, y = _positions(rng, n)
    return gpd.GeoDataFrame(
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


def generate(n: int, path: Path, seed: int = 6) -> Path:
    """The deposit points as a GeoPackage (layer `deposits`)."""
    deposits(n, seed).to_file(path, layer="deposits", engine="pyogrio")
    return path


# The CSV's own column names (a source's, not Veta's): a mapping or ogr2ogr's SQL renames them.
CSV_COLUMNS = {
    "source_id": "record_id",
    "name": "site_name",
    "commodities": "commodity_list",
    "occurrence_type": "kind",
    "location_precision": "precision",
    "depth_top_m": "top_m",
    "depth_bottom_m": "bottom_m",
    "remarks": "notes",
}


def generate_csv(n: int, path: Path, seed: int = 6) -> Path:
    """The same records as a CSV with x/y columns in EPSG:25830 (metres, two decimals)."""
    frame = deposits(n, seed)
    table = frame.drop(columns="geometry").rename(columns=CSV_COLUMNS)
    table["x"], table["y"] = frame.geometry.x.round(2), frame.geometry.y.round(2)
    table.to_csv(path, index=False)
    return path


def zone_outlines(rng: np.random.Generator, n: int, vertices: tuple[int, int]) -> np.ndarray:
    """N star-shaped polygons (radius a smooth function of the angle, so never self-crossing),
    a few hundred metres to a few kilometres across, each of `vertices` (low, high) corners."""
    x, y = _positions(rng, n)
    shapes = np.empty(n, dtype=object)
    for i in range(n):
        k = int(rng.integers(*vertices))
        angle = np.linspace(0, 2 * np.pi, k, endpoint=False)
        radius = rng.uniform(300, 3000) * (
            1 + sum(0.25 / f * np.sin(f * angle + rng.uniform(0, 6.3)) for f in (2, 5, 11, 23))
        )
        radius *= rng.uniform(0.97, 1.03, k)  # a ragged edge, as surveyed boundaries are
        shapes[i] = shapely.Polygon(
            np.column_stack((x[i] + radius * np.cos(angle), y[i] + radius * np.sin(angle)))
        )
    return shapes


def generate_zones(
    n: int, path: Path, seed: int = 7, vertices: tuple[int, int] = (300, 700)
) -> Path:
    """N detailed protection zones as a GeoPackage (layer `protection_zones`, Veta's names)."""
    rng = np.random.default_rng(seed)
    shapes = zone_outlines(rng, n, vertices)
    frame = gpd.GeoDataFrame(
        {
            "source_id": [f"z{i:06d}" for i in range(n)],
            "name": [f"Synthetic zone {i}" for i in range(n)],
            "designation_scheme": SCHEMES[rng.integers(0, len(SCHEMES), n)],
            "designation": "synthetic designation",
            "legal_effect": EFFECTS[rng.integers(0, len(EFFECTS), n)],
            "legal_basis": "Ley 42/2007",
            "valid_from": "2020-01-01",
            "remarks": "synthetic benchmark zone",
        },
        geometry=shapes,
        crs="EPSG:25830",
    )
    frame.to_file(path, layer="protection_zones", engine="pyogrio")
    return path


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(
        generate(n, Path(sys.argv[2]) if len(sys.argv) > 2 else Path(f"/tmp/veta_bench_{n}.gpkg"))
    )
