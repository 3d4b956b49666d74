"""GET /search: places, deposits and rights by name (any case and accents) or registry number,
checked against the database; a too-short query is a 400 naming q."""

from __future__ import annotations

from shapely.geometry import box, shape
from sqlalchemy import text

from geo.core.vocabulary import fold


def _found(client, q: str, limit: int = 10) -> list[dict]:
    response = client.get("/search", params={"q": q, "limit": limit})
    assert response.status_code == 200, response.text
    return response.json()["features"]


def test_a_municipality_by_its_name_without_accents(client, engine):
    with engine.connect() as conn:
        code, name, bounds = conn.execute(
            text(
                "SELECT code, name, ARRAY[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)] "
                "FROM admin_areas WHERE level = 'municipality' AND name LIKE '%ó%' ORDER BY code LIMIT 1"
            )
        ).one()
    typed = fold(name)[:-1]  # no accents, lower case, the last letter missing
    first = _found(client, typed)[0]
    assert first["properties"]["kind"] == "area" and first["properties"]["id"] == code
    assert all(abs(a - b) < 1e-9 for a, b in zip(first["bbox"], bounds, strict=True))
    assert box(*first["bbox"]).covers(shape(first["geometry"]))


def test_a_right_by_its_registry_number_and_a_deposit_by_its_name(client, engine):
    with engine.connect() as conn:
        permit, number = conn.execute(
            text("SELECT id, registry_number FROM permits ORDER BY id LIMIT 1")
        ).one()
        deposit, name = conn.execute(
            text("SELECT id, name FROM deposits WHERE name IS NOT NULL ORDER BY id LIMIT 1")
        ).one()
    assert {"kind": "permit", "id": str(permit)}.items() <= _found(client, number.lower())[0][
        "properties"
    ].items()
    found = [
        (f["properties"]["kind"], f["properties"]["id"]) for f in _found(client, name.upper(), 100)
    ]
    assert ("deposit", str(deposit)) in found


def test_the_limit_and_a_too_short_query(client):
    assert len(_found(client, "sil", 3)) == 3
    response = client.get("/search", params={"q": "x"})
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "q"
    assert _found(client, "%%") == [] or all(
        "%" in f["properties"]["title"] for f in _found(client, "%%")
    )
