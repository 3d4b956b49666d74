"""POST /planning/impact: sterilised deposits, hectares and verdict against shapely and pyproj."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from oracle import depths_overlap
from pyproj import Geod, Transformer
from shapely.geometry import Point, shape
from sqlalchemy import text

pytestmark = pytest.mark.usefixtures("remove_test_records")
GEOD = Geod(ellps="WGS84")
LON, LAT = -2.5, 40.6  # far from the León sample
TO_UTM = Transformer.from_crs(4326, 25830, always_xy=True)
UTM = "http://www.opengis.net/def/crs/EPSG/0/25830"


def _area_ha(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e4


@pytest.fixture(scope="module")
def ground(engine):
    """Deposits with an MDoPI class, and a safeguarding zone, around (LON, LAT)."""
    deposits = {
        "outline": (
            shapely.box(LON - 0.005, LAT - 0.005, LON + 0.005, LAT + 0.005),
            0.0,
            200.0,
            "eu",
            ["tungsten"],
        ),
        "deep": (Point(LON + 0.01, LAT), 300.0, 600.0, "national", ["lithium", "tin"]),
        "shallow": (Point(LON - 0.01, LAT + 0.002), None, None, "local", ["slate"]),
        "outside": (Point(LON + 0.2, LAT), None, None, "eu", ["cobalt"]),
    }
    ids = {}
    with engine.begin() as conn:
        for key, (geom, top, bottom, klass, commodities) in deposits.items():
            wkt = (shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom).wkt
            ids[key] = conn.execute(
                text(
                    "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, location_precision, "
                    "depth_top_m, depth_bottom_m, geom, source, source_id) VALUES (:n, 'mineralDeposit', :c, :i, 'exact', "
                    ":t, :b, ST_GeomFromText(:wkt, 4326), 't-impact', :sid) RETURNING id"
                ),
                {
                    "n": key,
                    "sid": key,
                    "c": commodities,
                    "i": ["main"] * len(commodities),
                    "t": top,
                    "b": bottom,
                    "wkt": wkt,
                },
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO deposit_assessments (deposit_id, method_name, method_version, as_of, geological, "
                    "technical_economic, land_use, societal, score, mdopi_class, inputs, reasons) VALUES "
                    "(:d, 'test', '1', current_date, 0, 0, 0, 0, 0, :k, '{}', '[]')"
                ),
                {"d": ids[key], "k": klass},
            )
        safeguarding = shapely.box(LON - 0.02, LAT - 0.02, LON - 0.004, LAT + 0.02)
        conn.execute(
            text(
                "INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, geom, source, source_id) "
                "VALUES ('test safeguarding', 'mineralSafeguarding', 'test', 'safeguarding', "
                "ST_Multi(ST_GeomFromText(:wkt, 4326)), 't-impact', 'sg')"
            ),
            {"wkt": safeguarding.wkt},
        )
    return {"ids": ids, "deposits": deposits, "safeguarding": safeguarding}


def _plan_utm(lonlat) -> dict:
    """A plan polygon given in ETRS89 / UTM 30N (EPSG:25830)."""
    return shapely.geometry.mapping(
        shapely.transform(lonlat, lambda xy: np.column_stack(TO_UTM.transform(*xy.T)))
    )


PLAN = shapely.box(LON - 0.015, LAT - 0.003, LON + 0.015, LAT + 0.003)


def _post(client, plan_lonlat, **properties):
    body = {
        "type": "Feature",
        "geometry": _plan_utm(plan_lonlat),
        "properties": {"land_use": "energy", "legal_effect": "exclusion", **properties},
    }
    response = client.post("/planning/impact", json=body, headers={"Content-Crs": f"<{UTM}>"})
    assert response.status_code == 200, response.text
    return response.json()


def test_impact_matches_an_independent_computation(client, ground):
    report = _post(client, PLAN, name="Solar park", depth_top_m=0, depth_bottom_m=50)
    plan = shape(report["plan"]["geometry"])
    assert plan.symmetric_difference(PLAN).area < 1e-9  # the UTM plan came back to lon/lat
    assert report["plan"]["area_ha"] == pytest.approx(_area_ha(PLAN), rel=1e-3)

    expected = {}
    for key, (geom, top, bottom, klass, _) in ground["deposits"].items():
        if geom.intersects(PLAN):
            expected[ground["ids"][key]] = (klass, depths_overlap(top, bottom, 0, 50))
    got = {
        d["id"]: (d["mdopi_class"], d["sterilised"])
        for d in report["deposits"]
        if d["id"] in expected
    }
    assert got == expected
    assert got[ground["ids"]["deep"]] == (
        "national",
        False,
    )  # deep deposit under a surface-only plan
    outline = next(d for d in report["deposits"] if d["id"] == ground["ids"]["outline"])
    assert outline["overlap_ha"] == pytest.approx(
        _area_ha(PLAN.intersection(ground["deposits"]["outline"][0])), rel=1e-3
    )

    zone = next(z for z in report["safeguarding_areas"] if z["name"] == "test safeguarding")
    overlap = PLAN.intersection(ground["safeguarding"])
    assert zone["overlap_ha"] == pytest.approx(_area_ha(overlap), rel=1e-3)
    assert zone["share"] == pytest.approx(
        _area_ha(overlap) / _area_ha(ground["safeguarding"]), rel=1e-3
    )

    assert report["verdict"] == "conflict"
    assert (
        report["sterilised"]["by_class"]["eu"] == 1
        and report["sterilised"]["by_class"]["national"] == 0
    )
    tungsten = next(c for c in report["sterilised"]["by_commodity"] if c["commodity"] == "tungsten")
    assert tungsten["strategic_raw_material"] and tungsten["deposits"] == 1


def test_verdicts_and_alternatives_least_impact_first(client, ground):
    informative = _post(client, PLAN, legal_effect="informative")
    assert informative["verdict"] == "caution" and not any(
        d["sterilised"] for d in informative["deposits"]
    )
    far = shapely.box(LON + 1.0, LAT + 0.5, LON + 1.01, LAT + 0.51)
    assert _post(client, far)["verdict"] == "clear"
    only_safeguarding = shapely.box(LON - 0.018, LAT + 0.015, LON - 0.016, LAT + 0.018)
    assert not any(g.intersects(only_safeguarding) for g, *_ in ground["deposits"].values())
    report = _post(client, only_safeguarding)
    assert report["verdict"] == "caution" and report["deposits"] == []

    features = [
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(g),
            "properties": {"name": n, "land_use": "urban", "legal_effect": "exclusion"},
        }
        for n, g in (("A over the deposits", PLAN), ("B far away", far))
    ]
    response = client.post(
        "/planning/impact/batch", json={"type": "FeatureCollection", "features": features}
    )
    assert response.status_code == 200, response.text
    names = [a["plan"]["name"] for a in response.json()["alternatives"]]
    assert names == ["B far away", "A over the deposits"]


def test_geojson_and_html(client, ground):
    body = {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(PLAN),
        "properties": {"land_use": "urban", "legal_effect": "exclusion"},
    }
    collection = client.post("/planning/impact?f=geojson", json=body).json()
    roles = [f["properties"]["role"] for f in collection["features"]]
    assert roles[0] == "plan" and "sterilised_deposit" in roles
    page = client.post("/planning/impact?f=html", json=body)
    assert page.status_code == 200 and "conflict" in page.text and "<svg" in page.text


@pytest.mark.parametrize(
    "properties, field",
    [
        ({"legal_effect": "exclusion"}, "properties.land_use"),
        ({"land_use": "mine", "legal_effect": "exclusion"}, "properties.land_use"),
        ({"land_use": "urban", "legal_effect": "exclusion", "colour": "red"}, "properties.colour"),
        (
            {
                "land_use": "urban",
                "legal_effect": "exclusion",
                "depth_top_m": 50,
                "depth_bottom_m": 10,
            },
            "properties.depth_bottom_m",
        ),
    ],
)
def test_bad_plans_are_refused_naming_the_field(client, properties, field):
    body = {"type": "Feature", "geometry": shapely.geometry.mapping(PLAN), "properties": properties}
    response = client.post("/planning/impact", json=body)
    assert response.status_code == 400 and response.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert response.json()["invalid_params"][0]["name"] == field


def test_a_point_is_not_a_plan(client):
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [LON, LAT]},
        "properties": {"land_use": "urban", "legal_effect": "exclusion"},
    }
    response = client.post("/planning/impact", json=body)
    assert (
        response.status_code == 400
        and response.json()["invalid_params"][0]["name"] == "geometry.type"
    )


def test_deposit_assessments_newest_first(client, ground):
    response = client.get(f"/deposits/{ground['ids']['deep']}/assessments")
    assert response.status_code == 200
    assert [a["mdopi_class"] for a in response.json()["assessments"]] == ["national"]
    assert client.get("/deposits/999999999/assessments").status_code == 404


def test_mdopi_on_deposits_and_in_cql2(client, ground):
    ids = ground["ids"]
    bbox = f"{LON - 0.05},{LAT - 0.05},{LON + 0.25},{LAT + 0.05}"
    eu = client.get(f"/deposits?mdopi=eu&bbox={bbox}").json()
    assert sorted(f["id"] for f in eu["features"]) == sorted([ids["outline"], ids["outside"]])
    assert all(f["properties"]["mdopi"] == "eu" for f in eu["features"])
    refused = client.get("/deposits?mdopi=global")
    assert refused.status_code == 400 and refused.json()["invalid_params"][0]["name"] == "mdopi"
    items = client.get(
        "/collections/deposits/items",
        params={"filter": "mdopi IN ('national','local') AND source = 't-impact'"},
    ).json()
    assert sorted(f["id"] for f in items["features"]) == sorted([ids["deep"], ids["shallow"]])
    layer = client.get(
        "/collections/deposit_assessments/items",
        params={
            "filter": "mdopi_class = 'national' AND land_use < 50 AND deposit_id = "
            + str(ids["deep"])
        },
    ).json()
    assert [f["properties"]["deposit_id"] for f in layer["features"]] == [ids["deep"]]
    assert layer["features"][0]["geometry"]["type"] == "Point"


def test_deposit_assessments_are_served_as_vector_tiles(client, ground):
    import math

    from mapbox_vector_tile import decode

    z, lon, lat = 12, LON + 0.01, LAT  # the tile of the deep deposit (the slippy-map formulae)
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    response = client.get(f"/collections/deposit_assessments/tiles/WebMercatorQuad/{z}/{x}/{y}")
    assert response.status_code == 200, response.text
    features = decode(response.content)["deposit_assessments"]["features"]
    assert {f["properties"]["deposit_id"]: f["properties"]["mdopi_class"] for f in features}[
        ground["ids"]["deep"]
    ] == "national"


def test_a_bad_alternative_is_named_by_its_index(client):
    good = {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(PLAN),
        "properties": {"land_use": "urban", "legal_effect": "exclusion"},
    }
    unclosed = {
        **good,
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[LON, LAT], [LON + 0.01, LAT], [LON, LAT + 0.01], [LON, LAT + 0.02]]],
        },
    }
    response = client.post(
        "/planning/impact/batch", json={"type": "FeatureCollection", "features": [good, unclosed]}
    )
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"].startswith(
        "features[1].geometry.coordinates"
    )
