"""The API definition's shared parameters: every route that takes an admin area, or a box in
longitude and latitude, says how to give it in the same words, and then what it does with it."""

from __future__ import annotations

from api.app import create_app
from api.params import AREA_NAMING, LONLAT_BBOX
from geo.core.settings import Settings

API = create_app(Settings()).openapi()


def _descriptions(name: str) -> dict[str, str]:
    """The description of the query parameter `name` of every GET operation that takes it."""
    return {
        path: parameter["description"]
        for path, operations in API["paths"].items()
        for parameter in operations.get("get", {}).get("parameters", [])
        if parameter["name"] == name and parameter["in"] == "query"
    }


def test_every_admin_area_parameter_names_the_area_alike():
    areas = _descriptions("area")
    # The web map's `area` is its page's saved filter (an INE code the page writes), not a
    # parameter of a query.
    assert areas.pop("/map") == "INE code of the area filter."
    assert set(areas) == {
        "/collections/{collectionId}/items",
        "/collections/{collection_id}/tiles/WebMercatorQuad/tilejson.json",
        "/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}",
        "/constraints.tif",
        "/deposits",
        "/downloads/{layer}",
        "/grid/free",
        "/permits",
        "/screening/deposits",
    }
    assert AREA_NAMING.startswith("Admin area by INE code (24, 24089) or name")
    # ... and then each says what the route does with the area.
    for path, description in areas.items():
        assert description.startswith(AREA_NAMING + "; "), path
    assert areas["/permits"].endswith("the rights sharing ground with it.")
    assert areas["/constraints.tif"].endswith("cells outside it are nodata.")


def test_every_lonlat_bbox_parameter_gives_its_axes_alike():
    boxes = _descriptions("bbox")
    # The OGC items and the constraint map take a box in another CRS, said as such.
    assert "bbox-crs" in boxes.pop("/collections/{collectionId}/items")
    assert "`crs`" in boxes.pop("/constraints.tif")
    assert set(boxes) == {"/deposits", "/permits", "/grid/cells", "/grid/free"}
    assert LONLAT_BBOX == "minLon,minLat,maxLon,maxLat (CRS84)"
    for path, description in boxes.items():
        assert description.startswith(LONLAT_BBOX), path
