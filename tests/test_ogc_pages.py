"""The OGC API's HTML pages read as finished pages: features titled by name, yes/no rather than
True/False, hectares with two decimals, a link to the map, and no page wider than a 1280 px
window (checked in the headless Chromium the map's test uses; a printed report no wider than its
A4 page), a map of the features from Veta's own tiles, and the API pages (Swagger UI, ReDoc) offline."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest
from playwright.sync_api import sync_playwright
from test_map_e2e import CHROMIUM, CHROMIUM_ARGS, settle

HTML = {"Accept": "text/html"}


def _cells(page: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", page, flags=re.S)


def test_an_item_page_is_titled_by_name_and_shows_yes_no(client):
    feature = client.get("/collections/deposits/items", params={"limit": 1}).json()["features"][0]
    page = client.get(f"/collections/deposits/items/{feature['id']}", headers=HTML).text
    name = feature["properties"]["name"]
    assert f"<h1>{name} ({feature['id']})</h1>" in page
    assert f"<title>{name} ({feature['id']}) · Mineral deposits · Veta</title>" in page
    cells = _cells(page)
    assert "True" not in cells and "False" not in cells
    assert ("yes" if feature["properties"]["critical_raw_material"] else "no") in cells


def test_items_pages_show_human_values(client):
    page = client.get(
        "/collections/deposit_screening/items", params={"limit": 50}, headers=HTML
    ).text
    cells = _cells(page)
    assert cells and "True" not in cells and "False" not in cells and "None" not in cells
    permits = client.get("/collections/permits/items", params={"limit": 5}).json()["features"]
    page = client.get("/collections/permits/items", params={"limit": 5}, headers=HTML).text
    for permit in permits:
        assert f"{permit['properties']['area_ha']:,.2f}" in page


def test_the_landing_page_links_to_the_map(client):
    page = client.get("/", headers=HTML).text
    assert 'href="http://testserver/map"' in page


def _kept_reports(live_server) -> list[str]:
    """Paths of a kept screening report (a drawn polygon with many corners) and a plan impact."""
    ring = [
        [-5.60 + 0.05 * x, 42.62 + 0.04 * y]
        for x, y in [
            (0, 0),
            (0.2, 0),
            (0.4, 0.1),
            (0.6, 0),
            (0.8, 0),
            (1, 0),
            (1, 0.5),
            (1, 1),
            (0.5, 1.1),
            (0, 1),
            (0, 0),
        ]
    ]
    plan = {
        "type": "Feature",
        "properties": {"land_use": "energy", "legal_effect": "exclusion"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[-6.80, 42.45], [-6.74, 42.45], [-6.74, 42.49], [-6.80, 42.49], [-6.80, 42.45]]
            ],
        },
    }
    screening = httpx.post(
        live_server + "/screening", json={"type": "Polygon", "coordinates": [ring]}, timeout=60
    )
    impact = httpx.post(live_server + "/planning/impact", json=plan, timeout=60)
    return [r.headers["Location"].removeprefix(live_server) for r in (screening, impact)]


def test_every_page_names_its_icon_so_no_browser_asks_for_a_missing_one(client):
    # Without one, browsers ask for /favicon.ico: a 404 in every visitor's console and log.
    for path in (
        "/?f=html",
        "/collections?f=html",
        "/collections/deposits/items?f=html&limit=2",
        "/collections/deposits/items/1?f=html",
        "/map",
    ):
        page = client.get(path)
        assert page.status_code == 200 and '<link rel="icon" href="data:,">' in page.text, path


@pytest.mark.e2e
def test_no_page_is_wider_than_a_1280_px_window_nor_a_printed_report_wider_than_its_page(
    live_server,
):
    paths = [
        "/?f=html",
        "/collections?f=html",
        "/collections/deposit_screening?f=html",
        "/collections/deposit_screening/items?f=html&limit=100",
        "/collections/permits/items?f=html&limit=100",
        "/collections/deposit_screening/items/1?f=html",
        "/conformance?f=html",
    ]
    reports = _kept_reports(live_server)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            # Nothing a page asks for is missing (a browser asks for /favicon.ico unless told).
            failed = []
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
            for path in paths + reports:
                response = page.goto(live_server + path)
                assert response.status == 200, path
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 1280, (path, width)
            assert failed == []
            # What the PDF prints: the page in print media at A4's width less its 14 mm margins
            # (182 mm, 688 CSS px).
            printed = browser.new_page(viewport={"width": 688, "height": 1000})
            printed.emulate_media(media="print")
            for path in reports:
                printed.goto(live_server + path)
                width = printed.evaluate("document.documentElement.scrollWidth")
                assert width <= 688, (path, width)
        finally:
            browser.close()


# For each cell of a page's tables: its widest word (a hyphen may end one) and its inner width.
_WORDS_AND_CELLS = """() => {
  const measure = document.createElement("canvas").getContext("2d");
  return [...document.querySelectorAll("tbody td")].map((cell) => {
    const style = getComputedStyle(cell);
    measure.font = style.font;
    const words = cell.textContent.trim().split(/\\s+|(?<=-)/).map((w) => measure.measureText(w).width);
    const inside = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return [cell.textContent.trim(), Math.max(0, ...words), inside];
  });
}"""


@pytest.mark.e2e
def test_table_cells_break_no_word_that_fits_a_cell(live_server):
    # A column could shrink below its words ("Peña del Seo (Cada|fresn|as, …)") while wider
    # ones kept their room; words up to a cell's widest (24rem) stay whole, the table scrolls.
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            for path in (
                "/collections/deposits/items?f=html&limit=100",
                "/collections/permits/items?f=html&limit=100",
                "/collections/deposits/items/1?f=html",
            ):
                assert page.goto(live_server + path).status == 200, path
                cells = page.evaluate(_WORDS_AND_CELLS)
                assert len(cells) > 10, path
                broken = [
                    text for text, word, inside in cells if word <= 24 * 16 and word > inside + 1
                ]
                assert broken == [], path
        finally:
            browser.close()


def test_the_api_page_loads_nothing_from_other_sites(client):
    page = client.get("/api.html").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(
        s.startswith(("/static/swagger-ui/", "/static/docs/")) for s in sources
    ), sources
    for source in sources:
        assert client.get(source).status_code == 200, source


@pytest.mark.e2e
def test_the_api_page_works_offline(live_server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            blocked = []

            def only_veta(route):
                if route.request.url.startswith(live_server):
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()

            page.route("**/*", only_veta)
            page.goto(live_server + "/api.html")
            page.wait_for_selector(".opblock", timeout=60_000)
            assert page.locator(".opblock").count() > 20 and not blocked
        finally:
            browser.close()


@pytest.mark.e2e
def test_an_item_page_maps_its_feature_from_vetas_tiles(live_server, client):
    feature = client.get("/collections/deposits/items", params={"limit": 1}).json()["features"][0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 700})
            page.set_default_timeout(90_000)
            tiles = []
            page.on(
                "request",
                lambda r: tiles.append(r.url) if "/tiles/WebMercatorQuad/" in r.url else None,
            )
            page.goto(f"{live_server}/collections/deposits/items/{feature['id']}?f=html")
            page.wait_for_function("() => window.vetaPageMap && window.vetaPageMap.loaded()")
            settle(page, "vetaPageMap")
            shown = page.evaluate("window.vetaPageMap.queryRenderedFeatures().map((f) => f.id)")
            assert feature["id"] in shown
            assert tiles and all(
                t.startswith(f"{live_server}/collections/deposits/tiles/") for t in tiles
            )
        finally:
            browser.close()


def test_collection_and_items_pages_carry_a_map_fitted_to_their_features(client):
    extent = client.get("/collections/permits").json()["extent"]["spatial"]["bbox"][0]
    page = client.get("/collections/permits", headers=HTML).text
    bounds = json.loads(html.unescape(re.search(r'data-bounds="([^"]*)"', page).group(1)))
    assert bounds == [extent[:2], extent[2:]]
    features = client.get("/collections/permits/items", params={"limit": 5}).json()["features"]
    page = client.get("/collections/permits/items", params={"limit": 5}, headers=HTML).text
    bounds = json.loads(html.unescape(re.search(r'data-bounds="([^"]*)"', page).group(1)))
    xs = [
        x
        for f in features
        for ring in f["geometry"]["coordinates"]
        for part in ring
        for x, _ in part
    ]
    assert bounds[0][0] == pytest.approx(min(xs)) and bounds[1][0] == pytest.approx(max(xs))
    assert "/collections/permits/tiles/WebMercatorQuad/{z}/{x}/{y}" in page


def test_the_redoc_page_loads_nothing_from_other_sites(client):
    page = client.get("/redoc.html").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/static/vendor/redoc/redoc.standalone.js" in sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
    assert client.get("/static/vendor/redoc/redoc.standalone.js").status_code == 200
    landing = client.get("/").json()
    assert any(
        link["href"].endswith("/redoc.html") and link["rel"] == "service-doc"
        for link in landing["links"]
    )


@pytest.mark.e2e
def test_the_redoc_page_works_offline(live_server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            blocked = []

            def only_veta(route):
                if route.request.url.startswith(live_server):
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()

            page.route("**/*", only_veta)
            page.goto(live_server + "/redoc.html")
            # ReDoc draws one menu entry per operation once it has read the API definition.
            page.wait_for_selector("[data-item-id^='tag/']", timeout=90_000)
            assert page.locator("[data-item-id*='operation/']").count() > 20 and not blocked
        finally:
            browser.close()
