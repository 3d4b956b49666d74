"""GET /search, the map's search box: areas, deposits and rights by name or registry number,
accent- and case-insensitive, names starting with the text first. The expected answers are
worked out here from the tables, folded by Python (unidecode), not by the SQL under test."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from unidecode import unidecode


def _fold(name: str) -> str:
    return unidecode(name).strip().casefold()


@pytest.fixture(scope="module")
def names(engine) -> dict[str, dict[str, str]]:
    """Every public name a search may find: kind -> key -> name (rights also by number)."""
    with engine.connect() as conn:
        areas = dict(conn.execute(text("SELECT code, name FROM admin_areas")).all())
        deposits = {
            str(i): n
            for i, n in conn.execute(
                text("SELECT id, coalesce(name, source_id) FROM deposits WHERE NOT confidential")
            )
        }
        permits = dict(
            conn.execute(
                text("SELECT registry_number, name FROM permits WHERE NOT confidential")
            ).all()
        )
    return {"area": areas, "deposit": deposits, "permit": permits}


def _expected(names, q: str) -> set[str]:
    folded = _fold(q)
    found = {
        f"{kind}:{key}"
        for kind, rows in names.items()
        for key, name in rows.items()
        if folded in _fold(name) or (kind == "permit" and folded in _fold(key))
    }
    return found


def _search(client, q: str, limit: int = 50) -> dict:
    response = client.get("/search", params={"q": q, "limit": limit})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()


@pytest.mark.parametrize("q", ["Ponferrada", "médulas", "villa", "tungsten", "LE-"])
def test_a_search_finds_every_name_holding_the_text_in_any_case_or_accents(client, names, q):
    expected = _expected(names, q)
    assert expected, f"the sample has something named like {q!r}"
    found = _search(client, q)
    ids = [f["id"] for f in found["features"]]
    assert len(ids) == len(set(ids)) == found["numberReturned"] <= 50
    if len(expected) <= 50:
        assert set(ids) == expected
    else:
        assert set(ids) <= expected and len(ids) == 50


def test_leon_finds_the_province_and_the_town_of_leon_first(client, names, engine):
    plain, accented = _search(client, "leon"), _search(client, "LEÓN")
    assert [f["id"] for f in plain["features"]] == [f["id"] for f in accented["features"]]
    first, second = plain["features"][:2]
    assert [first["properties"]["title"], second["properties"]["title"]] == ["León", "León"]
    # The larger area of a shared name first.
    assert [first["properties"]["level"], second["properties"]["level"]] == [
        "province",
        "municipality",
    ]
    with engine.connect() as conn:
        extent = conn.execute(
            text(
                "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                "FROM admin_areas WHERE code = :code"
            ),
            {"code": first["properties"]["code"]},
        ).one()
    assert first["bbox"] == pytest.approx(list(extent), abs=1e-6)
    assert first["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_names_that_start_with_the_text_come_before_names_that_hold_it(client):
    features = _search(client, "pon")["features"]
    starts = [_fold(f["properties"]["title"]).startswith("pon") for f in features]
    numbers = [f["properties"].get("code", "").lower().startswith("pon") for f in features]
    prefixed = [a or b for a, b in zip(starts, numbers, strict=True)]
    assert prefixed == sorted(prefixed, reverse=True) and prefixed[0]
    assert features[0]["properties"] == {
        "kind": "area",
        "title": "Ponferrada",
        "code": "24115",
        "level": "municipality",
    }


def test_a_right_is_found_by_its_registry_number(client, engine):
    with engine.connect() as conn:
        number, name, status, extent = conn.execute(
            text(
                "SELECT registry_number, name, status, "
                "ARRAY[ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)] "
                "FROM permits WHERE NOT confidential ORDER BY id DESC LIMIT 1"
            )
        ).one()
    [first, *_] = _search(client, number.lower(), limit=10)["features"]
    assert first["id"] == f"permit:{number}"
    assert first["properties"] == {
        "kind": "permit",
        "title": name,
        "code": number,
        "status": status,
    }
    assert first["bbox"] == pytest.approx(extent, abs=1e-6)


def test_a_deposit_is_found_by_name_with_its_id_and_bbox(client, engine):
    with engine.connect() as conn:
        deposit_id, name, lon, lat = conn.execute(
            text(
                "SELECT id, name, ST_X(geom), ST_Y(geom) FROM deposits "
                "WHERE name = 'Las Médulas' AND GeometryType(geom) = 'POINT'"
            )
        ).one()
    [found] = [
        f for f in _search(client, "las medulas")["features"] if f["id"] == f"deposit:{deposit_id}"
    ]
    assert found["properties"]["title"] == name and found["properties"]["id"] == deposit_id
    assert found["bbox"] == pytest.approx([lon, lat, lon, lat], abs=1e-6)


def test_the_limit_holds_and_like_wildcards_are_plain_text(client, names):
    assert len(_search(client, "synthetic", limit=3)["features"]) == 3
    assert _search(client, "%%")["features"] == _search(client, "__")["features"] == []


@pytest.mark.parametrize(
    "params, name",
    [
        ({"q": "x"}, "q"),
        ({"q": "  a "}, "q"),
        ({}, "q"),
        ({"q": "leon", "limit": 0}, "limit"),
        ({"q": "leon", "limit": 51}, "limit"),
        ({"q": "leon", "kind": "area"}, "kind"),
    ],
)
def test_a_short_text_or_a_wrong_parameter_is_a_problem_naming_it(client, params, name):
    response = client.get("/search", params=params)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert name in response.text
    if params.get("q") in ("x", "  a "):
        problem = response.json()
        assert response.status_code == 400
        assert [p["name"] for p in problem["invalid_params"]] == ["q"]
