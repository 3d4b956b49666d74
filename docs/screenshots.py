"""Take the screenshots under docs/ (the map and a kept report, in English and Spanish) with
headless Chromium, from a running Veta with the sample loaded (`make run`, then in another shell
`.venv/bin/python docs/screenshots.py [http://127.0.0.1:8000]`)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]
# A polygon drawn over the Sierra de la Cabrera (León): zones, rights and free ground in one site.
SITE = {
    "type": "Polygon",
    "coordinates": [
        [[-6.80, 42.43], [-6.72, 42.43], [-6.72, 42.49], [-6.80, 42.49], [-6.80, 42.43]]
    ],
}


def main(base: str) -> None:
    report = httpx.post(f"{base}/screening", json=SITE, timeout=120).headers["Location"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            for lang in ("en", "es"):
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.set_default_timeout(120_000)
                page.goto(f"{base}/map?lang={lang}")
                page.wait_for_function("() => window.vetaMap && window.vetaMap.loaded()")
                page.wait_for_function(f"() => document.documentElement.lang === '{lang}'")
                page.evaluate(f"window.vetaI18n.load('{lang}')")
                page.evaluate("(site) => screen(site, 'Sierra de la Cabrera')", SITE)
                page.wait_for_selector("#open-report")
                page.evaluate(
                    "window.vetaMap.fitBounds([[-6.95, 42.36], [-6.57, 42.56]], {animate: false})"
                )
                page.evaluate(
                    "new Promise((resolve) => { window.vetaMap.once('idle', resolve); window.vetaMap.triggerRepaint(); })"
                )
                page.screenshot(path=DOCS / f"map-{lang}.png")
                page.goto(f"{report}&lang={lang}")
                page.screenshot(path=DOCS / f"report-{lang}.png", full_page=False)
                page.close()
        finally:
            browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
