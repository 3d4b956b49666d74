"""Spanish and English from one catalogue (geo/core/locale): every marked message translated, the
law's terms for rights and zones, pages and problem titles following Accept-Language unless the
user switched (lang=, then a cookie), reports in the reader's language, the CLI in its locale."""

from __future__ import annotations

import html
import io
import re
from html.parser import HTMLParser

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from pypdf import PdfReader
from shapely.geometry import mapping
from sqlalchemy import text

from api.ogc.html import TERM_KINDS
from geo.core import i18n
from geo.core import vocabulary as v
from geo.core.settings import PROJECT_ROOT
from geo.rules.ground import GROUND_STATUSES

KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "N_": ((1, "c"), 2),
}
METHODS = [
    ("geo/**.py", "python"),
    ("api/**.py", "python"),
    ("api/templates/**.html", "jinja2"),
    ("api/static/map/**.js", "javascript"),
]
SPANISH = {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}


def _spanish_catalogue() -> dict:
    with i18n.catalogue_path("es").open("rb") as po:
        return {
            (m.context, m.id if isinstance(m.id, str) else m.id[0]): m.string
            for m in read_po(po)
            if m.id
        }


def test_every_marked_message_of_the_code_has_a_spanish_translation():
    extracted = {
        (context, message if isinstance(message, str) else message[0])
        for _, _, message, _, context in extract_from_dir(
            PROJECT_ROOT,
            METHODS,
            options_map={"api/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords=KEYWORDS,
        )
    }
    catalogue = _spanish_catalogue()
    assert len(extracted) > 200
    untranslated = sorted((c or "", m) for c, m in extracted if not catalogue.get((c, m)))
    assert untranslated == []


def test_every_code_a_reader_sees_has_its_spanish_term():
    catalogue = _spanish_catalogue()
    lists = {
        "right type": v.RIGHT_TYPES,
        "right status": v.PERMIT_STATUSES,
        "legal effect": v.LEGAL_EFFECTS,
        "designation scheme": v.DESIGNATION_SCHEMES,
        "plan verdict": v.PLAN_VERDICTS,
        "land use": v.PLAN_LAND_USES,
        "MDoPI class": v.MDOPI_CLASSES,
        "section": v.SECTIONS,
        "verdict": ("excluded", "conditional", "free"),
        "ground status": GROUND_STATUSES,
        "occurrence type": v.OCCURRENCE_TYPES,
        "deposit type": v.DEPOSIT_TYPES,
        "size class": v.SIZE_CLASSES,
        "mine status": v.MINE_STATUSES,
        "location precision": v.LOCATION_PRECISIONS,
        "admin level": v.ADMIN_LEVELS,
    }
    # Every code list the HTML pages name in the reader's words is checked here.
    assert set(TERM_KINDS.values()) - {"designation"} <= set(lists)
    missing = [
        (kind, code)
        for kind, codes in lists.items()
        for code in codes
        if not catalogue.get((kind, code))
    ]
    assert missing == []


def test_pages_name_code_lists_and_commodities_in_the_readers_words(client):
    def page(path: str, language: str) -> str:
        # By Accept-Language: `lang=` would leave its cookie on the session's client.
        return client.get(path, headers={"Accept-Language": language}).text

    spanish = page("/collections/deposits/items?f=html&limit=100", "es")
    english = page("/collections/deposits/items?f=html&limit=100", "en")
    assert "<td>yacimiento mineral</td>" in spanish and "<td>mineral deposit</td>" in english
    assert "<td>mineralDeposit</td>" not in spanish + english
    assert "<td>cobre, cobalto, níquel</td>" in spanish  # a deposit of three commodities
    assert "<td>copper, cobalt, nickel</td>" in english
    assert "<td>tungsteno</td>" in spanish and "<td>aproximada</td>" in spanish
    zones = page("/collections/protection_zones/items?f=html&limit=100", "es")
    assert "<td>exclusión</td>" in zones and "<td>exclusion</td>" not in zones


def test_rights_and_zones_are_named_as_the_law_names_them():
    i18n.use_language("es")
    try:
        assert i18n.pgettext("right type", "exploration") == "permiso de exploración"
        assert i18n.pgettext("right type", "investigation") == "permiso de investigación"
        assert (
            i18n.pgettext("right type", "exploitation_direct") == "concesión directa de explotación"
        )
        assert i18n.pgettext("right type", "exploitation_derived").startswith(
            "concesión de explotación"
        )
        assert [i18n.pgettext("section", s) for s in v.SECTIONS] == [
            "sección A",
            "sección B",
            "sección C",
            "sección D",
        ]
        assert (
            i18n.pgettext("designation", "SAC") == "ZEC"
            and i18n.pgettext("designation", "SPA") == "ZEPA"
        )
        assert i18n.pgettext("designation scheme", "natura2000") == "Red Natura 2000"
        assert (
            i18n.pgettext("designation scheme", "spanishNaturalSpaces")
            == "espacios naturales protegidos"
        )
        assert i18n.pgettext("ground status", "open") == "terreno franco"
    finally:
        i18n.use_language("en")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-ES,es;q=0.9", "es"),
        ("fr-FR, es;q=0.8, en;q=0.5", "es"),
        ("en-GB, es;q=0.9", "en"),
        ("es;q=0, en", "en"),
        ("de-DE", "en"),
        (None, "en"),
        ("*", "en"),
    ],
)
def test_pages_follow_accept_language(client, header, expected):
    headers = {"Accept-Language": header} if header else {}
    response = client.get("/?f=html", headers=headers)
    assert response.headers["Content-Language"] == expected
    assert f'<html lang="{expected}">' in response.text
    assert ("Abrir el mapa" in response.text) == (expected == "es")
    assert "Accept-Language" in response.headers["Vary"]


