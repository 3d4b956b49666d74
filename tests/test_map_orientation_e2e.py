"""What orients a user on the web map, in Debian's headless Chromium: place names from Veta's own
boundaries (label points checked against shapely), the cuadrícula from zoom 11 with its cell ids
(checked against the grid's arithmetic), and the basemap switcher: the offline default fetches
nothing from elsewhere, the online basemaps are marked so and load from their services, and a
copied address restores the basemap and the grid layer."""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import shapely
from rasterio.io import MemoryFile
from shapely import wkb
from shapely.geometry import shape
from sqlalchemy import text
from test_map_e2e import MapPage, browser, settle  # noqa: F401  (the browser fixture)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning"),
]

LABEL_LAYERS = ["labels-municipalities", "labels-provinces", "labels-regions"]
# The online basemaps: where their tiles come from, and the credit shown while one is on.
ONLINE = {
    "ign-base": ("https://www.ign.es/wmts/ign-base?", "IGN Base © Instituto Geográfico Nacional"),
    "pnoa": ("https://www.ign.es/wmts/pnoa-ma?", "PNOA © Instituto Geográfico Nacional"),
    "osm": ("https://tile.openstreetmap.org/", "© OpenStreetMap contributors"),
}
CELL = 20 / 3600  # a cuadrícula cell: 20″ of arc


@pytest.fixture(scope="module")
def map_page(browser, live_server):  # noqa: F811
    page = MapPage(browser, live_server)
    yield page
    page.page.close()


@pytest.fixture(scope="module")
def grey_tile() -> bytes:
    """No network here: an online service's tiles are answered with this grey PNG."""
    with MemoryFile() as f:
        with f.open(driver="PNG", width=256, height=256, count=3, dtype="uint8") as image:
            image.write(np.full((3, 256, 256), 200, dtype=np.uint8))
        return f.read()


def _serve_online_tiles(page, tile: bytes) -> list[str]:
    asked: list[str] = []

    def answer(route):
        asked.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=tile)

    page.route("https://www.ign.es/**", answer)
    page.route("https://tile.openstreetmap.org/**", answer)
    return asked


def _elsewhere(map_page: MapPage) -> list[str]:
    """The page's requests to anything but Veta (MapLibre's worker is a blob: of Veta's origin)."""
    return [
        u
        for u in map_page.requests
        if not (u.removeprefix("blob:").startswith(map_page.base_url) or u.startswith("data:"))
    ]


def _rendered(page, layer: str) -> list[dict]:
    return page.evaluate(
        f"window.vetaMap.queryRenderedFeatures({{layers: ['{layer}']}})"
        ".map(f => ({properties: f.properties, geometry: f.geometry}))"
    )


def _view(map_page: MapPage, lon: float, lat: float, zoom: float) -> None:
    map_page.page.evaluate(f"window.vetaMap.jumpTo({{center: [{lon}, {lat}], zoom: {zoom}}})")
    map_page.settle()


def test_label_points_lie_where_shapely_puts_the_largest_inscribed_circle(client, engine):
    labels = client.get("/map/labels")
    assert labels.status_code == 200
    assert labels.headers["content-type"].startswith("application/geo+json")
    features = {f["id"]: f for f in labels.json()["features"]}
    with engine.connect() as conn:
        areas = conn.execute(
            text("SELECT code, name, level, ST_AsBinary(geom) AS geom FROM admin_areas")
        ).all()
    assert set(features) == {a.code for a in areas}
    for area in areas:
        outline = wkb.loads(bytes(area.geom))
        feature = features[area.code]
        assert feature["properties"]["name"] == area.name
        assert feature["properties"]["level"] == area.level
        point = shape(feature["geometry"])
        assert outline.contains(point), area.name
        # The pole of inaccessibility: the point's distance to the outline is (to the two
        # algorithms' tolerances) the radius of shapely's largest inscribed circle.
        radius = shapely.maximum_inscribed_circle(outline, tolerance=1e-5).length
        assert shapely.distance(point, outline.boundary) == pytest.approx(radius, rel=0.05), (
            area.name
        )


def test_place_names_show_municipalities_from_zoom_9_and_provinces_below(map_page, engine):
    page = map_page.page
    with engine.connect() as conn:
        municipalities = {
            r.name: wkb.loads(bytes(r.geom))
            for r in conn.execute(
                text(
                    "SELECT name, ST_AsBinary(geom) AS geom FROM admin_areas "
                    "WHERE level = 'municipality'"
                )
            )
        }
        provinces = set(
            conn.execute(text("SELECT name FROM admin_areas WHERE level = 'province'")).scalars()
        )
    # Around the city of León at zoom 10: its municipalities are named, each inside its outline.
    _view(map_page, -5.57, 42.6, 10)
    shown = _rendered(page, "labels-municipalities")
    names = {f["properties"]["name"] for f in shown}
    assert len(names) >= 10 and "León" in names
    for feature in shown:
        assert municipalities[feature["properties"]["name"]].contains(shape(feature["geometry"]))
    # The whole province in view: the provinces are named, no municipality is.
    _view(map_page, -5.9, 42.6, 7.5)
    assert _rendered(page, "labels-municipalities") == []
    named = {f["properties"]["name"] for f in _rendered(page, "labels-provinces")}
    assert "León" in named and named <= provinces
    # The glyphs come from Veta itself, so the names draw offline.
    glyphs = [u for u in map_page.requests if "/glyphs/" in u]
    assert glyphs and all(
        u.startswith(f"{map_page.base_url}/static/vendor/glyphs/") for u in glyphs
    )
    assert _elsewhere(map_page) == []


