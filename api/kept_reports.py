"""Kept screening and plan-impact reports as HTTP answers: json, geojson, html and pdf, each
pointing at the report's permanent link (a Location header and a rel=report link)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import tempfile
from functools import cache
from pathlib import Path

import orjson
from fastapi import Request
from fastapi.responses import Response

from api.links import url_for_path
from api.ogc.html import TEMPLATES
from api.planning_output import impact_geojson, impact_json, impact_map
from api.screening_output import report_geojson, report_json, report_map
from api.security_headers import content_security_policy
from api.streaming import GEOJSON
from geo.core.errors import VetaError
from geo.store.reports import keep_report

PDF = "application/pdf"
# Chromium prints a report in about a second; one that hangs is stopped.
PDF_TIMEOUT_S = 60
FORMATS = {
    "json": "application/json",
    "geojson": GEOJSON,
    "html": "text/html; charset=utf-8",
    "pdf": PDF,
}
# What a report route answers, for the OpenAPI document: the media types of FORMATS.
REPORT_CONTENT: dict[str, dict] = {media_type.split(";")[0]: {} for media_type in FORMATS.values()}
# The reports' styles, written into each page.
STYLES_DIR = Path(__file__).resolve().parent / "styles"
# Per kind: the template of the printable page, its map, and the JSON and GeoJSON encoders.
_KINDS = {
    "screening": ("screening.html", report_map, report_json, report_geojson),
    "plan_impact": ("planning.html", impact_map, impact_json, impact_geojson),
}


class PdfFailed(VetaError, status=500, title="PDF not made", slug="pdf-failed"):
    """Chromium could not print the report."""


def report_url(request: Request, report_id: str, f: str | None = None) -> str:
    return url_for_path(request, f"/screening/reports/{report_id}", f=f)


async def kept_request(request: Request) -> dict:
    """What a kept report records of its request: path, query and body (JSON already validated)."""
    return {
        "path": request.url.path,
        "query": dict(request.query_params.multi_items()),
        "content_crs": request.headers.get("content-crs"),
        "body": orjson.loads(await request.body()),
    }


def report_links(request: Request, report_id: str) -> list[dict]:
    """The permanent link in every format, the first one rel=report."""
    links = [
        {
            "rel": "report",
            "type": "text/html",
            "title": "This report (permanent link)",
            "href": report_url(request, report_id, "html"),
        }
    ]
    links += [
        {
            "rel": "alternate",
            "type": media,
            "title": f"This report as {f}",
            "href": report_url(request, report_id, f),
        }
        for f, media in FORMATS.items()
        if f != "html"
    ]
    return links


@cache
def report_styles(kind: str) -> tuple[str, str]:
    """A report's styles and the content security policy of its page, which allows them (and no
    other inline style) by their hash."""
    styles = (STYLES_DIR / _KINDS[kind][0].replace(".html", ".css")).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(styles.encode()).digest()).decode()
    return styles, content_security_policy(style_src=(f"'sha256-{digest}'",))


def report_html(request: Request, kind: str, report: dict) -> str:
    template, draw, _, _ = _KINDS[kind]
    context = {
        "request": request,
        "report": report,
        "map": draw(report),
        "links": report_links(request, report["id"]),
        "styles": report_styles(kind)[0],
    }
    return TEMPLATES.get_template(template).render(context)


async def html_to_pdf(html: str, chromium: str) -> bytes:
    """The page printed by headless Chromium (A4, the page's own print styles)."""
    with tempfile.TemporaryDirectory(prefix="veta-pdf-") as tmp:
        page, pdf = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        try:
            process = await asyncio.create_subprocess_exec(
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--no-pdf-header-footer",
                f"--user-data-dir={tmp}/profile",
                f"--print-to-pdf={pdf}",
                page.as_uri(),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise PdfFailed(
                f"Chromium ({chromium}, setting VETA_CHROMIUM) cannot be started: {exc}; "
                "the report is still there as f=html"
            ) from None
        try:
            _, errors = await asyncio.wait_for(process.communicate(), PDF_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise PdfFailed(
                f"Chromium took longer than {PDF_TIMEOUT_S} s to print the report"
            ) from None
        if process.returncode != 0 or not pdf.exists():
            raise PdfFailed(
                f"{chromium} ended with code {process.returncode}: {errors.decode(errors='replace')[-300:]}"
            )
        return pdf.read_bytes()


async def keep_and_answer(request: Request, kind: str, report: dict, f: str) -> Response:
    """Keep a fresh answer under its permanent link, then answer it in format f."""
    kept = await keep_report(request.app.state.pool, kind, await kept_request(request), report)
    return await report_response(request, kind, kept, f)


async def report_response(request: Request, kind: str, report: dict, f: str) -> Response:
    """The report in format f, with its permanent link as Location and in a Link header."""
    _, _, as_json, as_geojson = _KINDS[kind]
    report = {**report, "links": report_links(request, report["id"])}
    if f == "json":
        body = as_json(report)
    elif f == "geojson":
        body = _with_links(as_geojson(report), report["links"])
    elif f == "html":
        body = report_html(request, kind, report).encode()
    else:
        async with request.app.state.pdf_printers:
            body = await html_to_pdf(
                report_html(request, kind, report), request.app.state.settings.chromium
            )
    permanent = report_url(request, report["id"], "html")
    headers = {"Location": permanent, "Link": f'<{permanent}>; rel="report"; type="text/html"'}
    if f == "html":
        headers["Content-Security-Policy"] = report_styles(kind)[1]
    if f == "pdf":
        headers["Content-Disposition"] = (
            f'inline; filename="veta-{kind.replace("_", "-")}-{report["id"]}.pdf"'
        )
    return Response(body, media_type=FORMATS[f], headers=headers)


def _with_links(geojson: bytes, links: list[dict]) -> bytes:
    return orjson.dumps({**orjson.loads(geojson), "links": links})
