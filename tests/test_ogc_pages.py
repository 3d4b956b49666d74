"""The OGC API's HTML pages read as finished pages: features titled by name, yes/no rather than
True/False, hectares with two decimals, a link to the map, and no page wider than a 1280 px
window (checked in the headless Chromium the map's test uses)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import sync_playwright

from test_map_e2e import CHROMIUM, CHROMIUM_ARGS

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
    page = client.get("/collections/deposit_screening/items", params={"limit": 50}, headers=HTML).text
    cells = _cells(page)
    assert cells and "True" not in cells and "False" not in cells and "None" not in cells
    permits = client.get("/collections/permits/items", params={"limit": 5}).json()["features"]
    page = client.get("/collections/permits/items", params={"limit": 5}, headers=HTML).text
    for permit in permits:
        assert f"{permit['properties']['area_ha']:,.2f}" in page


def test_the_landing_page_links_to_the_map(client):
    page = client.get("/", headers=HTML).text
    assert 'href="http://testserver/map"' in page


@pytest.mark.e2e
def test_no_page_is_wider_than_a_1280_px_window(live_server):
    paths = ["/?f=html", "/collections?f=html", "/collections/deposit_screening?f=html",
             "/collections/deposit_screening/items?f=html&limit=100", "/collections/permits/items?f=html&limit=100",
             "/collections/deposit_screening/items/1?f=html", "/conformance?f=html"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            for path in paths:
                response = page.goto(live_server + path)
                assert response.status == 200, path
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 1280, (path, width)
        finally:
            browser.close()


def test_the_api_page_loads_nothing_from_other_sites(client):
    page = client.get("/api.html").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/static/swagger-ui/") for s in sources), sources
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
