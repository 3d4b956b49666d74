"""Rasters on the web map, in Debian's headless Chromium against a running Veta: a registered
raster is listed with a legend, switched on it draws from its PNG tiles, its opacity follows the
slider, and clicking the map shows the value the API gives at that point."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from playwright.sync_api import sync_playwright
from test_map_e2e import CHROMIUM, CHROMIUM_ARGS, MapPage

from geo.core.settings import PROJECT_ROOT, Settings
from geo.rasters import storage
from geo.rasters.sample import write_sample_raster

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning"),
]
NAME = "t-map-density"


@pytest.fixture(scope="module")
def density(engine, db_url, tmp_path_factory):
    """The sample density surface, registered under a test name where the live server looks."""
    settings = Settings(database_url=db_url, state_dir=PROJECT_ROOT / ".veta")
    path = tmp_path_factory.mktemp("density") / "density.tif"
    write_sample_raster(path)
    info = storage.register(engine, settings, path, NAME, title="Test density", units="per km²")
    yield info
    storage.remove(engine, settings, NAME)


@pytest.fixture(scope="module")
def page(density, live_server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        map_page = MapPage(browser, live_server)
        map_page.page.wait_for_selector(f"[data-raster='{NAME}']")
        yield map_page
        browser.close()


def test_a_raster_is_listed_drawn_faded_and_queried(page, density, tmp_path_factory):
    shots = tmp_path_factory.mktemp("raster-map")
    panel = page.page.inner_text("#rasters")
    assert "Test density" in panel and "per km²" in panel
    assert page.page.locator("#rasters .ramp").count() >= 1
    layer = f"raster-{NAME}"
    assert (
        page.page.evaluate(f"window.vetaMap.getLayoutProperty('{layer}', 'visibility')") == "none"
    )
    for box in page.page.query_selector_all("input[data-layers]:checked"):
        box.uncheck()
    page.settle()
    before = page.screenshot(shots / "off.png")
    page.page.check(f"[data-raster='{NAME}']")
    page.settle()
    after = page.screenshot(shots / "on.png")
    assert any(f"/rasters/{NAME}/tiles/WebMercatorQuad/" in url for url in page.requests)
    assert float(np.any(before != after, axis=0).mean()) > 0.05, (
        "the raster drew over a good part of the map"
    )
    slider = page.page.locator("#rasters input[type=range]").first
    slider.fill("0.3")
    assert page.page.evaluate(
        f"window.vetaMap.getPaintProperty('{layer}', 'raster-opacity')"
    ) == pytest.approx(0.3)
    lon, lat = -5.8, 42.6
    page.click_lonlat(lon, lat)
    page.page.wait_for_selector("#raster-values table")
    clicked = page.page.evaluate(
        """([lon, lat]) => { const p = window.vetaMap.project([lon, lat]);
        return window.vetaMap.unproject(p).toArray(); }""",
        [lon, lat],
    )
    shown = page.page.inner_text("#raster-values")
    value = httpx.get(
        f"{page.base_url}/rasters/{NAME}/point", params={"lon": clicked[0], "lat": clicked[1]}
    ).json()["properties"]["values"][0]
    assert value is not None
    number = shown.split("Test density")[1].split()[0].replace(",", "")
    assert float(number) == pytest.approx(value, rel=1e-3, abs=1e-4)
