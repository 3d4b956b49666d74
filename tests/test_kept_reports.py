"""Kept reports: every screening and plan-impact answer is stored and answers again, in every
format, at the permanent link it gives (Location, rel=report), with its date, data versions,
ETRS89 / UTM coordinates, sources and a disclaimer; the PDF is the same page printed."""

from __future__ import annotations

import io
import uuid

import pytest
import shapely
from pypdf import PdfReader
from pyproj import Transformer
from shapely.geometry import mapping, shape
from sqlalchemy import text

# A drawn square north of León, in UTM zone 30 (west of 6° W is zone 29).
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[-5.60, 42.62], [-5.55, 42.62], [-5.55, 42.66], [-5.60, 42.66], [-5.60, 42.62]]
    ],
}
PLAN = {
    "type": "Feature",
    "properties": {"name": "Solar park", "land_use": "energy", "legal_effect": "exclusion"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[-6.80, 42.45], [-6.74, 42.45], [-6.74, 42.49], [-6.80, 42.49], [-6.80, 42.45]]
        ],
    },
}


def _report_path(response) -> str:
    location = response.headers["Location"]
    return location.removeprefix("http://testserver")


def test_a_screening_answer_gives_its_permanent_link_as_location_and_rel_report(client):
    response = client.post("/screening", json=SQUARE)
    assert response.status_code == 200
    report = response.json()
    uuid.UUID(report["id"])  # unguessable: a random UUID
    location = response.headers["Location"]
    assert location == f"http://testserver/screening/reports/{report['id']}?f=html"
    assert response.headers["Link"] == f'<{location}>; rel="report"; type="text/html"'
    assert [link["href"] for link in report["links"] if link["rel"] == "report"] == [location]
    for f in ("html", "geojson"):
        other = client.post(f"/screening?f={f}", json=SQUARE)
        assert other.headers["Location"].startswith("http://testserver/screening/reports/")
        assert other.headers["Location"] != location  # each answer is kept on its own


def test_the_kept_report_answers_again_the_same_in_every_format(client, engine):
    response = client.post("/screening", json=SQUARE)
    first = response.json()
    path = _report_path(response).removesuffix("?f=html")
    again = client.get(path, params={"f": "json"}).json()
    assert again == first
    features = client.get(path, params={"f": "geojson"}).json()["features"]
    site = next(f for f in features if f["properties"]["role"] == "site")
    assert shape(site["geometry"]).equals(shape(SQUARE))
    page = client.get(path)
    assert page.headers["content-type"].startswith("text/html")
    assert first["id"] in page.text and "Disclaimer" in page.text
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT kind, request -> 'body', data_versions FROM screening_reports WHERE id = :id"
            ),
            {"id": first["id"]},
        ).one()
    assert stored[0] == "screening" and stored[1] == SQUARE
    with engine.connect() as conn:
        versions = dict(
            conn.execute(
                text(
                    "SELECT table_name, version FROM table_changes WHERE table_name IN "
                    "('admin_areas', 'deposits', 'permits', 'protection_zones')"
                )
            ).all()
        )
    assert {t: v["version"] for t, v in stored[2].items()} == versions
    assert {t: v["version"] for t, v in first["data_versions"].items()} == versions


def test_the_report_gives_the_site_in_etrs89_utm_of_its_zone(client):
    report = client.post("/screening", json=SQUARE).json()
    utm = report["utm"]
    assert utm["crs"] == "EPSG:25830"
    to_utm = Transformer.from_crs(4326, 25830, always_xy=True)
    expected = [to_utm.transform(x, y) for x, y in SQUARE["coordinates"][0][:-1]]
    assert len(utm["vertices"]) == 1
    for (e, n), (x, y) in zip(utm["vertices"][0], expected):
        assert abs(e - x) < 0.1 and abs(n - y) < 0.1
    point = shapely.Point(utm["point"])
    assert shapely.Polygon(expected).contains(point)
    page = client.get(_report_path(client.post("/screening", json=SQUARE))).text
    assert "ETRS89 / UTM zone 30N" in page and f"{expected[0][0]:,.1f}" in page

    west = client.post("/screening", json={"type": "Point", "coordinates": [-6.77, 42.47]}).json()
    assert west["utm"]["crs"] == "EPSG:25829"


