"""Hardening: security headers on every answer and a content security policy on pages that the
map and the pages satisfy (no inline script or style, checked in headless Chromium)."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import sync_playwright
from test_map_e2e import CHROMIUM, CHROMIUM_ARGS

BASE = "https://veta.example.org/veta"
FORGED = "evil.example"
HTML = {"Accept": "text/html"}
PAGES = ["/?f=html", "/collections?f=html", "/map", "/api.html"]
# Words of SQL that no answer's body may carry (a database error quoting its statement).
SQL = re.compile(r"\b(SELECT|FROM|WHERE|ST_\w+|\$\d+)\b|Traceback|File \"")


def _directives(policy: str) -> dict[str, list[str]]:
    return {
        name: sources
        for name, *sources in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_the_policy_frame_options_and_nosniff(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = _directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert {"'self'", "blob:"} <= set(policy["worker-src"])
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_only_the_map_may_fetch_the_online_basemap(client):
    policy = _directives(client.get("/map").headers["content-security-policy"])
    assert policy["connect-src"] == ["'self'", "https://tile.openstreetmap.org"]
    policy = _directives(client.get("/collections?f=html").headers["content-security-policy"])
    assert policy["connect-src"] == ["'self'"]


@pytest.mark.parametrize(
    "path", ["/collections", "/collections/deposits/items?limit=1", "/collections/nope"]
)
def test_json_answers_and_problems_carry_nosniff_but_no_page_headers(client, path):
    response = client.get(path)
    assert not response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "content-security-policy" not in response.headers
    assert "x-frame-options" not in response.headers


def test_static_files_carry_nosniff(client):
    response = client.get("/static/map/map.js")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "javascript" in response.headers["content-type"]


def test_redoc_keeps_its_own_policy_and_gets_the_rest(client):
    response = client.get("/redoc.html")
    policy = _directives(response.headers["content-security-policy"])
    assert "'unsafe-inline'" in policy["style-src"] and policy["frame-ancestors"] == ["'none'"]
    assert response.headers["x-frame-options"] == "DENY"


class _Inline(HTMLParser):
    """What a page carries that a policy without 'unsafe-inline' would refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {n}=" for n in names if n == "style" or n.startswith("on")]


def _report_paths(client) -> list[str]:
    site = {
        "type": "Polygon",
        "coordinates": [
            [[-5.60, 42.62], [-5.55, 42.62], [-5.55, 42.66], [-5.60, 42.66], [-5.60, 42.62]]
        ],
    }
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
    answers = [client.post("/screening", json=site), client.post("/planning/impact", json=plan)]
    return [urlsplit(a.headers["Location"]).path + "?f=html" for a in answers]


def test_no_page_carries_an_inline_script_style_or_event_handler(client):
    item = client.get("/collections/deposits/items", params={"limit": 1}).json()["features"][0]
    paths = PAGES + [
        "/collections/deposits?f=html",
        "/collections/deposits/items?f=html&limit=5",
        f"/collections/deposits/items/{item['id']}?f=html",
        "/conformance?f=html",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        parser = _Inline()
        parser.feed(response.text)
        assert parser.found == [], path


def test_a_report_page_carries_its_styles_allowed_by_their_hash_and_nothing_else(client):
    for path in _report_paths(client):
        response = client.get(path)
        parser = _Inline()
        parser.feed(response.text)
        assert parser.found == ["<style>"], path
        styles = re.search(r"<style>(.*?)</style>", response.text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(styles.encode()).digest()).decode()
        policy = _directives(response.headers["content-security-policy"])
        assert policy["style-src"] == ["'self'", f"'sha256-{digest}'"], path
        assert policy["script-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
        assert response.headers["x-frame-options"] == "DENY"


# ---- In a browser: the policy refuses nothing the pages do ------------------------------------

# Records every violation of the page's policy from the first script on.
RECORD_VIOLATIONS = """(() => {
  window.cspViolations = [];
  document.addEventListener("securitypolicyviolation", (e) =>
    window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
})();"""


@pytest.fixture(scope="module")
def tab():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:

            def open_tab():
                page = browser.new_page(viewport={"width": 1024, "height": 700})
                page.set_default_timeout(90_000)
                page.add_init_script(RECORD_VIOLATIONS)
                console: list[str] = []
                page.on("console", lambda m: console.append(m.text))
                page.on("pageerror", lambda e: console.append(str(e)))
                return page, console

            yield open_tab
        finally:
            browser.close()


def _refused(page, console: list[str]) -> list[str]:
    return page.evaluate("window.cspViolations") + [
        m for m in console if "Content Security Policy" in m or "Content-Security-Policy" in m
    ]


@pytest.mark.e2e
def test_the_map_draws_under_the_policy(live_server, tab):
    page, console = tab()
    page.goto(f"{live_server}/map")
    page.wait_for_function("() => window.vetaMap && window.vetaMap.loaded()")
    page.wait_for_function("() => document.querySelectorAll('#area option').length > 1")
    page.evaluate(
        "() => new Promise((r) => { window.vetaMap.once('idle', r); window.vetaMap.triggerRepaint(); })"
    )
    assert page.locator("#map canvas.maplibregl-canvas").count() == 1
    assert page.evaluate("window.vetaMap.queryRenderedFeatures().length") > 0
    # The legend's colours and the raster ramps are set through the DOM, not style attributes.
    assert page.evaluate(
        "getComputedStyle(document.querySelector('#legend [data-fill]')).backgroundColor"
    ) not in ("", "rgba(0, 0, 0, 0)")
    assert _refused(page, console) == []


@pytest.mark.e2e
def test_an_item_page_draws_its_map_under_the_policy(live_server, client, tab):
    feature = client.get("/collections/deposits/items", params={"limit": 1}).json()["features"][0]
    page, console = tab()
    page.goto(f"{live_server}/collections/deposits/items/{feature['id']}?f=html")
    page.wait_for_function("() => window.vetaPageMap && window.vetaPageMap.loaded()")
    assert page.locator("#feature-map canvas.maplibregl-canvas").count() == 1
    # The page's own styles came from its stylesheet.
    assert page.evaluate("getComputedStyle(document.querySelector('th')).backgroundColor") == (
        "rgb(243, 243, 243)"
    )
    assert _refused(page, console) == []


@pytest.mark.e2e
def test_the_api_page_and_the_reports_work_under_the_policy(live_server, tab):
    with httpx.Client(base_url=live_server, timeout=60) as http:
        reports = _report_paths(http)
    page, console = tab()
    page.goto(f"{live_server}/api.html")
    page.wait_for_selector(".opblock", timeout=60_000)
    assert page.locator(".opblock").count() > 20
    for path in reports:
        page.goto(live_server + path)
        assert page.evaluate("getComputedStyle(document.querySelector('.verdict')).color") == (
            "rgb(255, 255, 255)"
        )
    assert _refused(page, console) == []