def _cell_id(lon: float, lat: float) -> str:
    """The cuadrícula's id of the cell a point falls in: its south-west corner in 20″ units."""
    i, j = math.floor(lon / CELL), math.floor(lat / CELL)
    return f"{'W' if i < 0 else 'E'}{abs(i):05d}{'S' if j < 0 else 'N'}{abs(j):05d}"


def test_the_grid_shows_cell_ids_from_zoom_11_and_nothing_below(map_page):
    page = map_page.page
    page.check("#grid-layer")
    try:
        lon, lat = -5.5712, 42.6033
        _view(map_page, lon, lat, 11)
        labels = _rendered(page, "grid-labels")
        assert labels, "no cell id drawn at zoom 11"
        ids = [f["properties"]["id"] for f in labels]
        # Each id written once, at the centre of its cell (to the tile's quantisation).
        assert len(ids) == len(set(ids))
        for feature in labels:
            cell_id = feature["properties"]["id"]
            assert re.fullmatch(r"[EW]\d{5}[NS]\d{5}", cell_id)
            x, y = feature["geometry"]["coordinates"]
            assert _cell_id(x, y) == cell_id
            assert (x / CELL) % 1 == pytest.approx(0.5, abs=0.02)
            assert (y / CELL) % 1 == pytest.approx(0.5, abs=0.02)
        drawn = {f["properties"]["id"] for f in _rendered(page, "grid-lines")}
        assert _cell_id(lon, lat) in drawn
        _view(map_page, lon, lat, 10.8)
        assert _rendered(page, "grid-lines") == [] and _rendered(page, "grid-labels") == []
        assert _elsewhere(map_page) == []
    finally:
        page.uncheck("#grid-layer")


def test_the_switcher_lists_the_online_basemaps_marked_online_and_starts_offline(map_page):
    page = map_page.page
    options = page.evaluate(
        """() => [...document.querySelectorAll('input[name=basemap]')].map((radio) => ({
             value: radio.value, checked: radio.checked,
             online: Boolean(radio.closest('label').querySelector('.online')) }))"""
    )
    assert options == [
        {"value": "offline", "checked": True, "online": False},
        *({"value": name, "checked": False, "online": True} for name in ONLINE),
    ]
    assert "online" in page.inner_text("#basemaps label:has(input[value=pnoa])")
    for name in ONLINE:
        assert page.evaluate(
            f"window.vetaMap.getLayoutProperty('basemap-{name}', 'visibility')"
        ) == ("none")
    # Offline by default: nothing was asked of any other site, and no online credit shows.
    assert _elsewhere(map_page) == []
    attribution = page.inner_text(".maplibregl-ctrl-attrib")
    assert all(credit not in attribution for _, credit in ONLINE.values())


@pytest.mark.parametrize("name", list(ONLINE))
def test_an_online_basemap_loads_from_its_service_with_its_credit(map_page, grey_tile, name):
    page = map_page.page
    asked = _serve_online_tiles(page, grey_tile)
    try:
        page.check(f"input[name=basemap][value={name}]")
        map_page.settle()
        prefix, credit = ONLINE[name]
        assert asked and all(u.startswith(prefix) for u in asked)
        if prefix.startswith("https://www.ign.es"):
            query = parse_qs(urlsplit(asked[0]).query)
            assert query["TILEMATRIXSET"] == ["GoogleMapsCompatible"]
            assert query["REQUEST"] == ["GetTile"]
        assert credit in page.inner_text(".maplibregl-ctrl-attrib")
        assert parse_qs(urlsplit(page.url).query)["basemap"] == [name]
    finally:
        page.check("input[name=basemap][value=offline]")
        page.unroute("https://www.ign.es/**")
        page.unroute("https://tile.openstreetmap.org/**")
    assert "basemap" not in parse_qs(urlsplit(page.url).query)


def test_the_address_restores_the_basemap_and_the_grid(browser, live_server, grey_tile):  # noqa: F811
    first = MapPage(browser, live_server)
    asked = _serve_online_tiles(first.page, grey_tile)
    first.page.check("input[name=basemap][value=pnoa]")
    first.page.check("#grid-layer")
    first.page.evaluate("window.vetaMap.jumpTo({center: [-6.6, 42.55], zoom: 11.5})")
    first.settle()
    first.page.wait_for_function("() => location.hash.includes('11.5')")
    shared = first.page.url
    first.page.close()
    assert asked
    query = parse_qs(urlsplit(shared).query)
    assert query["basemap"] == ["pnoa"] and "grid-lines" in query["layers"][0].split(",")

    second = browser.new_page(viewport={"width": 1024, "height": 700})
    second.set_default_timeout(90_000)
    again = _serve_online_tiles(second, grey_tile)
    try:
        second.goto(shared)
        second.wait_for_function("() => window.vetaMap && window.vetaMap.loaded()")
        second.wait_for_function(
            "() => document.querySelector('input[name=basemap][value=pnoa]').checked"
        )
        assert second.evaluate(
            "['basemap-pnoa', 'grid-lines', 'grid-labels', 'basemap-osm']"
            ".map((id) => window.vetaMap.getLayoutProperty(id, 'visibility'))"
        ) == ["visible", "visible", "visible", "none"]
        assert second.is_checked("#grid-layer")
        settle(second)
        assert again and all(u.startswith(ONLINE["pnoa"][0]) for u in again)
        assert (
            second.evaluate(
                "window.vetaMap.queryRenderedFeatures({layers: ['grid-labels']}).length"
            )
            > 0
        )
    finally:
        second.close()
