"""Screening reports for every sample right, free ground of point sites, and unexpected errors
answered as problem+json. Expectations are recomputed with shapely from the tables."""

from __future__ import annotations

from datetime import date

import pytest
import shapely
from fastapi.testclient import TestClient
from shapely import wkb
from shapely.geometry import mapping, shape
from sqlalchemy import text

from api.app import create_app

HOLDING = ("applied", "admitted", "granted", "extended")


def _rows(engine, sql: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).mappings().all()
    return [{**r, "geom": wkb.loads(bytes(r["wkb"]))} for r in rows]


def _sample_permits(engine) -> list[dict]:
    return _rows(
        engine,
        "SELECT id, registry_number, status, expires_on, ST_AsBinary(geom) AS wkb "
        "FROM permits WHERE source NOT LIKE 't%' ORDER BY id",
    )


def _kinds(geojson: dict) -> set[str]:
    """The geometry types of a piece's parts, however its collections nest."""
    parts = [shape(geojson)]
    while any(p.geom_type.startswith(("Multi", "GeometryCollection")) for p in parts):
        parts = [q for p in parts for q in shapely.get_parts(p)]
    return {p.geom_type for p in parts if not p.is_empty}


def test_every_sample_right_gets_an_html_report_with_lines_and_points_drawn(client, engine):
    permits = _sample_permits(engine)
    assert len(permits) >= 40
    drawn_kinds = set()
    for permit in permits:
        # The right by reference, and its outline drawn by hand: edges on cuadrícula lines that
        # neighbouring rights share, so overlaps come out as lines and points too.
        for body in ({"permit": permit["id"]}, mapping(permit["geom"])):
            pieces = client.post("/screening?f=geojson", json=body)
            assert pieces.status_code == 200, (permit["registry_number"], pieces.text)
            for feature in pieces.json()["features"]:
                if feature["properties"]["role"] != "site":
                    drawn_kinds |= _kinds(feature["geometry"])
            page = client.post("/screening?f=html", json=body)
            assert page.status_code == 200, (permit["registry_number"], page.text[:300])
            assert "<svg" in page.text
    # The sample exercises what used to recurse without end.
    assert drawn_kinds & {"LineString", "Point"} and "Polygon" in drawn_kinds, drawn_kinds


def _point_inside(geom):
    point = geom.representative_point()
    assert geom.contains(point)
    return point


def test_a_point_inside_an_exclusion_zone_has_no_free_ground(client, engine):
    zones = _rows(
        engine,
        "SELECT id, ST_AsBinary(geom) AS wkb FROM protection_zones WHERE legal_effect = 'exclusion' "
        "AND depth_top_m IS NULL AND depth_bottom_m IS NULL "
        "AND (valid_to IS NULL OR valid_to >= current_date) "
        "AND (valid_from IS NULL OR valid_from <= current_date) ORDER BY id LIMIT 1",
    )
    point = _point_inside(zones[0]["geom"])
    report = client.post("/screening", json=mapping(point)).json()
    assert report["verdict"] == "excluded"
    assert report["free_ground"]["share"] == 0 and report["free_ground"]["area_ha"] == 0
    assert shape(report["free_ground"]["geometry"]).is_empty


def test_a_point_inside_a_held_right_has_no_free_ground_and_open_ground_is_all_free(client, engine):
    today = date.today()
    held = [
        p
        for p in _sample_permits(engine)
        if p["status"] in HOLDING and (p["expires_on"] is None or p["expires_on"] >= today)
    ]
    point = _point_inside(held[0]["geom"])
    others = [p for p in _sample_permits(engine) if p["geom"].intersects(point)]
    assert [p["id"] for p in others] == [held[0]["id"]]
    report = client.post("/screening", json=mapping(point)).json()
    assert held[0]["id"] in [p["id"] for p in report["permits"]]
    assert report["free_ground"]["share"] == 0 and shape(report["free_ground"]["geometry"]).is_empty

    # Far from any right or zone (checked against the tables): the whole point is free.
    open_point = shapely.Point(-5.2, 42.9)
    assert not any(p["geom"].intersects(open_point) for p in _sample_permits(engine))
    zones = _rows(engine, "SELECT ST_AsBinary(geom) AS wkb FROM protection_zones")
    assert not any(z["geom"].intersects(open_point) for z in zones)
    report = client.post("/screening", json=mapping(open_point)).json()
    assert report["free_ground"]["share"] == 1
    assert shape(report["free_ground"]["geometry"]).equals(open_point)


