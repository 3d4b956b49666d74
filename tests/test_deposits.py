"""GET /deposits: the headline question, checked against an independent shapely computation."""

from __future__ import annotations

import pytest
import shapely
from oracle import RESTRICTING, effects_on
from shapely import wkb
from sqlalchemy import text

HEADLINE = "/deposits?commodity=W,Li&area=leon&protection=outside&limit=10000"


def _geometries(engine, sql: str, **params) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).mappings().all()
    return [{**row, "geom": wkb.loads(bytes(row["geom"]))} for row in rows]


@pytest.fixture(scope="module")
def sample(engine):
    """Deposits, restricting zones in force today and León's outline, straight from the tables."""
    deposits = _geometries(
        engine,
        "SELECT id, commodities, depth_top_m, depth_bottom_m, ST_AsBinary(geom) AS geom FROM deposits",
    )
    zones = _geometries(
        engine,
        "SELECT id, legal_effect, valid_from, valid_to, depth_top_m, depth_bottom_m, "
        "ST_AsBinary(geom) AS geom FROM protection_zones",
    )
    leon = _geometries(
        engine, "SELECT ST_AsBinary(geom) AS geom FROM admin_areas WHERE code = '24'"
    )[0]["geom"]
    return deposits, zones, leon


def _constrained(deposit: dict, zones: list[dict], effects=RESTRICTING) -> bool:
    """Some zone with one of `effects`, in force, meets the deposit's footprint and depth interval."""
    met = effects_on(deposit["geom"], zones, deposit["depth_top_m"], deposit["depth_bottom_m"])
    return bool(met & set(effects))


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.text
    return {f["id"] for f in response.json()["features"]}


def test_headline_matches_an_independent_shapely_computation(client, sample):
    deposits, zones, leon = sample
    expected = {
        d["id"]
        for d in deposits
        if {"tungsten", "lithium"} & set(d["commodities"])
        and d["geom"].intersects(leon)
        and not _constrained(d, zones)
    }
    response = client.get(HEADLINE)
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert expected, (
        "the sample must have free W/Li deposits in León for this test to mean anything"
    )
    assert _ids(response) == expected
    assert body["numberMatched"] == len(expected) == body["numberReturned"]


def test_the_sample_has_protected_tungsten_and_lithium_too(client, sample):
    deposits, zones, leon = sample
    protected = {
        d["id"]
        for d in deposits
        if {"tungsten", "lithium"} & set(d["commodities"])
        and d["geom"].intersects(leon)
        and _constrained(d, zones)
    }
    assert protected
    assert _ids(client.get(HEADLINE.replace("outside", "inside"))) == protected


def test_inside_and_outside_partition_the_deposits_of_an_area(client):
    every = _ids(client.get("/deposits?area=24&limit=10000"))
    inside = _ids(client.get("/deposits?area=24&protection=inside&limit=10000"))
    outside = _ids(client.get("/deposits?area=24&protection=outside&limit=10000"))
    assert inside and outside
    assert inside.isdisjoint(outside)
    assert inside | outside == every


def test_legal_effect_chooses_which_zones_count(client, sample):
    deposits, zones, leon = sample
    expected = {
        d["id"]
        for d in deposits
        if d["geom"].intersects(leon) and not _constrained(d, zones, effects=("exclusion",))
    }
    response = client.get(
        "/deposits?area=leon&protection=outside&legal_effect=exclusion&limit=10000"
    )
    assert _ids(response) == expected


def test_area_by_code_and_by_name_in_any_case_or_accent_is_the_same(client):
    answers = [
        _ids(client.get(f"/deposits?commodity=W,Li&area={a}&limit=10000"))
        for a in ("leon", "León", "24", "LEÓN")
    ]
    assert answers[0] and all(a == answers[0] for a in answers)


def test_commodity_symbols_and_names_are_aliases(client):
    by_symbol = _ids(client.get("/deposits?commodity=W&limit=10000"))
    by_name = _ids(client.get("/deposits?commodity=Tungsten&limit=10000"))
    repeated = _ids(client.get("/deposits?commodity=W&commodity=li&limit=10000"))
    lithium = _ids(client.get("/deposits?commodity=lithium&limit=10000"))
    assert by_symbol and by_symbol == by_name
    assert repeated == by_symbol | lithium


def test_features_have_flat_scalar_properties_and_stable_ids(client):
    feature = client.get("/deposits?commodity=W&limit=1").json()["features"][0]
    props = feature["properties"]
    for key in (
        "name",
        "main_commodity",
        "commodities",
        "mine_status",
        "source",
        "location_precision",
    ):
        assert key in props
    assert all(not isinstance(value, (dict, list)) for value in props.values())
    assert props["main_commodity"] == "tungsten" or "tungsten" in props["commodities"]
    one = client.get(f"/deposits/{feature['id']}")
    assert one.status_code == 200 and one.json()["id"] == feature["id"]


