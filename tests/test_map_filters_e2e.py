"""The map's deposit filters take several commodities at once, the count of what passes them is
the count /deposits gives for the same question, a screening can be taken away (its kept report
in a new tab, a GeoJSON file, a PDF), and a copied address restores view, layers and filters."""

from __future__ import annotations

import json

import pytest
from pypdf import PdfReader
from sqlalchemy import text
from test_map_e2e import MapPage, browser, busiest_view  # noqa: F401  (the browser fixture)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def map_page(browser, live_server):  # noqa: F811
    page = MapPage(browser, live_server)
    yield page
    page.page.close()


def _count(map_page) -> int:
    return int(map_page.page.get_attribute("#match-count", "data-count"))


def test_two_commodities_at_once_and_the_count_equals_deposits_number_matched(
    map_page, client, engine
):
    with engine.connect() as conn:
        holding = {
            i
            for (i,) in conn.execute(
                text("SELECT id FROM deposits WHERE commodities && ARRAY['tungsten', 'lithium']")
            )
        }
    map_page.look_at(*busiest_view(engine, ids=holding))
    before = map_page.rendered_deposit_ids()
    map_page.page.select_option("#commodity", ["tungsten", "lithium"])
    map_page.settle()
    shown = map_page.rendered_deposit_ids()
    assert shown == before & holding
    assert 0 < len(shown) < len(before)
    both = client.get("/deposits", params={"commodity": "W,Li", "limit": 1}).json()["numberMatched"]
    map_page.page.wait_for_function(
        f"() => document.querySelector('#match-count').dataset.count === '{both}'"
    )

    # The headline question: only free deposits, in León.
    map_page.page.uncheck("#protection input[value=excluded]")
    map_page.page.uncheck("#protection input[value=conditional]")
    map_page.page.select_option("#area", "24")
    map_page.page.wait_for_function(
        "() => document.querySelector('#filter-status').textContent.includes('deposits in')"
    )
    expected = client.get(
        "/deposits",
        params={"commodity": "W,Li", "area": "leon", "protection": "outside", "limit": 1},
    ).json()["numberMatched"]
    map_page.page.wait_for_function(
        f"() => document.querySelector('#match-count').dataset.count === '{expected}'"
    )
    assert _count(map_page) == expected > 0
    assert f"{expected:,} deposits pass the filters" in map_page.page.inner_text("#match-count")


def test_a_screening_on_the_map_opens_as_a_report_and_downloads_as_geojson_and_pdf(
    map_page, client
):
    deposit = client.get("/deposits", params={"limit": 1}).json()["features"][0]
    expected = client.post("/screening", json={"deposit": deposit["id"]}).json()
    page = map_page.page
    page.evaluate("(id) => screen({deposit: id}, `deposit ${id}`)", deposit["id"])
    page.wait_for_selector("#download-geojson")
    with page.expect_download() as download:
        page.click("#download-geojson")
    with open(download.value.path(), encoding="utf-8") as f:
        collection = json.load(f)
    assert (
        collection["verdict"] == expected["verdict"]
        and collection["ground_status"] == expected["ground_status"]
    )
    assert [f["properties"]["role"] for f in collection["features"]][0] == "site"
    assert download.value.suggested_filename == f"screening-deposit-{deposit['id']}.geojson"
    with page.expect_download() as download:
        page.click("#download-pdf")
    # Named by the server after the kept report.
    assert download.value.suggested_filename.startswith("veta-screening-")
    assert len(PdfReader(download.value.path()).pages) >= 1
    with page.context.expect_page() as opened:
        page.click("#open-report")
    report = opened.value
    report.wait_for_load_state()
    heading = report.inner_text("h1").lower()  # the badges are upper case by CSS
    assert "site screening" in heading and expected["verdict"] in heading
    report.close()


def test_the_address_restores_view_layers_and_filters(browser, live_server):  # noqa: F811
    first = MapPage(browser, live_server)
    page = first.page
    page.select_option("#commodity", ["tungsten", "tin"])
    page.uncheck("#protection input[value=excluded]")
    page.uncheck("input[data-layers='permits-fill,permits-line']")
    page.select_option("#area", "24115")
    page.wait_for_function(
        "() => document.querySelector('#filter-status').textContent.includes('deposits in')"
    )
    page.evaluate("window.vetaMap.jumpTo({center: [-6.6, 42.55], zoom: 11.5})")
    first.settle()
    page.wait_for_function("() => location.hash.includes('11.5')")
    shared = page.url
    count = page.get_attribute("#match-count", "data-count")
    page.close()

    second = browser.new_page(viewport={"width": 1024, "height": 700})
    second.set_default_timeout(90_000)
    second.goto(shared)
    second.wait_for_function("() => window.vetaMap && window.vetaMap.loaded()")
    second.wait_for_function(
        "() => document.querySelector('#filter-status').textContent.includes('deposits in')"
    )
    second.wait_for_function(
        f"() => document.querySelector('#match-count').dataset.count === '{count}'"
    )
    selected = second.evaluate(
        "[...document.querySelector('#commodity').selectedOptions].map(o => o.value)"
    )
    assert sorted(selected) == ["tin", "tungsten"]
    assert second.evaluate(
        "[...document.querySelectorAll('#protection input:checked')].map(b => b.value)"
    ) == ["free", "conditional"]
    assert second.input_value("#area") == "24115"
    assert (
        second.evaluate("window.vetaMap.getLayoutProperty('permits-fill', 'visibility')") == "none"
    )
    zoom, (lon, lat) = second.evaluate(
        "[window.vetaMap.getZoom(), window.vetaMap.getCenter().toArray()]"
    )
    assert zoom == pytest.approx(11.5, abs=0.01) and (lon, lat) == pytest.approx(
        (-6.6, 42.55), abs=1e-3
    )
    second.close()
