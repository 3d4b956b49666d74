"""The outline of Spain (land plus 12 nautical miles of territorial sea) for "is this in Spain?" checks.

Built from the autonomous regions shipped in sample_data/boundaries (IGN via es-atlas 0.6.0,
CC BY 4.0), each piece of land grown by the territorial sea in its own azimuthal equidistant
projection so the 12 nm are metres on the ground from the Pyrenees to the Canaries. The result
is stored in geo/queries/data/spain_outline.geojson; `python -m geo.queries.spain` rebuilds it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import orjson
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from geo.core.settings import PROJECT_ROOT

TERRITORIAL_SEA_M = 12 * 1852.0
OUTLINE_FILE = Path(__file__).parent / "data" / "spain_outline.geojson"
REGIONS_FILE = PROJECT_ROOT / "sample_data" / "boundaries" / "spain_autonomous_regions.geojson"
# Simplification of the stored outline, in metres: far below the 22 km of sea it adds.
TOLERANCE_M = 200.0
ATTRIBUTION = (
    "Outline of Spain with 12 nm of territorial sea, derived from es-atlas 0.6.0 "
    "(© Instituto Geográfico Nacional de España, CC BY 4.0)"
)


def _in_local_metres(geometry: BaseGeometry, operation) -> BaseGeometry:
    """Apply `operation` to the geometry in an azimuthal equidistant projection centred on it."""
    c = geometry.centroid
    local = CRS.from_proj4(f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +ellps=GRS80 +units=m")
    there = Transformer.from_crs(4326, local, always_xy=True)
    back = Transformer.from_crs(local, 4326, always_xy=True)
    projected = shapely.transform(
        geometry, lambda xy: np.column_stack(there.transform(xy[:, 0], xy[:, 1]))
    )
    done = operation(projected)
    return shapely.transform(done, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))


def build_outline(regions_geojson: bytes) -> BaseGeometry:
    """Land (every region) grown by the territorial sea, as one lon/lat (multi)polygon."""
    features = orjson.loads(regions_geojson)["features"]
    land = shapely.union_all([shape(f["geometry"]) for f in features])
    # Each island and the mainland in a projection centred on it: within a few hundred km of
    # the centre an azimuthal equidistant projection keeps distances to a fraction of a percent.
    grown = [
        _in_local_metres(
            part, lambda g: g.buffer(TERRITORIAL_SEA_M, quad_segs=8).simplify(TOLERANCE_M)
        )
        for part in shapely.get_parts(land)
    ]
    return shapely.make_valid(shapely.union_all(grown))


@lru_cache
def outline() -> BaseGeometry:
    """The stored outline, prepared for fast point-in-polygon tests."""
    geometry = shape(orjson.loads(OUTLINE_FILE.read_bytes())["features"][0]["geometry"])
    shapely.prepare(geometry)
    return geometry


def within_spain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which lon/lat positions lie on Spanish land or territorial sea."""
    return shapely.contains_xy(outline(), x, y)


def touches_spain(geometries: np.ndarray) -> np.ndarray:
    """Which geometries reach Spanish land or territorial sea."""
    return shapely.intersects(outline(), geometries)


def main() -> None:
    geometry = build_outline(REGIONS_FILE.read_bytes())
    OUTLINE_FILE.parent.mkdir(exist_ok=True)
    OUTLINE_FILE.write_bytes(
        orjson.dumps(
            {
                "type": "FeatureCollection",
                "attribution": ATTRIBUTION,
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "Spain, land and territorial sea"},
                        "geometry": mapping(shapely.set_precision(geometry, 1e-5)),
                    }
                ],
            }
        )
    )


if __name__ == "__main__":
    main()