def test_inside_lists_the_zones_a_deposit_falls_in(client):
    features = client.get("/deposits?protection=inside&limit=50").json()["features"]
    assert features
    assert all(
        f["properties"]["protection_zones"] and f["properties"]["legal_effects"] for f in features
    )


def test_following_next_returns_every_match_exactly_once(client):
    whole = _ids(client.get("/deposits?area=leon&limit=10000"))
    seen: list[int] = []
    url = "/deposits?area=leon&limit=37"
    pages = 0
    while url:
        body = client.get(url).json()
        seen += [f["id"] for f in body["features"]]
        assert body["numberMatched"] == len(whole)
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        assert all(link["type"] == "application/geo+json" for link in body["links"])
        url = nxt[0].replace("http://testserver", "") if nxt else None
        pages += 1
    assert pages > 2
    assert len(seen) == len(set(seen)) and set(seen) == whole


def test_bbox_selects_what_shapely_says(client, sample):
    deposits, _zones, _leon = sample
    box = (-6.8, 42.4, -6.0, 42.9)
    expected = {d["id"] for d in deposits if d["geom"].intersects(shapely.box(*box))}
    assert expected
    assert _ids(client.get("/deposits?limit=10000&bbox=" + ",".join(map(str, box)))) == expected


@pytest.fixture
def boundary_case(engine):
    """A square conditional zone and a deposit exactly on its west edge, removed afterwards."""
    square = "MULTIPOLYGON(((-5.5 42.5,-5.4 42.5,-5.4 42.6,-5.5 42.6,-5.5 42.5)))"
    with engine.begin() as conn:
        zone = conn.execute(
            text(
                "INSERT INTO protection_zones (source, source_id, name, designation_scheme, designation, "
                "legal_effect, geom) VALUES ('test', 'edge-zone', 'Edge test zone', 'other', 'test', "
                "'conditional', ST_GeomFromText(:g, 4326)) RETURNING id"
            ),
            {"g": square},
        ).scalar()
        deposit = conn.execute(
            text(
                "INSERT INTO deposits (source, source_id, name, occurrence_type, commodities, "
                "commodity_importance, location_precision, geom) VALUES ('test', 'edge-deposit', "
                "'On the edge', 'occurrence', ARRAY['tin'], ARRAY['main'], 'exact', "
                "ST_GeomFromText('POINT(-5.5 42.55)', 4326)) RETURNING id"
            )
        ).scalar()
    yield deposit
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE id = :d"), {"d": deposit})
        conn.execute(text("DELETE FROM protection_zones WHERE id = :z"), {"z": zone})


def test_a_deposit_exactly_on_a_zone_boundary_counts_as_inside(client, boundary_case):
    bbox = "bbox=-5.51,42.54,-5.49,42.56"
    assert boundary_case in _ids(client.get(f"/deposits?protection=inside&{bbox}"))
    assert boundary_case not in _ids(client.get(f"/deposits?protection=outside&{bbox}"))


def _problem(response, status: int, parameter: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    assert body["invalid_params"][0]["name"] == parameter
    assert parameter in body["detail"]
    return body


@pytest.mark.parametrize(
    ("query", "parameter", "allowed_hint"),
    [
        ("commodity=unobtainium", "commodity", "INSPIRE"),
        ("legal_effect=forbidden", "legal_effect", "exclusion"),
        ("area=Atlantis", "area", "INE code"),
        ("bbox=1,2,3", "bbox", "minx,miny,maxx,maxy"),
        ("bbox=a,b,c,d", "bbox", "minx,miny,maxx,maxy"),
        ("bbox=-5,43,-6,42", "bbox", "minx,miny,maxx,maxy"),
        ("limit=0", "limit", "10000"),
        ("limit=10001", "limit", "10000"),
        ("protection=maybe", "protection", ""),
        ("cursor=abc", "cursor", "next link"),
    ],
)
def test_bad_input_is_a_problem_naming_the_parameter(client, query, parameter, allowed_hint):
    body = _problem(client.get(f"/deposits?{query}"), 400, parameter)
    assert allowed_hint in str(body["invalid_params"][0].get("allowed", "")) + body["detail"]


def test_near_misses_get_a_suggestion(client):
    body = _problem(client.get("/deposits?commodity=tungstne"), 400, "commodity")
    assert "tungsten" in body["detail"]


def test_unknown_deposit_is_404_problem(client):
    response = client.get("/deposits/987654321")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_areas_lists_the_municipalities_of_leon(client, engine):
    body = client.get("/areas?level=municipality").json()
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM admin_areas WHERE level = 'municipality'")
        ).scalar()
    assert body["numberReturned"] == count == 211
    assert _problem(client.get("/areas?level=galaxy"), 400, "level")


def test_an_unknown_query_parameter_is_refused_not_ignored(client):
    body = _problem(client.get("/deposits?comodity=W"), 400, "comodity")
    assert "commodity" in body["invalid_params"][0]["allowed"]