def test_problem_titles_follow_accept_language_and_details_name_the_field(client):
    spanish = client.get("/deposits", params={"limit": "many"}, headers=SPANISH)
    english = client.get("/deposits", params={"limit": "many"}, headers={"Accept-Language": "en"})
    assert spanish.status_code == english.status_code == 400
    assert (
        spanish.json()["title"] == "Parámetro no válido"
        and english.json()["title"] == "Invalid parameter"
    )
    assert (
        spanish.json()["detail"] == english.json()["detail"] and "limit" in spanish.json()["detail"]
    )
    assert spanish.headers["Content-Language"] == "es"
    missing = client.get("/screening/reports/not-a-report", headers=SPANISH)
    assert missing.status_code == 404 and missing.json()["title"] == "No encontrado"


def test_lang_switches_and_a_cookie_remembers_it_over_accept_language(settings):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(settings)) as browser:
        switched = browser.get("/collections?f=html&lang=es", headers={"Accept-Language": "en"})
        assert "<h1>Colecciones</h1>" in switched.text
        assert re.search(r"veta_lang=es;.*Path=/", switched.headers["set-cookie"])
        # The cookie now outweighs the browser's Accept-Language, on pages and problems alike.
        page = browser.get("/conformance?f=html", headers={"Accept-Language": "en"})
        assert "Clases de conformidad" in page.text
        assert (
            browser.get("/collections/none", headers={"Accept-Language": "en"}).json()["title"]
            == "No encontrado"
        )
        assert "Conformance classes" in browser.get("/conformance?f=html&lang=en").text
        assert "Conformance classes" in browser.get("/conformance?f=html", headers=SPANISH).text


def test_a_language_veta_does_not_speak_is_refused_naming_the_parameter(client):
    response = client.get("/collections", params={"lang": "fr"})
    assert (
        response.status_code == 400
        and response.headers["content-type"] == "application/problem+json"
    )
    assert response.json()["invalid_params"] == [
        {"name": "lang", "reason": "'fr' is not a language Veta speaks", "allowed": ["en", "es"]}
    ]


def _permit_point(engine, right_type: str):
    with engine.connect() as conn:
        wkb = conn.execute(
            text(
                "SELECT ST_AsBinary(ST_PointOnSurface(geom)) FROM permits "
                "WHERE right_type = :t AND source NOT LIKE 't%' ORDER BY id LIMIT 1"
            ),
            {"t": right_type},
        ).scalar_one()
    import shapely

    return shapely.from_wkb(bytes(wkb))


