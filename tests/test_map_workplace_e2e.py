"""The map as a workplace, in Debian's headless Chromium: the search box flies to a municipality
and to a mining right found by its registry number, the coordinate readout agrees with pyproj,
and the table of the deposits passing two commodities counts what /deposits counts, sorts, and
downloads exactly that set."""

from __future__ import annotations

import csv
import sqlite3
from urllib.parse import urlsplit

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


def _centre(page) -> tuple[float, float]:
    lon, lat = page.evaluate(
        "(() => { const c = window.vetaMap.getCenter(); return [c.lng, c.lat]; })()"
    )
    return lon, lat


def _highlighted(page) -> list[dict]:
    """What the map outlines as the chosen result, read from what it draws."""
    features = page.evaluate(
        "window.vetaMap.queryRenderedFeatures({layers: ['highlight-line', 'highlight-point']})"
        ".map(f => f.properties)"
    )
    return [
        {"kind": f["kind"], "code": f["code"]} for f in {f["code"]: f for f in features}.values()
    ]


def _search_and_choose(map_page, q: str, title: str) -> None:
    page = map_page.page
    page.fill("#search", q)
    button = page.locator("#search-results button", has_text=title).first
    button.wait_for()
    page.evaluate(
        "window.vetaMap.once('moveend', () => { window.moved = true; }); window.moved = false"
    )
    button.click()
    page.wait_for_function("() => window.moved === true")
    map_page.settle()


