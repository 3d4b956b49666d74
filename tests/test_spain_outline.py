"""The outline of Spain used by the import's region check: land plus 12 nautical miles, checked
against distances to the shipped boundaries measured independently in a projection centred on
each test point."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.geometry import Point, shape

from geo.core.settings import PROJECT_ROOT
from geo.queries import spain

GEOD = Geod(ellps="GRS80")
REGIONS = PROJECT_ROOT / "sample_data" / "boundaries" / "spain_autonomous_regions.geojson"
SEA_M = 12 * 1852


@pytest.fixture(scope="module")
def land():
    features = json.loads(REGIONS.read_text())["features"]
    return shapely.union_all([shape(f["geometry"]) for f in features])


def distance_to_land_m(land, lon: float, lat: float) -> float:
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=GRS80 +units=m")
    to_local = Transformer.from_crs(4326, local, always_xy=True)
    nearby = land.intersection(shapely.box(lon - 1, lat - 1, lon + 1, lat + 1))
    projected = shapely.transform(
        nearby, lambda xy: np.column_stack(to_local.transform(xy[:, 0], xy[:, 1]))
    )
    return projected.distance(Point(0, 0))


@pytest.mark.parametrize(
    "name, lon, lat, azimuth",
    [
        ("Finisterre", -9.27, 42.88, 270),
        ("Cabo de Gata", -2.19, 36.72, 180),
        ("Mallorca", 2.35, 39.57, 225),
        ("Tenerife", -16.92, 28.36, 270),
        ("Cantabria", -3.80, 43.47, 0),
        ("Ceuta", -5.31, 35.90, 90),
    ],
)
def test_the_territorial_sea_reaches_12_nautical_miles_offshore(land, name, lon, lat, azimuth):
    for step_m in range(2_000, 40_001, 2_000):
        x, y, _ = GEOD.fwd(lon, lat, azimuth, step_m)
        distance = distance_to_land_m(land, x, y)
        if abs(distance - SEA_M) < 500:  # the stored outline is simplified to 200 m
            continue
        inside = bool(spain.within_spain(np.array([x]), np.array([y]))[0])
        assert inside == (distance < SEA_M), (name, step_m, distance)


@pytest.mark.parametrize(
    "name, lon, lat, inside",
    [
        ("León", -5.57, 42.60, True),
        ("Melilla", -2.94, 35.29, True),
        ("El Hierro", -18.0, 27.75, True),
        ("Lisboa", -9.14, 38.72, False),
        ("Porto", -8.61, 41.15, False),
        ("Toulouse", 1.44, 43.60, False),
        ("Rabat", -6.84, 34.02, False),
    ],
)
def test_places_in_and_out_of_spain(name, lon, lat, inside):
    assert bool(spain.within_spain(np.array([lon]), np.array([lat]))[0]) is inside