@pytest.fixture
def failing_client(settings):
    app = create_app(settings)

    @app.get("/test-unexpected-failure")
    async def fail():
        raise RecursionError("maximum recursion depth exceeded")

    with TestClient(app) as c:
        yield c


def test_an_unexpected_error_is_a_500_problem_not_a_dropped_connection(failing_client):
    response = failing_client.get("/test-unexpected-failure")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 500 and body["type"].endswith("internal-error")
    # The server keeps answering on the same client.
    assert failing_client.get("/vocabularies").status_code == 200


# --- the ground status beside the verdict -------------------------------------------------------


def _expected_ground(permits: list[dict], site) -> str:
    """open / applied_for / held from the rights standing on the site (not only along an edge)."""
    today = date.today()
    statuses = set()
    for p in permits:
        status = p["status"]
        if (
            status in ("granted", "extended")
            and p["expires_on"] is not None
            and p["expires_on"] < today
        ):
            status = "lapsed"
        on_site = p["geom"].intersects(site) and (
            site.geom_type == "Point" or not p["geom"].touches(site)
        )
        if on_site:
            statuses.add(status)
    if statuses & {"granted", "extended"}:
        return "held"
    return "applied_for" if statuses & {"applied", "admitted"} else "open"


def test_ground_status_stands_beside_the_verdict_for_points_in_every_sample_right(client, engine):
    permits = _sample_permits(engine)
    seen = set()
    for permit in permits:
        point = _point_inside(permit["geom"])
        report = client.post("/screening", json=mapping(point)).json()
        expected = _expected_ground(permits, point)
        assert report["ground_status"] == expected, permit["registry_number"]
        assert report["verdict"] in ("excluded", "conditional", "free")
        seen.add(expected)
    # The sample has rights of each kind, so every status was checked at least once.
    assert seen == {"open", "applied_for", "held"}, seen


def test_batch_and_deposit_screening_carry_the_same_ground_status(client, engine):
    permits = _sample_permits(engine)
    points = [_point_inside(p["geom"]) for p in permits]
    batch = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": i, "geometry": mapping(pt), "properties": {}}
            for i, pt in enumerate(points)
        ],
    }
    rows = client.post("/screening/batch", json=batch).json()["features"]
    assert [r["properties"]["ground_status"] for r in rows] == [
        _expected_ground(permits, pt) for pt in points
    ]

    deposits = _rows(
        engine, "SELECT id, ST_AsBinary(geom) AS wkb FROM deposits WHERE source NOT LIKE 't%'"
    )
    items = client.get("/collections/deposit_screening/items", params={"limit": 10000}).json()[
        "features"
    ]
    by_id = {f["id"]: f["properties"]["ground_status"] for f in items}
    expected = {d["id"]: _expected_ground(permits, d["geom"]) for d in deposits}
    assert {i: by_id[i] for i in expected} == expected
    assert set(expected.values()) >= {"open", "applied_for"} or set(expected.values()) >= {
        "open",
        "held",
    }


def test_the_html_report_shows_the_ground_status(client, engine):
    held = [p for p in _sample_permits(engine) if p["status"] == "applied"]
    page = client.post("/screening?f=html", json=mapping(_point_inside(held[0]["geom"]))).text
    assert "ground applied for" in page
