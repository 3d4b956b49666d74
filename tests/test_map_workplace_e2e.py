"""The map as a workplace: the search box finds a municipality and a right and takes the map
there; the readout under the pointer gives lon/lat and ETRS89 / UTM as pyproj computes them."""

from __future__ import annotations

import re

import pytest
from pyproj import Transformer
from sqlalchemy import text
from test_map_e2e import MapPage, browser  # noqa: F401  (the browser fixture)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def map_page(browser, live_server):  # noqa: F811
    page = MapPage(browser, live_server)
    yield page
    page.page.close()


def _centre(map_page) -> tuple[float, float]:
    return tuple(map_page.page.evaluate("() => window.vetaMap.getCenter().toArray()"))


@pytest.mark.parametrize("kind", ["area", "permit"])
def test_the_search_box_takes_the_map_to_what_it_finds(map_page, engine, kind):
    with engine.connect() as conn:
        typed, bounds = conn.execute(
            text(
                "SELECT name, ARRAY[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)] "
                "FROM admin_areas WHERE name = 'Ponferrada'"
                if kind == "area"
                else "SELECT registry_number, ARRAY[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), "
                "ST_YMax(geom)] FROM permits ORDER BY id DESC LIMIT 1"
            )
        ).one()
    page = map_page.page
    page.fill("#search", typed)
    # The first result is the one typed (not a list left from an earlier search).
    first = page.locator("#search-results li:first-child button")
    first.filter(has_text=typed).wait_for()
    first.click()
    page.wait_for_function("() => !window.vetaMap.isMoving()")
    map_page.settle()
    lon, lat = _centre(map_page)
    assert bounds[0] <= lon <= bounds[2] and bounds[1] <= lat <= bounds[3]


def test_the_readout_agrees_with_pyproj(map_page):
    page = map_page.page
    box = page.locator("#map").bounding_box()
    x, y = box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4
    page.mouse.move(x, y)
    page.wait_for_function(
        "() => document.querySelector('#coordinates').textContent.includes('UTM')"
    )
    shown = page.inner_text("#coordinates")
    lat, lon, zone, easting, northing = re.match(
        r"(-?[\d.]+), (-?[\d.]+) · ETRS89 UTM (\d+)N (\d+) E (\d+) N", shown
    ).groups()
    expected_zone = 29 if float(lon) < -6 else 30
    assert int(zone) == expected_zone
    e, n = Transformer.from_crs(4258, 25800 + expected_zone, always_xy=True).transform(
        float(lon), float(lat)
    )
    # The readout's lon/lat are rounded to 5 decimals (about a metre): compare the projection of
    # the exact position through the page's own function too.
    assert abs(int(easting) - e) < 2 and abs(int(northing) - n) < 2
    exact = page.evaluate("([lon, lat]) => window.vetaUtm(lon, lat)", [float(lon), float(lat)])
    assert abs(exact["easting"] - e) < 0.01 and abs(exact["northing"] - n) < 0.01
