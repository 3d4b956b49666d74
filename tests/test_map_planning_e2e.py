"""The web map's planning mode in headless Chromium: a drawn plan over a deposit of EU importance
is answered `conflict`; the expectation comes from the database through shapely."""

from __future__ import annotations

import pytest
import shapely
from shapely import wkb
from sqlalchemy import text
from test_map_e2e import MapPage, browser  # noqa: F401  (the module's browser fixture)

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def eu_deposit(engine):
    """A sample point deposit with no depth interval, given an EU-level assessment for the test."""
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "SELECT id, name, ST_AsBinary(geom) FROM deposits WHERE GeometryType(geom) = 'POINT' "
                "AND depth_top_m IS NULL AND depth_bottom_m IS NULL AND source NOT LIKE 't-%' ORDER BY id LIMIT 1"
            )
        ).one()
        assessment = conn.execute(
            text(
                "INSERT INTO deposit_assessments (deposit_id, method_name, method_version, as_of, geological, "
                "technical_economic, land_use, societal, score, mdopi_class, inputs, reasons) VALUES "
                "(:d, 'test', '1', current_date, 0, 0, 0, 0, 90, 'eu', '{}', '[]') RETURNING id"
            ),
            {"d": row[0]},
        ).scalar_one()
    yield {"id": row[0], "name": row[1], "geom": wkb.loads(bytes(row[2]))}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposit_assessments WHERE id = :a"), {"a": assessment})


def test_a_drawn_plan_over_an_eu_deposit_is_a_conflict(browser, live_server, eu_deposit):  # noqa: F811
    page = MapPage(browser, live_server)
    try:
        x, y = eu_deposit["geom"].x, eu_deposit["geom"].y
        corners = [
            (x - 0.004, y - 0.003),
            (x + 0.005, y - 0.003),
            (x + 0.004, y + 0.004),
            (x - 0.004, y + 0.003),
        ]
        assert shapely.Polygon(corners).contains(eu_deposit["geom"])
        page.page.evaluate(
            "([lon, lat]) => window.vetaMap.jumpTo({center: [lon, lat], zoom: 13})", [x, y]
        )
        page.settle()
        page.page.check("#plan-mode")
        page.page.select_option("#plan-land-use", "urban")
        page.page.select_option("#plan-effect", "exclusion")
        page.page.click("#draw")
        for lon, lat in corners[:-1]:
            page.click_lonlat(lon, lat)
        page.click_lonlat(*corners[-1], double=True)
        verdict = page.page.wait_for_selector("#impact-verdict")
        assert verdict.inner_text() == "conflict"
        assert eu_deposit["name"] in page.page.inner_text("#impact")
        assert not page.errors
    finally:
        page.page.close()
