"""The web map in Debian's headless Chromium against a running Veta: it loads cleanly, draws its
layers, filters, pops up, and screens a drawn polygon. Expected answers come from the database
through shapely, not from the page."""

from __future__ import annotations

import csv
from collections import Counter

import morecantile
import numpy as np
import oracle
import pytest
import shapely
from playwright.sync_api import sync_playwright
from pypdf import PdfReader
from rasterio.io import MemoryFile
from shapely import wkb
from sqlalchemy import text

from geo.core.settings import PROJECT_ROOT

pytestmark = [
    pytest.mark.e2e,
    # Screenshots are read as plain PNG rasters: no georeferencing is expected.
    pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning"),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEPOSIT_LAYERS = "['deposits-points', 'deposits-polygons']"
# From this zoom the map draws the deposits one by one; below it, their clusters.
DEPOSITS_FROM = 10
TMS = morecantile.tms.get("WebMercatorQuad")

# Resolves once the map has drawn everything it is going to draw (tiles loaded, no transition).
SETTLE = """([name, limitMs]) => new Promise((resolve, reject) => {
  const map = window[name];
  const late = setTimeout(
    () => reject(new Error(`the map did not become idle within ${limitMs} ms`)), limitMs);
  map.once('idle', () => { clearTimeout(late); resolve(); });
  map.triggerRepaint();
})"""


def settle(page, map_name: str = "vetaMap", limit_ms: int = 90_000) -> None:
    """Wait until the page's map has drawn all it asked for. Bounded, because Playwright's
    evaluate never times out: a map that never goes idle fails its test instead of hanging
    the suite."""
    page.evaluate(SETTLE, [map_name, limit_ms])


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class MapPage:
    """The /map page in a browser tab, with what it logged and fetched."""

    def __init__(self, browser, base_url: str):
        self.base_url = base_url
        # Small enough for software WebGL (SwiftShader) to draw a frame quickly on 2 busy cores.
        self.page = browser.new_page(viewport={"width": 1024, "height": 700})
        self.page.set_default_timeout(90_000)
        self.console: list = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(m))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(f"{base_url}/map")
        # Functions, not expressions: Playwright evaluates an expression in the page with eval,
        # which the page's content security policy refuses.
        self.page.wait_for_function("() => window.vetaMap && window.vetaMap.loaded()")
        # The filter lists are filled once the vocabulary and areas have arrived.
        self.page.wait_for_function("() => document.querySelectorAll('#area option').length > 1")
        self.settle()

    def settle(self) -> None:
        settle(self.page)

    def screenshot(self, path) -> np.ndarray:
        png = self.page.locator("#map").screenshot(path=str(path))
        with MemoryFile(png) as f, f.open() as image:
            return image.read()

    def look_at(self, lon: float, lat: float, zoom: float = DEPOSITS_FROM) -> None:
        """Centre the map on lon/lat at `zoom` (by default the first that draws deposits one
        by one) and wait until it is drawn."""
        self.page.evaluate(
            "([lon, lat, zoom]) => window.vetaMap.jumpTo({center: [lon, lat], zoom})",
            [lon, lat, zoom],
        )
        self.settle()

    def rendered_deposit_ids(self) -> set[int]:
        return set(
            self.page.evaluate(
                f"window.vetaMap.queryRenderedFeatures({{layers: {DEPOSIT_LAYERS}}}).map(f => f.properties.id)"
            )
        )

    def click_lonlat(self, lon: float, lat: float, double: bool = False) -> None:
        x, y = self.page.evaluate(
            """([lon, lat]) => { const p = window.vetaMap.project([lon, lat]);
               const r = window.vetaMap.getContainer().getBoundingClientRect();
               return [r.left + p.x, r.top + p.y]; }""",
            [lon, lat],
        )
        if double:
            self.page.mouse.dblclick(x, y)
        else:
            self.page.mouse.click(x, y)

    def reset(self) -> None:
        """Back to the page as loaded: no filter, the layers as they start, the offline
        basemap, León in view."""
        self.page.keyboard.press("Escape")
        for close in self.page.query_selector_all(".maplibregl-popup-close-button"):
            close.click()
        self.page.select_option("#commodity", "")
        self.page.select_option("#area", "")
        for box in self.page.query_selector_all("#protection input"):
            box.check()
        for box in self.page.query_selector_all("input[data-layers]"):
            box.set_checked(box.evaluate("b => b.defaultChecked"))
        self.page.check("input[name=basemap][value=offline]")
        self.page.evaluate(
            "window.vetaMap.fitBounds([[-7.1, 41.95], [-4.7, 43.25]], {padding: 20, animate: false})"
        )
        self.settle()


