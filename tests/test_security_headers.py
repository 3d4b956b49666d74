"""Hardening: security headers on every answer and a content security policy on pages that the
map and the pages satisfy (no inline script or style, checked in headless Chromium); links on
VETA_BASE_URL whatever the Host header says, malformed or unlisted hosts refused; no traceback
or SQL text in any answer."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import sync_playwright
from test_map_e2e import CHROMIUM, CHROMIUM_ARGS, settle

from api.app import create_app
from api.trusted_hosts import host_name
from geo.core.settings import PROJECT_ROOT

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


def _basemap_hosts() -> set[str]:
    """The origins of the online basemaps' tile templates, read from the map's own script."""
    script = (PROJECT_ROOT / "api" / "static" / "map" / "orientation.js").read_text()
    return {
        f"{urlsplit(u).scheme}://{urlsplit(u).netloc}"
        for u in re.findall(r"https://[^`\"$]+", script)
    }


def test_only_the_map_may_fetch_the_online_basemaps_and_from_their_hosts_only(client):
    hosts = _basemap_hosts()
    # IGN Base and the PNOA orthophoto (the IGN's WMTS) and OpenStreetMap.
    assert hosts == {"https://www.ign.es", "https://tile.openstreetmap.org"}
    policy = _directives(client.get("/map").headers["content-security-policy"])
    for directive, own in (("connect-src", ["'self'"]), ("img-src", ["'self'", "data:", "blob:"])):
        assert policy[directive][: len(own)] == own
        assert sorted(policy[directive][len(own) :]) == sorted(hosts)
    assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"]
    policy = _directives(client.get("/collections?f=html").headers["content-security-policy"])
    assert policy["connect-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:", "blob:"]


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
    settle(page)
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


# ---- Links and the Host header -----------------------------------------------------------------


@pytest.fixture(scope="module")
def based(settings):
    """The app with VETA_BASE_URL set."""
    with TestClient(create_app(settings.model_copy(update={"base_url": BASE + "/"}))) as c:
        yield c


def _links(document) -> list[str]:
    if isinstance(document, dict):
        return [
            v
            for k, value in document.items()
            for v in ([value] if k == "href" and isinstance(value, str) else _links(value))
        ]
    if isinstance(document, list):
        return [v for value in document for v in _links(value)]
    return []


@pytest.mark.parametrize(
    "path", ["/", "/collections", "/collections/deposits", "/collections/deposits/items?limit=2"]
)
def test_with_a_base_url_every_link_uses_it_whatever_host_says(based, path):
    response = based.get(path, headers={"Host": FORGED})
    assert response.status_code == 200
    links = _links(response.json())
    assert links and all(link.startswith(BASE + "/") for link in links), links
    if "items" in path:
        assert any(link["rel"] == "next" for link in response.json()["links"])


@pytest.mark.parametrize(
    "path", ["/?f=html", "/collections?f=html", "/collections/deposits/items?f=html&limit=2"]
)
def test_with_a_base_url_every_page_link_uses_it_whatever_host_says(based, path):
    page = based.get(path, headers={"Host": FORGED}).text
    assert FORGED not in page
    absolute = [h for h in re.findall(r'(?:href|src|data-tiles)="([^"]+)"', page) if "//" in h]
    assert absolute and all(h.startswith(BASE + "/") for h in absolute), absolute


def test_with_a_base_url_a_problem_names_its_instance_on_it(based):
    problem = based.get("/collections/nope?limit=1", headers={"Host": FORGED}).json()
    assert problem["instance"] == BASE + "/collections/nope?limit=1"


def test_without_a_base_url_links_follow_a_well_formed_host(client):
    links = _links(client.get("/collections", headers={"Host": "veta.internal:8080"}).json())
    assert links and all(link.startswith("http://veta.internal:8080/") for link in links)


@pytest.mark.parametrize(
    "host",
    [
        "evil.example/x",
        "evil.example/",
        "user@evil.example",
        "evil example",
        'evil"example',
        "evil'example",
        "evil.example:99999",
        "evil.example:port",
        "<script>",
        "",
    ],
)
def test_a_malformed_host_is_refused_naming_the_header(client, host):
    response = client.get("/collections", headers={"Host": host})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"
    problem = response.json()
    assert problem["invalid_params"][0]["name"] == "Host"
    if host:
        assert host not in response.text


@pytest.mark.parametrize(
    "host, name",
    [
        ("veta.example.org", "veta.example.org"),
        ("Veta.Example.ORG:8443", "veta.example.org"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "[::1]"),
        ("veta_api:8000", "veta_api"),
        ("localhost", "localhost"),
    ],
)
def test_well_formed_hosts_are_read(host, name):
    assert host_name(host) == name


def test_a_malformed_host_is_refused_by_the_live_server(live_server):
    # Through a real server: uvicorn passes the header on as sent, and the answer is a problem.
    port = urlsplit(live_server).port
    with httpx.Client(base_url=live_server) as http:
        response = http.get("/collections", headers={"Host": f"evil.example@127.0.0.1:{port}"})
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "Host"


def test_with_allowed_hosts_only_those_are_answered(settings):
    allowed = settings.model_copy(update={"allowed_hosts": ["veta.example.org", "*.veta.test"]})
    with TestClient(create_app(allowed)) as c:
        for host in ("veta.example.org", "VETA.example.org:8443", "maps.veta.test"):
            assert c.get("/conformance", headers={"Host": host}).status_code == 200, host
        for host in ("evil.example", "veta.example.org.evil.example", "veta.test"):
            response = c.get("/conformance", headers={"Host": host})
            assert response.status_code == 400, host
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["invalid_params"][0]["name"] == "Host"
            assert "veta.example.org" not in response.text


# ---- No traceback or SQL text in any answer --------------------------------------------------


@pytest.fixture(scope="module")
def failing(settings):
    """The app with two routes that fail as no handler expects: a bug and a broken query."""
    app = create_app(settings)

    async def bug():
        raise RuntimeError("SELECT secret FROM credentials WHERE id = $1")

    async def broken_query():
        async with app.state.pool.acquire() as conn:
            await conn.fetch("SELECT secret_column FROM no_such_table WHERE id = $1", 1)

    app.add_api_route("/test-bug", bug)
    app.add_api_route("/test-broken-query", broken_query)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("path", ["/test-bug", "/test-broken-query"])
def test_an_unexpected_error_is_a_bare_500_problem(failing, path, caplog):
    response = failing.get(path)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"
    problem = response.json()
    assert problem["type"].endswith("/internal-error")
    assert "secret" not in response.text and "no_such_table" not in response.text
    assert not SQL.search(response.text), response.text
    # The log keeps what the answer leaves out.
    assert any("unhandled error" in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    "cql", ["depth_top_m * 1e300 * 1e300 > 1", "-depth_top_m * 1e300 * 1e300 < 1"]
)
def test_a_filter_the_database_fails_on_answers_without_its_sql(client, cql):
    # PostgreSQL computes the filter's arithmetic and fails: its message is told, not the query.
    response = client.get("/collections/deposits/items", params={"filter": cql})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "out of range" in response.json()["detail"]
    assert not SQL.search(response.text), response.text