def test_the_search_box_flies_to_a_municipality_and_to_a_right_by_its_number(map_page, engine):
    page = map_page.page
    with engine.connect() as conn:
        west, south, east, north = conn.execute(
            text(
                "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                "FROM admin_areas WHERE name = 'Ponferrada'"
            )
        ).one()
        number, name, right = conn.execute(
            text(
                "SELECT registry_number, name, geom FROM permits WHERE NOT confidential "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
        right_box = conn.execute(
            text(
                "SELECT ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g) FROM "
                "(SELECT geom AS g FROM permits WHERE registry_number = :n) x"
            ),
            {"n": number},
        ).one()
    page.evaluate("window.vetaMap.jumpTo({center: [-5.0, 43.1], zoom: 7})")

    _search_and_choose(map_page, "ponferr", "Ponferrada")
    lon, lat = _centre(page)
    assert west < lon < east and south < lat < north
    bounds = page.evaluate("window.vetaMap.getBounds().toArray()")
    # The whole municipality is in view, and the view is not much wider than it.
    assert (
        bounds[0][0] <= west
        and bounds[1][0] >= east
        and bounds[1][0] - bounds[0][0] < 4 * (east - west)
    )
    assert "Ponferrada" in page.inner_text("#search-popup")
    assert _highlighted(page) == [{"kind": "area", "code": "24115"}]

    _search_and_choose(map_page, number.lower(), name)
    lon, lat = _centre(page)
    assert right_box[0] < lon < right_box[2] and right_box[1] < lat < right_box[3]
    assert name in page.inner_text("#search-popup")
    assert _highlighted(page) == [{"kind": "permit", "code": number}]
    # Too short: nothing is asked.
    page.fill("#search", "p")
    page.wait_for_function("() => document.querySelectorAll('#search-results li').length === 0")


@pytest.mark.parametrize("lon, lat", [(-6.598, 42.5467), (-5.5712, 42.6033)])
def test_the_coordinate_readout_agrees_with_pyproj(map_page, lon, lat):
    page = map_page.page
    page.evaluate(f"window.vetaMap.jumpTo({{center: [{lon}, {lat}], zoom: 12}})")
    map_page.settle()
    x, y = page.evaluate(
        """([lon, lat]) => { const p = window.vetaMap.project([lon, lat]);
           const r = window.vetaMap.getContainer().getBoundingClientRect();
           return [r.left + p.x, r.top + p.y]; }""",
        [lon, lat],
    )
    page.mouse.move(x - 20, y - 20)
    page.mouse.move(x, y)
    page.wait_for_function("() => !document.querySelector('#coords').hidden")
    # The position the browser really reports at that pixel, and its readout.
    shown_lon, shown_lat = (float(v) for v in page.inner_text("#coords-lonlat").split(","))
    assert shown_lon == pytest.approx(lon, abs=1e-3) and shown_lat == pytest.approx(lat, abs=1e-3)
    zone, easting, northing = (
        page.inner_text("#coords-utm").replace("N", " ").replace("E", " ").split("·")
    )
    zone = int(zone)
    assert zone == (29 if lon < -6 else 30)
    to_utm = Transformer.from_crs(4326, 25800 + zone, always_xy=True)
    # The readout's lon/lat has 5 decimals (about 1 m): compare against the unrounded position.
    exact_lon, exact_lat = page.evaluate(
        f"(() => {{ const l = window.vetaMap.unproject([{x} - window.vetaMap.getContainer()"
        f".getBoundingClientRect().left, {y} - window.vetaMap.getContainer()"
        ".getBoundingClientRect().top]); return [l.lng, l.lat]; })()"
    )
    expected_e, expected_n = to_utm.transform(exact_lon, exact_lat)
    assert float(easting) == pytest.approx(expected_e, abs=1)
    assert float(northing) == pytest.approx(expected_n, abs=1)
    assert "ETRS89 / UTM" in page.inner_text("#coords")


def _table_names(page) -> list[str]:
    return page.eval_on_selector_all(
        "#results-table tbody tr td:first-child", "cells => cells.map(c => c.textContent.trim())"
    )


def test_the_table_lists_what_passes_two_commodities_and_downloads_exactly_that(
    map_page, client, tmp_path
):
    page = map_page.page
    page.select_option("#commodity", ["tungsten", "lithium"])
    expected = client.get("/deposits", params={"commodity": "W,Li", "limit": 1}).json()[
        "numberMatched"
    ]
    assert expected > 0
    page.wait_for_function(
        f"() => document.querySelector('#results-table').dataset.count === '{expected}'"
    )
    rows = page.locator("#results-table tbody tr").count()
    assert rows == min(expected, 500)
    status = page.inner_text("#results-status")
    assert (
        f"of {expected:,} deposits" if expected > 500 else f"{expected:,} deposits listed"
    ) in status
    statuses = page.eval_on_selector_all(
        "#results-table tbody .status", "cells => cells.map(c => c.textContent)"
    )
    assert set(statuses) <= {"free", "conditional", "excluded"}
    commodities = page.eval_on_selector_all(
        "#results-table tbody tr td:nth-child(2)", "cells => cells.map(c => c.textContent)"
    )
    assert all({"tungsten", "lithium"} & set(c.split(", ")) for c in commodities)

    # Sorting by a header orders the rows; again reverses them.
    page.click("#results-table th[data-sort=name] button")
    names = _table_names(page)
    assert page.get_attribute("#results-table th[data-sort=name]", "aria-sort") == "descending"
    assert names == sorted(names, key=str.casefold, reverse=True) or len(set(names)) < len(names)
    page.click("#results-table th[data-sort=protection_status] button")
    order = {"free": 0, "conditional": 1, "excluded": 2}
    statuses = page.eval_on_selector_all(
        "#results-table tbody .status", "cells => cells.map(c => c.textContent)"
    )
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)

    # Each export is the same set: the GeoPackage holds numberMatched deposits, so does the CSV.
    with page.expect_download() as download:
        page.click("#export-gpkg")
    gpkg = tmp_path / "deposits.gpkg"
    download.value.save_as(gpkg)
    with sqlite3.connect(gpkg) as db:
        (count,) = db.execute("SELECT count(*) FROM deposit_screening").fetchone()
    assert count == expected
    with page.expect_download() as download:
        page.click("#export-csv")
    with open(download.value.path(), encoding="utf-8", newline="") as f:
        assert len(list(csv.DictReader(f))) == expected
    href = page.get_attribute("#export-geojson", "href")
    address = urlsplit(href)
    collection = client.get(f"{address.path}?{address.query}").json()
    assert len(collection["features"]) == expected

    # Only free ones: the table follows, and equals /deposits' count of the same question.
    page.uncheck("#protection input[value=excluded]")
    page.uncheck("#protection input[value=conditional]")
    free = client.get(
        "/deposits", params={"commodity": "W,Li", "protection": "outside", "limit": 1}
    ).json()["numberMatched"]
    page.wait_for_function(
        f"() => document.querySelector('#results-table').dataset.count === '{free}'"
    )
    assert set(
        page.eval_on_selector_all(
            "#results-table tbody .status", "cs => cs.map(c => c.textContent)"
        )
    ) <= {"free"}