@pytest.fixture(scope="module")
def loaded_map(browser, live_server):
    """One tab for the module: a software-rendered map takes seconds to load on a busy machine."""
    page = MapPage(browser, live_server)
    yield page
    page.page.close()


@pytest.fixture
def map_page(loaded_map):
    loaded_map.reset()
    return loaded_map


def busiest_view(engine, where: str = "TRUE", ids: set[int] | None = None) -> tuple[float, float]:
    """The centre of the z10 tile holding most deposits matching `where` (or with these ids):
    a view where the map draws many of them one by one."""
    with engine.connect() as conn:
        found = conn.execute(
            text(
                f"SELECT id, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM deposits WHERE {where}"
            )
        ).all()
    tiles = Counter(TMS.tile(x, y, DEPOSITS_FROM) for i, x, y in found if ids is None or i in ids)
    west, south, east, north = TMS.bounds(tiles.most_common(1)[0][0])
    return (west + east) / 2, (south + north) / 2


def changed_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ between two screenshots of the same size."""
    return float(np.any(a != b, axis=0).mean())


def geometries(engine, sql: str) -> list[dict]:
    with engine.connect() as conn:
        found = conn.execute(text(sql)).mappings().all()
    return [{**r, "geom": wkb.loads(bytes(r["geom"]))} for r in found]


def verdict_for(site, zones: list[dict], top_m=None, bottom_m=None) -> str:
    """The zone rule (docs/domain.md) in shapely: the strictest restricting zone in force that meets the
    site's footprint and depth interval (none: the whole column)."""
    return oracle.verdict(oracle.effects_on(site, zones, top_m, bottom_m))


@pytest.fixture(scope="module")
def zones(engine) -> list[dict]:
    return geometries(
        engine,
        "SELECT id, name, legal_effect, valid_from, valid_to, depth_top_m, depth_bottom_m, "
        "ST_AsBinary(geom) AS geom FROM protection_zones",
    )


def test_the_page_loads_with_no_console_errors_and_fetches_nothing_from_elsewhere(loaded_map):
    map_page = loaded_map
    assert map_page.errors == []
    assert [m.text for m in map_page.console if m.type == "error"] == []
    # No CDN, and the online basemap stays off until the user switches it on.
    # (MapLibre starts its web worker from a blob: URL of the page's own origin.)
    elsewhere = [
        u
        for u in map_page.requests
        if not (u.removeprefix("blob:").startswith(map_page.base_url) or u.startswith("data:"))
    ]
    assert elsewhere == []
    assert any("/static/vendor/maplibre-gl/maplibre-gl.js" in url for url in map_page.requests)
    attribution = map_page.page.inner_text(".maplibregl-ctrl-attrib")
    assert "Instituto Geográfico Nacional de España, CC BY 4.0" in attribution
    assert "OpenStreetMap" not in attribution
    legend = map_page.page.inner_text("#legend")
    for entry in (
        "exclusion",
        "conditional",
        "granted",
        "lapsed",
        "tungsten",
        "lithium",
        "excluded",
    ):
        assert entry in legend


def test_the_layers_draw_and_switching_them_off_changes_the_picture(map_page, tmp_path_factory):
    shots = tmp_path_factory.mktemp("map")
    # At León's scale the deposits are drawn as clusters (deposits one by one from zoom 10).
    for layer in ("zones-fill", "permits-fill", "deposit-clusters", "admin-lines"):
        count = map_page.page.evaluate(
            f"window.vetaMap.queryRenderedFeatures({{layers: ['{layer}']}}).length"
        )
        assert count > 0, f"{layer} drew nothing"
    with_layers = map_page.screenshot(shots / "layers_on.png")
    for box in map_page.page.query_selector_all("input[data-layers]:checked"):
        box.uncheck()
    map_page.settle()
    without = map_page.screenshot(shots / "layers_off.png")
    assert changed_share(with_layers, without) > 0.05
    # With every layer off only the plain background (#f2efe6) is left, controls aside.
    background = np.all(without[:3] == np.array([0xF2, 0xEF, 0xE6])[:, None, None], axis=0)
    assert background.mean() > 0.9


