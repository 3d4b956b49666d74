"""The map's language switch in Debian's headless Chromium: Spanish changes the panel, the legend
and the screening, the report opened from the map follows the switch, and English comes back."""

from __future__ import annotations

import pytest
from test_map_e2e import MapPage, browser  # noqa: F401  (the browser fixture)

from geo.core import i18n

pytestmark = pytest.mark.e2e


def _legend_titles(page) -> list[str]:
    return page.eval_on_selector_all("#legend h3", "hs => hs.map(h => h.textContent)")


def test_the_spanish_switch_changes_the_legend_the_screening_and_the_report(
    browser,  # noqa: F811  (the fixture imported above)
    live_server,
    client,
):
    spanish = client.get("/i18n/es.json").json()["messages"]
    map_page = MapPage(browser, live_server)
    page = map_page.page
    try:
        page.wait_for_function("() => window.vetaI18n && window.vetaI18n.ready")
        page.evaluate("window.vetaI18n.ready")
        english_titles = _legend_titles(page)
        assert "Protection zones by legal effect" in english_titles
        assert page.inner_text("#legend").count("exclusion") >= 1

        page.select_option("#language", "es")
        page.wait_for_function("() => document.documentElement.lang === 'es'")
        titles = _legend_titles(page)
        assert titles == [spanish.get(t, t) for t in english_titles] != english_titles
        assert "Zonas de protección por efecto legal" in titles
        legend = page.inner_text("#legend")
        assert "exclusión" in legend and "otorgado" in legend and "wolframio" in legend
        assert page.text_content("#panel section:has(input[data-layers]) h2") == spanish["Layers"]
        assert page.text_content("#search-section h2") == spanish["Search"] == "Buscar"
        # Texts written with values are matched as patterns, the values kept.
        page.wait_for_function(
            "() => document.querySelector('#match-count').textContent.includes('yacimientos cumplen los filtros')"
        )
        count = client.get("/deposits", params={"limit": 1}).json()["numberMatched"]
        assert page.text_content("#match-count") == f"{count:,} yacimientos cumplen los filtros."

        deposit = client.get("/deposits", params={"limit": 1}).json()["features"][0]
        expected = client.post("/screening", json={"deposit": deposit["id"]}).json()
        page.evaluate("(id) => screen({deposit: id}, `deposit ${id}`)", deposit["id"])
        page.wait_for_selector("#open-report")
        i18n.use_language("es")
        try:
            verdict = i18n.pgettext("verdict", expected["verdict"])
            title = i18n.gettext("Site screening")
        finally:
            i18n.use_language("en")
        assert page.text_content("#verdict") == spanish[expected["verdict"]]
        assert page.text_content("#open-report") == "Abrir el informe"
        assert f"Evaluación de deposit {deposit['id']}" in page.text_content("#screening")
        with page.context.expect_page() as opened:
            page.click("#open-report")
        report = opened.value
        report.wait_for_load_state()
        assert report.evaluate("document.documentElement.lang") == "es"
        heading = report.inner_text("h1").lower()
        assert title.lower() in heading and verdict.lower() in heading
        assert "Aviso legal." in report.inner_text(".disclaimer")
        report.close()

        page.select_option("#language", "en")
        page.wait_for_function("() => document.documentElement.lang === 'en'")
        assert _legend_titles(page) == english_titles
        assert page.text_content("#open-report") == "Open report"
    finally:
        page.close()