def test_the_report_names_the_sources_and_licences_of_what_it_lists(client, engine):
    with engine.connect() as conn:
        zone_id, wkb = conn.execute(
            text(
                "SELECT id, ST_AsBinary(ST_PointOnSurface(geom)) FROM protection_zones "
                "ORDER BY id LIMIT 1"
            )
        ).one()
    point = shapely.from_wkb(bytes(wkb))
    report = client.post("/screening", json=mapping(point)).json()
    zone_ids = {z["id"] for z in report["zones"] + report["nearby"]}
    assert zone_id in zone_ids
    with engine.connect() as conn:
        expected = set(
            conn.execute(
                text("SELECT source, licence FROM protection_zones WHERE id = ANY(:ids)"),
                {"ids": sorted(zone_ids)},
            ).all()
        )
    listed = {(s["source"], s["licence"]) for s in report["sources"]}
    assert expected <= listed
    with engine.connect() as conn:
        permits = set(
            conn.execute(
                text("SELECT source, licence FROM permits WHERE id = ANY(:ids)"),
                {"ids": [p["id"] for p in report["permits"]]},
            ).all()
        )
        municipalities = set(
            conn.execute(
                text("SELECT source, licence FROM admin_areas WHERE code = ANY(:codes)"),
                {"codes": [m["code"] for m in report["municipalities"]]},
            ).all()
        )
    assert permits | municipalities <= listed and len(listed) == len(
        expected | permits | municipalities
    )


def test_the_pdf_is_the_report_printed_on_a4(client):
    response = client.post("/screening", json=SQUARE)
    path = _report_path(response).removesuffix("?f=html")
    pdf = client.get(path, params={"f": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) >= 1
    words = " ".join(page.extract_text() for page in reader.pages)
    assert response.json()["id"] in words.replace("\n", "")
    assert "Disclaimer" in words
    # A4 portrait (the page's @page rule), in points.
    box = reader.pages[0].mediabox
    assert round(float(box.width)) == 595 and round(float(box.height)) == 842


def test_a_plan_impact_answer_is_kept_too(client):
    response = client.post("/planning/impact", json=PLAN)
    report = response.json()
    kept = client.get(_report_path(response).removesuffix("?f=html"), params={"f": "json"}).json()
    assert kept == report and kept["verdict"] in ("conflict", "caution", "clear")
    page = client.get(_report_path(response)).text
    assert "Plan impact" in page and "Disclaimer" in page


@pytest.mark.parametrize(
    "report_id", [str(uuid.UUID(int=0)), "not-a-uuid", "5b0d6f43-9d8e-4c1e-b7a2-3f6e1c0a9d24"]
)
def test_an_unknown_report_is_a_404_problem(client, report_id):
    response = client.get(f"/screening/reports/{report_id}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not found" and report_id in response.json()["detail"]


def test_without_chromium_the_pdf_is_a_problem_and_the_report_stays(settings, client):
    from fastapi.testclient import TestClient

    from api.app import create_app

    path = _report_path(client.post("/screening", json=SQUARE)).removesuffix("?f=html")
    with TestClient(
        create_app(settings.model_copy(update={"chromium": "/nonexistent/chromium"}))
    ) as broken:
        response = broken.get(path, params={"f": "pdf"})
        assert (
            response.status_code == 500
            and response.headers["content-type"] == "application/problem+json"
        )
        assert "/nonexistent/chromium" in response.json()["detail"]
        assert broken.get(path).status_code == 200


def test_pdfs_asked_at_once_are_printed_at_most_two_at_a_time(settings, client, monkeypatch):
    import asyncio

    import httpx

    from api.app import create_app

    path = _report_path(client.post("/screening", json=SQUARE)).removesuffix("?f=html")
    app = create_app(settings)
    printing, most = 0, 0
    original = asyncio.create_subprocess_exec

    async def counted(*args, **kwargs):
        nonlocal printing, most
        printing += 1
        most = max(most, printing)
        process = await original(*args, **kwargs)
        communicate = process.communicate

        async def done():
            nonlocal printing
            try:
                return await communicate()
            finally:
                printing -= 1

        process.communicate = done
        return process

    async def five_at_once():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await asyncio.gather(*(c.get(path, params={"f": "pdf"}) for _ in range(5)))

    # Chromium processes counted as they start and end.
    monkeypatch.setattr(asyncio, "create_subprocess_exec", counted)
    responses = asyncio.run(five_at_once())
    assert [r.status_code for r in responses] == [200] * 5
    assert most == settings.pdf_max_concurrent == 2