def test_a_commodity_filter_draws_only_deposits_holding_it(map_page, engine, tmp_path_factory):
    shots = tmp_path_factory.mktemp("map")
    map_page.look_at(*busiest_view(engine, "'tungsten' = ANY(commodities)"))
    before_ids = map_page.rendered_deposit_ids()
    before = map_page.screenshot(shots / "all_commodities.png")
    with engine.connect() as conn:
        tungsten = {
            i
            for (i,) in conn.execute(
                text("SELECT id FROM deposits WHERE 'tungsten' = ANY(commodities)")
            )
        }
    map_page.page.select_option("#commodity", "tungsten")
    map_page.settle()
    after_ids = map_page.rendered_deposit_ids()
    after = map_page.screenshot(shots / "tungsten.png")
    assert after_ids == before_ids & tungsten
    assert 0 < len(after_ids) < len(before_ids)
    assert changed_share(before, after) > 0.005


def test_the_protection_filter_hides_deposits_of_unchecked_statuses(map_page, engine, zones):
    deposits = geometries(
        engine, "SELECT id, ST_AsBinary(geom) AS geom, depth_top_m, depth_bottom_m FROM deposits"
    )
    excluded = {
        d["id"]
        for d in deposits
        if verdict_for(d["geom"], zones, d["depth_top_m"], d["depth_bottom_m"]) == "excluded"
    }
    map_page.look_at(*busiest_view(engine, ids=excluded))
    before = map_page.rendered_deposit_ids()
    assert before & excluded
    map_page.page.uncheck("#protection input[value=excluded]")
    map_page.settle()
    after = map_page.rendered_deposit_ids()
    assert not after & excluded
    assert after


def test_the_area_filter_keeps_the_deposits_of_that_area(map_page, engine):
    areas = geometries(
        engine,
        "SELECT code, name, ST_AsBinary(geom) AS geom FROM admin_areas WHERE level = 'municipality'",
    )
    deposits = geometries(engine, "SELECT id, ST_AsBinary(geom) AS geom FROM deposits")
    tree = shapely.STRtree([d["geom"] for d in deposits])
    inside = {
        a["code"]: {deposits[i]["id"] for i in tree.query(a["geom"], predicate="intersects")}
        for a in areas
    }
    code = max(inside, key=lambda c: len(inside[c]))
    map_page.page.select_option("#area", code)
    map_page.page.wait_for_function(
        "() => document.querySelector('#filter-status').textContent.includes('deposits in')"
    )
    map_page.settle()
    map_page.look_at(*busiest_view(engine, ids=inside[code]))
    shown = map_page.rendered_deposit_ids()
    assert shown and shown <= inside[code]


def test_clicking_a_deposit_pops_up_its_properties_and_screens_it(map_page, engine, zones):
    map_page.look_at(*busiest_view(engine))
    some_id = min(map_page.rendered_deposit_ids())
    [deposit] = geometries(
        engine,
        "SELECT id, name, depth_top_m, depth_bottom_m, ST_AsBinary(geom) AS geom "
        f"FROM deposits WHERE id = {some_id}",
    )
    # True coordinates from the database: tile coordinates are quantised to the tile's zoom.
    point = deposit["geom"].representative_point()
    map_page.page.evaluate(
        "([lon, lat]) => window.vetaMap.jumpTo({center: [lon, lat], zoom: 16})", [point.x, point.y]
    )
    map_page.settle()
    map_page.click_lonlat(point.x, point.y)
    popup = map_page.page.wait_for_selector(".maplibregl-popup .popup")
    assert popup.query_selector("h3").inner_text() == deposit["name"]
    link = popup.query_selector("a").get_attribute("href")
    assert link == f"{map_page.base_url}/collections/deposits/items/{deposit['id']}?f=html"
    popup.query_selector("[data-screen-deposit]").click()
    verdict = map_page.page.wait_for_selector("#verdict")
    assert verdict.inner_text() == verdict_for(
        deposit["geom"], zones, deposit["depth_top_m"], deposit["depth_bottom_m"]
    )


