"""Without WebGL the map and the pages' maps say so instead of staying blank (Chromium with
WebGL contexts refused)."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright
from test_map_e2e import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

# Every WebGL context request answers null, as in a browser with WebGL turned off.
NO_WEBGL = """(() => {
  const original = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    return /webgl/i.test(kind) ? null : original.call(this, kind, ...rest);
  };
})();"""


@pytest.fixture
def page_without_webgl():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.add_init_script(NO_WEBGL)
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield page, errors
        finally:
            browser.close()


def test_the_map_without_webgl_shows_a_message(live_server, page_without_webgl):
    page, errors = page_without_webgl
    page.goto(f"{live_server}/map")
    message = page.wait_for_selector("#no-webgl")
    assert "needs WebGL" in message.inner_text()
    assert page.evaluate("typeof window.vetaMap") == "undefined" and not errors


def test_an_item_page_without_webgl_says_why_it_has_no_map(live_server, page_without_webgl):
    page, errors = page_without_webgl
    page.goto(f"{live_server}/collections/deposits/items?f=html&limit=5")
    box = page.wait_for_selector("#feature-map.no-map")
    assert "WebGL" in box.inner_text() and not errors