def test_a_kept_report_speaks_its_readers_language(client, engine):
    point = _permit_point(engine, "investigation")
    response = client.post("/screening", json=mapping(point))
    assert any(p["right_type"] == "investigation" for p in response.json()["permits"])
    path = response.headers["Location"].removeprefix("http://testserver")
    spanish = client.get(path, headers=SPANISH).text
    english = client.get(path, headers={"Accept-Language": "en"}).text
    assert (
        "permiso de investigación" in spanish
        and "Evaluación del sitio" in spanish
        and "Aviso legal." in spanish
    )
    assert "investigation" in english and "Site screening" in english and "Disclaimer." in english
    assert "permiso de investigación" not in english
    # Numbers as each language writes them: 1,234.56 and 1.234,56.
    easting = response.json()["utm"]["point"][0]
    assert f"{easting:,.1f}" in english
    assert f"{easting:,.1f}".translate(str.maketrans(",.", ".,")) in spanish
    pdf = client.get(path.replace("f=html", "f=pdf"), headers=SPANISH)
    words = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Aviso legal" in words and "Disclaimer" not in words


class _Texts(HTMLParser):
    """The texts of a page a reader sees (not scripts, not an option that is its own value)."""

    def __init__(self):
        super().__init__()
        self.texts, self._skip, self._option_value = [], 0, True

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        if tag == "option":
            self._option_value = "value" in dict(attrs)

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style")
        if tag == "option":
            self._option_value = True

    def handle_data(self, data):
        words = " ".join(data.split())
        if words and not self._skip and self._option_value:
            self.texts.append(words)


def test_the_map_page_has_every_word_in_the_catalogue_it_loads(client):
    parser = _Texts()
    parser.feed((PROJECT_ROOT / "api/static/map/index.html").read_text(encoding="utf-8"))
    spanish = client.get("/i18n/es.json").json()
    assert spanish["lang"] == "es" and spanish["languages"] == ["en", "es"]
    own_names = {"Veta", "English", "Español"}
    untranslated = [t for t in parser.texts if t not in own_names and t not in spanish["messages"]]
    assert untranslated == []
    assert (
        spanish["messages"]["Legend"] == "Leyenda"
        and spanish["messages"]["exclusion"] == "exclusión"
    )
    english = client.get("/i18n/en.json").json()["messages"]
    assert english["Legend"] == "Legend" and english.keys() == spanish["messages"].keys()
    negotiated = client.get("/i18n.json", headers=SPANISH)
    assert negotiated.json()["lang"] == "es" and "Accept-Language" in negotiated.headers["Vary"]


def test_the_cli_speaks_the_language_of_its_locale(cli, monkeypatch, engine, tmp_path):
    monkeypatch.setenv("VETA_LANG", "es")
    code, output = cli("db", "upgrade")
    assert (
        code == 0 and "base de datos ya en la revisión" in output and "nada que aplicar" in output
    )
    with engine.connect() as conn:
        provinces = conn.execute(
            text("SELECT count(*) FROM admin_areas WHERE level = 'province'")
        ).scalar_one()
    code, output = cli(
        "export",
        "--layer",
        "admin_areas",
        "--format",
        "geojson",
        "-o",
        tmp_path / "a.geojson",
        "--filter",
        "level = 'province'",
    )
    assert code == 0, output
    assert f"admin_areas: {provinces} elemento" in output and "feature" not in output
    monkeypatch.delenv("VETA_LANG")
    monkeypatch.setenv("LANG", "es_ES.UTF-8")
    assert "nada que aplicar" in cli("db", "upgrade")[1]
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert "nothing to apply" in cli("db", "upgrade")[1]


def test_every_collection_is_titled_in_spanish_on_its_pages(client):
    from geo.features.collections import all_collections

    catalogue = _spanish_catalogue()
    titles = {c.id: c.title for c in all_collections()}
    assert [t for t in titles.values() if not catalogue.get(("collection", t))] == []
    page = client.get("/collections?f=html", headers=SPANISH).text
    assert all(
        html.escape(catalogue[("collection", t)], quote=False) in page for t in titles.values()
    )
    assert (
        client.get("/collections").json()["collections"][0]["title"] in titles.values()
    )  # JSON: English
    item_page = client.get("/collections/permits/items?f=html&limit=1", headers=SPANISH).text
    assert "<title>Derechos mineros: elementos · Veta</title>" in item_page