def test_drawing_a_polygon_shows_the_screening_verdict_and_overlaps(
    map_page, zones, tmp_path_factory
):
    zone = next(z for z in zones if z["legal_effect"] == "exclusion")
    centre = zone["geom"].representative_point()
    corners = [
        (centre.x - 0.01, centre.y - 0.008),
        (centre.x + 0.012, centre.y - 0.006),
        (centre.x + 0.01, centre.y + 0.009),
        (centre.x - 0.009, centre.y + 0.007),
    ]
    expected = verdict_for(shapely.Polygon(corners), zones)
    map_page.page.evaluate(
        "([lon, lat]) => window.vetaMap.jumpTo({center: [lon, lat], zoom: 12})",
        [centre.x, centre.y],
    )
    map_page.settle()
    map_page.page.click("#draw")
    for lon, lat in corners[:-1]:
        map_page.click_lonlat(lon, lat)
    map_page.click_lonlat(*corners[-1], double=True)
    verdict = map_page.page.wait_for_selector("#verdict")
    assert verdict.inner_text() == expected == "excluded"
    assert zone["name"] in map_page.page.inner_text("#screening")
    map_page.page.screenshot(path=str(tmp_path_factory.mktemp("map") / "screening.png"))

    # The drawn site's kept report: its PDF has pages, its page lists the drawn corners in UTM.
    page = map_page.page
    with page.expect_download() as download:
        page.click("#download-pdf")
    assert len(PdfReader(download.value.path()).pages) >= 1
    with page.context.expect_page() as opened:
        page.click("#open-report")
    report = opened.value
    report.wait_for_load_state()
    assert "excluded" in report.inner_text("h1").lower()
    assert report.locator("table.vertices tr").count() >= 1 + len(corners)
    report.close()


def test_a_broader_commodity_draws_the_deposits_of_its_narrower_ones(map_page, engine):
    # Base metals in CGI's own file (copper, cobalt, lead, nickel, zinc), not from Veta's code.
    with (PROJECT_ROOT / "geo" / "core" / "vocab" / "cgi_commodity_codes.csv").open(
        encoding="utf-8"
    ) as f:
        base_metals = [r["code"] for r in csv.DictReader(f) if r["broader"] == "base-metal"]
    map_page.look_at(
        *busiest_view(engine, f"commodities && ARRAY[{', '.join(repr(c) for c in base_metals)}]")
    )
    before_ids = map_page.rendered_deposit_ids()
    with engine.connect() as conn:
        holding = dict(
            conn.execute(
                text(
                    "SELECT id, commodities FROM deposits WHERE commodities && CAST(:codes AS text[])"
                ),
                {"codes": base_metals},
            ).all()
        )
    map_page.page.select_option("#commodity", "baseMetal")
    map_page.settle()
    after_ids = map_page.rendered_deposit_ids()
    assert after_ids == before_ids & set(holding)
    assert any("copper" not in holding[i] for i in after_ids)  # more than one narrower commodity
    map_page.page.select_option("#commodity", "")
    map_page.settle()


def rendered_clusters(map_page) -> list[dict]:
    return map_page.page.evaluate(
        "() => window.vetaMap.queryRenderedFeatures({layers: ['deposit-clusters']})"
        ".map(f => ({count: f.properties.count, at: f.geometry.coordinates}))"
    )


def test_at_leons_scale_deposits_are_clusters_that_filter_on_the_server_and_open_on_a_click(
    map_page,
):
    assert map_page.rendered_deposit_ids() == set()  # no deposit drawn one by one below z10
    before = rendered_clusters(map_page)
    assert before and all(c["count"] >= 1 for c in before)
    assert any(c["count"] > 1 for c in before)
    # Where the map has label glyphs, each cluster of several carries its count as text.
    if map_page.page.evaluate("() => Boolean(window.vetaMap.getLayer('deposit-cluster-counts'))"):
        labels = map_page.page.evaluate(
            "() => window.vetaMap.queryRenderedFeatures({layers: ['deposit-cluster-counts']})"
            ".map(f => f.properties.count)"
        )
        assert labels and set(labels) <= {c["count"] for c in before if c["count"] > 1}
    asked = len(map_page.requests)
    map_page.page.select_option("#commodity", "tungsten")
    map_page.settle()
    # The clusters are counted again by the server, for the tiles asked with the filter.
    tiles = [u for u in map_page.requests[asked:] if "/collections/deposits/tiles/" in u]
    assert tiles and all("commodity" in u and "tungsten" in u for u in tiles)
    after = rendered_clusters(map_page)
    assert 0 < sum(c["count"] for c in after) < sum(c["count"] for c in before)
    map_page.page.select_option("#commodity", "")
    map_page.settle()
    # A click on a cluster of several zooms in towards its deposits.
    zoom = map_page.page.evaluate("() => window.vetaMap.getZoom()")
    biggest = max(rendered_clusters(map_page), key=lambda c: c["count"])
    map_page.click_lonlat(*biggest["at"])
    map_page.page.wait_for_function(
        f"() => window.vetaMap.getZoom() > {zoom + 1} && !window.vetaMap.isMoving()"
    )
