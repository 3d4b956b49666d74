"""The map with an organisation's API key: anonymously it shows public deposits only; with a
key of the owning organisation it shows that organisation's confidential deposit too, says who
is signed in, and forgets the key on request. A bad key is refused with its reason."""

from __future__ import annotations

import json

import httpx
import pytest
from pypdf import PdfReader
from records import insert_deposit
from sqlalchemy import text
from test_map_e2e import MapPage, browser  # noqa: F401  (the browser fixture)

from geo.access.keys import create_key, create_organisation

pytestmark = pytest.mark.e2e

# Where the organisation's confidential prospect lies.
SECRET_AT = (-5.90, 42.62)


@pytest.fixture(scope="module")
def secret(engine):
    with engine.begin() as conn:
        org = create_organisation(conn, "t-mapkey", "Prospectora Mapa")
        key = create_key(conn, "t-mapkey", "reader", "mara@mapa", None)[0]
        deposit = insert_deposit(conn, "Prospecto del mapa", SECRET_AT, "t-mapkey", "m-1", org)
    yield key, deposit
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = 't-mapkey'"))
        conn.execute(
            text(
                "DELETE FROM screening_reports WHERE owner_org = "
                "(SELECT id FROM organisations WHERE code = 't-mapkey')"
            )
        )
        conn.execute(text("DELETE FROM organisations WHERE code = 't-mapkey'"))


def _reloaded(map_page: MapPage) -> None:
    map_page.page.wait_for_load_state()
    map_page.page.wait_for_function("() => window.vetaMap && window.vetaMap.loaded()")
    map_page.settle()


def test_a_key_shows_its_organisations_confidential_deposits(browser, live_server, secret):  # noqa: F811
    key, deposit = secret
    map_page = MapPage(browser, live_server)
    try:
        # At zoom 10 over it, where the map draws deposits one by one (the view is kept in the
        # address, so the reloads below keep it).
        map_page.look_at(*SECRET_AT)
        assert deposit not in map_page.rendered_deposit_ids()
        map_page.page.fill("#api-key", "veta_not-a-real-key")
        map_page.page.click("#use-key")
        map_page.page.wait_for_function(
            "() => document.querySelector('#key-status').textContent.includes('not valid')"
        )
        map_page.page.fill("#api-key", key)
        with map_page.page.expect_navigation():
            map_page.page.click("#use-key")
        _reloaded(map_page)
        map_page.page.wait_for_function(
            "() => document.querySelector('#key-status').textContent.includes('mara@mapa')"
        )
        assert deposit in map_page.rendered_deposit_ids()
        # Its screening is kept as the organisation's; the downloads still work (with the key).
        page = map_page.page
        page.evaluate("(id) => screen({deposit: id}, `deposit ${id}`)", deposit)
        page.wait_for_selector("#download-geojson")
        # Without the key the kept report is nobody's to see: the map had to send it.
        assert httpx.get(page.get_attribute("#download-geojson", "href")).status_code == 404
        with page.expect_download() as download:
            page.click("#download-geojson")
        with open(download.value.path(), encoding="utf-8") as f:
            collection = json.load(f)
        assert collection["features"][0]["properties"]["role"] == "site"
        assert collection["verdict"]
        with page.expect_download() as download:
            page.click("#download-pdf")
        assert download.value.suggested_filename.startswith("veta-screening-")
        assert len(PdfReader(download.value.path()).pages) >= 1
        with map_page.page.expect_navigation():
            map_page.page.click("#forget-key")
        _reloaded(map_page)
        assert deposit not in map_page.rendered_deposit_ids()
        assert map_page.errors == []
    finally:
        map_page.page.close()
