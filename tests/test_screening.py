"""Site screening: verdicts, hectares, shares and metres checked against pyproj and shapely.

The fixture lays test zones, rights and deposits (source `test-screening`) across the UTM
29/30 boundary (6°W) and across the León–Zamora province boundary, and removes them after.
Every area is recomputed in the test with pyproj's geodesic polygon area, every distance
with pyproj's geodesic between nearest points found in a local azimuthal projection.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
import shapely
from oracle import RESTRICTING, depths_overlap, in_force, verdict
from pyproj import CRS, Geod, Transformer
from shapely import wkb
from shapely.geometry import Point, box, mapping, shape
from shapely.ops import nearest_points
from sqlalchemy import text

GEOD = Geod(ellps="WGS84")
SOURCE = "test-screening"
TODAY = date.today()


def geodesic_ha(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 10_000


def close(got: float, expected: float, rel: float = 1e-3, abs_: float = 1e-4) -> bool:
    return abs(got - expected) <= max(abs_, rel * abs(expected))


def local(lon: float, lat: float) -> tuple[Transformer, Transformer]:
    """To and from an azimuthal equidistant projection centred on (lon, lat)."""
    aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84 +units=m")
    return (
        Transformer.from_crs(4326, aeqd, always_xy=True),
        Transformer.from_crs(aeqd, 4326, always_xy=True),
    )


def reproject(geom, transformer: Transformer):
    return shapely.transform(geom, lambda x, y: transformer.transform(x, y), interleaved=False)


def circle(lon: float, lat: float, radius_m: float, quad_segs: int = 16):
    """A lon/lat polygon of points radius_m from the centre (geodesically, to projection accuracy)."""
    _, to_lonlat = local(lon, lat)
    return reproject(Point(0, 0).buffer(radius_m, quad_segs=quad_segs), to_lonlat)


def geodesic_distance(a, b) -> float:
    """Metres between the nearest points of a and b, found in a projection centred between them."""
    c = a.centroid
    to_local, to_lonlat = local(c.x, c.y)
    pa, pb = nearest_points(reproject(a, to_local), reproject(b, to_local))
    (lon1, lat1), (lon2, lat2) = (to_lonlat.transform(p.x, p.y) for p in (pa, pb))
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def _multi(geom) -> str:
    return shapely.to_wkt(
        shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom, rounding_precision=-1
    )


# A site straddling 6°W (UTM 29 to the west, 30 to the east), about 4.9 km x 4.4 km.
SITE_6W = box(-6.03, 42.43, -5.97, 42.47)
# Zones around it: (key, legal effect, geometry, depth top, depth bottom, valid_to).
ZONES = {
    # Detailed (1,200 vertices), so it is split into several parts; straddles 6°W; half inside.
    "whole_column": ("exclusion", circle(-6.0, 42.465, 1500, quad_segs=300), None, None, None),
    "surface_only": ("exclusion", circle(-5.90, 42.45, 1000), 0.0, 50.0, None),
    "conditional": ("conditional", box(-5.985, 42.44, -5.96, 42.455), None, None, None),
    "safeguarding": ("safeguarding", box(-6.04, 42.425, -6.02, 42.44), None, None, None),
    "expired": ("exclusion", box(-6.01, 42.435, -6.005, 42.44), None, None, date(2000, 1, 1)),
    "near_informative": ("informative", circle(-6.0, 42.41, 500), None, None, None),
}
DEEP = (200.0, 400.0)


@pytest.fixture(scope="module")
def world(engine):
    """Test zones, rights and deposits in the sample database; removed after the module."""
    with engine.connect() as conn:
        leon, zamora = (
            wkb.loads(
                bytes(
                    conn.execute(
                        text("SELECT ST_AsBinary(geom) FROM admin_areas WHERE code = :c"), {"c": c}
                    ).scalar()
                )
            )
            for c in ("24", "49")
        )
    border = leon.boundary.intersection(zamora.boundary)
    on_border = shapely.line_interpolate_point(
        shapely.line_merge(border) if border.geom_type != "LineString" else border,
        0.5,
        normalized=True,
    )
    if on_border.is_empty:
        on_border = border.representative_point()
    zones = {
        **ZONES,
        "border": ("conditional", circle(on_border.x, on_border.y, 1000), None, None, None),
    }
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        for key, (effect, geom, top, bottom, valid_to) in zones.items():
            ids[key] = conn.execute(
                text(
                    "INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, depth_top_m, "
                    "depth_bottom_m, valid_to, geom, source, source_id) VALUES (:name, 'other', 'test zone', :effect, "
                    ":top, :bottom, :valid_to, ST_GeomFromText(:wkt, 4326), :source, :sid) RETURNING id"
                ),
                {
                    "name": f"Test {key}",
                    "effect": effect,
                    "top": top,
                    "bottom": bottom,
                    "valid_to": valid_to,
                    "wkt": _multi(geom),
                    "source": SOURCE,
                    "sid": key,
                },
            ).scalar()
        for key, lon, lat in (
            ("deep_under_surface_zone", -5.90, 42.45),
            ("deep_under_whole_column", -6.0, 42.465),
        ):
            ids[key] = conn.execute(
                text(
                    "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, depth_top_m, "
                    "depth_bottom_m, location_precision, geom, source, source_id) VALUES (:name, 'prospect', "
                    "ARRAY['tungsten'], ARRAY['main'], :top, :bottom, 'exact', ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), "
                    ":source, :sid) RETURNING id"
                ),
                {
                    "name": f"Test {key}",
                    "top": DEEP[0],
                    "bottom": DEEP[1],
                    "lon": lon,
                    "lat": lat,
                    "source": SOURCE,
                    "sid": key,
                },
            ).scalar()
        for key, status, geom in (
            ("granted", "granted", box(-5.99, 42.432, -5.975, 42.442)),
            ("lapsed", "lapsed", box(-6.028, 42.46, -6.015, 42.468)),
        ):
            ids[f"permit_{key}"] = conn.execute(
                text(
                    "INSERT INTO permits (registry_number, name, holder, right_type, status, commodities, source, geom) "
                    "VALUES (:reg, :name, 'Test Holder S.L.', 'investigation', :status, ARRAY['tungsten'], :source, "
                    "ST_GeomFromText(:wkt, 4326)) RETURNING id"
                ),
                {
                    "reg": f"TEST-SCR-{key}",
                    "name": f"Test {key}",
                    "status": status,
                    "source": SOURCE,
                    "wkt": _multi(geom),
                },
            ).scalar()
    yield {"ids": ids, "zones": zones, "on_border": on_border, "leon": leon, "zamora": zamora}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM protection_zones WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM permits WHERE source = :s"), {"s": SOURCE})


def _table(engine, table: str, where: str = "TRUE", **params) -> list[dict]:
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text(f"SELECT *, ST_AsBinary(geom) AS wkb FROM {table} WHERE {where}"), params
            )
            .mappings()
            .all()
        )
    return [{**row, "geom": wkb.loads(bytes(row["wkb"]))} for row in rows]


def _in_force(zone: dict) -> bool:
    return in_force(zone["valid_from"], zone["valid_to"], TODAY)


def _screen(client, body, **query):
    response = client.post("/screening", json=body, params=query)
    assert response.status_code == 200, response.text
    return response.json()


def _utm30(geom):
    return reproject(geom, Transformer.from_crs(4326, 25830, always_xy=True))


def _expected(engine, site, depth=(None, None)) -> dict:
    """The screening of a lon/lat site recomputed with shapely and pyproj from the tables."""
    zones = [
        z for z in _table(engine, "protection_zones") if _in_force(z) and z["geom"].intersects(site)
    ]
    constraining = {
        z["legal_effect"]
        for z in zones
        if z["legal_effect"] in RESTRICTING
        and depths_overlap(z["depth_top_m"], z["depth_bottom_m"], *depth)
    }
    permits = [p for p in _table(engine, "permits") if p["geom"].intersects(site)]
    blockers = [
        z["geom"]
        for z in zones
        if z["legal_effect"] == "exclusion"
        and depths_overlap(z["depth_top_m"], z["depth_bottom_m"], *depth)
    ]
    blockers += [
        p["geom"]
        for p in permits
        if p["status"] in ("applied", "admitted", "granted", "extended")
        and (p["expires_on"] is None or p["expires_on"] >= TODAY)
    ]
    return {
        "verdict": verdict(constraining),
        "zones": {z["id"]: z for z in zones},
        "permits": {p["id"]: p for p in permits},
        "free": site.difference(shapely.union_all(blockers)) if blockers else site,
    }


def _check_against(engine, report: dict, site, depth=(None, None)) -> None:
    expected = _expected(engine, site, depth)
    site_ha = geodesic_ha(site)
    assert close(report["site"]["area_ha"], site_ha)
    assert report["verdict"] == expected["verdict"]
    assert {z["id"] for z in report["zones"]} == set(expected["zones"])
    for zone in report["zones"]:
        overlap = geodesic_ha(expected["zones"][zone["id"]]["geom"].intersection(site))
        assert close(zone["overlap_ha"], overlap), zone
        assert close(zone["share"], overlap / site_ha, abs_=1e-6), zone
    assert {p["id"] for p in report["permits"]} == set(expected["permits"])
    for permit in report["permits"]:
        overlap = geodesic_ha(expected["permits"][permit["id"]]["geom"].intersection(site))
        assert close(permit["overlap_ha"], overlap), permit
    assert close(report["free_ground"]["area_ha"], geodesic_ha(expected["free"]))
    assert close(
        geodesic_ha(shape(report["free_ground"]["geometry"])), geodesic_ha(expected["free"])
    )


def test_site_across_6w_sent_in_utm30_matches_geodesic_areas_shares_and_verdict(
    client, engine, world
):
    body = {**mapping(_utm30(SITE_6W)), "crs": "http://www.opengis.net/def/crs/EPSG/0/25830"}
    report = _screen(client, body)
    _check_against(engine, report, SITE_6W)
    ids = world["ids"]
    assert report["verdict"] == "excluded"
    assert [r["zone_id"] for r in report["reasons"] if "zone_id" in r] == [ids["whole_column"]]
    listed = {z["id"]: z for z in report["zones"]}
    # Every legal effect is listed; only counted effects decide; zones no longer in force are not there.
    assert {
        listed[ids[k]]["legal_effect"] for k in ("whole_column", "conditional", "safeguarding")
    } == {"exclusion", "conditional", "safeguarding"}
    assert (
        not listed[ids["safeguarding"]]["constrains"] and listed[ids["conditional"]]["constrains"]
    )
    assert ids["expired"] not in listed
    permits = {p["id"]: p for p in report["permits"]}
    assert (
        permits[ids["permit_granted"]]["holds_ground"]
        and not permits[ids["permit_lapsed"]]["holds_ground"]
    )


@pytest.mark.parametrize(
    "crs, header",
    [
        ("http://www.opengis.net/def/crs/EPSG/0/25829", False),
        ("http://www.opengis.net/def/crs/EPSG/0/3035", True),
        ("http://www.opengis.net/def/crs/EPSG/0/4326", True),
    ],
)
def test_the_same_site_in_other_crs_gives_the_same_answer(client, engine, world, crs, header):
    srid = int(crs.rsplit("/", 1)[1])
    projected = reproject(SITE_6W, Transformer.from_crs(4326, srid, always_xy=True))
    if srid in (4326, 3035):  # northing first in these CRSs
        projected = shapely.transform(projected, lambda x, y: (y, x), interleaved=False)
    body = mapping(projected)
    response = client.post(
        "/screening",
        json=body if header else {**body, "crs": crs},
        headers={"Content-Crs": f"<{crs}>"} if header else {},
    )
    assert response.status_code == 200, response.text
    reference = _screen(client, mapping(SITE_6W))
    report = response.json()
    assert report["verdict"] == reference["verdict"]
    assert close(report["site"]["area_ha"], reference["site"]["area_ha"])
    assert [(z["id"], z["constrains"]) for z in report["zones"]] == [
        (z["id"], z["constrains"]) for z in reference["zones"]
    ]
    _check_against(engine, report, shape(report["site"]["geometry"]))


def test_site_across_the_leon_zamora_boundary_lists_municipalities_and_overlaps(
    client, engine, world
):
    _, to_lonlat = local(world["on_border"].x, world["on_border"].y)
    site = reproject(box(-1500, -1500, 1500, 1500), to_lonlat)
    assert site.intersects(world["leon"]) and site.intersects(world["zamora"])
    report = _screen(client, mapping(site))
    _check_against(engine, report, site)
    municipalities = {
        m["code"]
        for m in _table(engine, "admin_areas", "level = 'municipality'")
        if m["geom"].intersects(site)
    }
    assert municipalities and {m["code"] for m in report["municipalities"]} == municipalities
    assert world["ids"]["border"] in {z["id"] for z in report["zones"]}
    assert report["verdict"] in ("conditional", "excluded")


def test_nearby_zones_carry_geodesic_distances(client, engine, world):
    report = _screen(client, mapping(SITE_6W), radius_m=6000)
    nearby = {z["id"]: z for z in report["nearby"]}
    ids = world["ids"]
    assert ids["near_informative"] in nearby and ids["surface_only"] in nearby
    assert not set(nearby) & {z["id"] for z in report["zones"]}
    zones = {z["id"]: z for z in _table(engine, "protection_zones")}
    for zone_id, zone in nearby.items():
        expected = geodesic_distance(SITE_6W, zones[zone_id]["geom"])
        assert 0 < zone["distance_m"] <= 6000
        assert close(zone["distance_m"], expected, rel=1e-3, abs_=1.0), (zone, expected)
    # Every zone in force within the radius is there, and none beyond it.
    within = {
        i
        for i, z in zones.items()
        if _in_force(z)
        and not z["geom"].intersects(SITE_6W)
        and geodesic_distance(SITE_6W, z["geom"]) < 5990
    }
    assert within <= set(nearby)


def test_a_deep_deposit_below_a_surface_only_exclusion_zone_is_free(client, engine, world):
    ids = world["ids"]
    report = _screen(client, {"deposit": ids["deep_under_surface_zone"]})
    assert report["verdict"] == "free"
    zone = next(z for z in report["zones"] if z["id"] == ids["surface_only"])
    assert zone["depth_overlap"] is False and zone["constrains"] is False
    assert any(
        r.get("zone_id") == ids["surface_only"] and "depth" in r["rule"] for r in report["reasons"]
    )
    # The same place screened from the surface is excluded.
    shallow = _screen(
        client, {"deposit": ids["deep_under_surface_zone"], "depth_top_m": 0, "depth_bottom_m": 30}
    )
    assert shallow["verdict"] == "excluded"


def test_the_same_deep_deposit_under_a_whole_column_exclusion_zone_is_excluded(
    client, engine, world
):
    ids = world["ids"]
    report = _screen(client, {"deposit": ids["deep_under_whole_column"]})
    assert report["verdict"] == "excluded"
    assert report["site"]["depth_top_m"] == DEEP[0] and report["site"]["depth_bottom_m"] == DEEP[1]
    assert [r["zone_id"] for r in report["reasons"] if "zone_id" in r] == [ids["whole_column"]]


def test_deposits_search_and_batch_apply_the_same_3d_rule(client, world):
    ids = world["ids"]
    bbox = "-6.1,42.4,-5.8,42.5"
    outside = {
        f["id"]
        for f in client.get(f"/deposits?protection=outside&bbox={bbox}&limit=10000").json()[
            "features"
        ]
    }
    assert (
        ids["deep_under_surface_zone"] in outside and ids["deep_under_whole_column"] not in outside
    )
    rows = {
        r["id"]: r
        for r in csv.DictReader(
            io.StringIO(client.get("/screening/deposits?commodity=W&f=csv").text)
        )
    }
    assert rows[str(ids["deep_under_surface_zone"])]["verdict"] == "free"
    assert rows[str(ids["deep_under_whole_column"])]["verdict"] == "excluded"
    assert rows[str(ids["deep_under_whole_column"])]["constraining_zone_ids"] == str(
        ids["whole_column"]
    )


def test_a_site_on_a_zone_boundary_is_inside_it(client, world):
    vertex = ZONES["conditional"][1].exterior.coords[0]
    report = _screen(client, {"type": "Point", "coordinates": list(vertex)})
    assert world["ids"]["conditional"] in {z["id"] for z in report["zones"] if z["constrains"]}


def test_point_with_buffer_is_a_geodesic_circle(client, engine, world):
    report = _screen(client, {"type": "Point", "coordinates": [-5.5, 42.2], "buffer_m": 1000})
    site = shape(report["site"]["geometry"])
    assert close(report["site"]["area_ha"], geodesic_ha(site))
    # 64 segments: the polygon is 0.16 % smaller than the circle it approximates.
    assert close(report["site"]["area_ha"], 314.159, rel=3e-3)
    radii = [GEOD.inv(-5.5, 42.2, x, y)[2] for x, y in site.exterior.coords]
    assert max(abs(r - 1000) for r in radii) < 1.0
    _check_against(engine, report, site)


def test_permit_site_leaves_itself_out_and_free_ground_is_the_rest(client, engine, world):
    ids = world["ids"]
    report = _screen(client, {"permit": ids["permit_granted"]})
    assert ids["permit_granted"] not in {p["id"] for p in report["permits"]}
    permit = _table(engine, "permits", "id = :i", i=ids["permit_granted"])[0]["geom"]
    assert close(report["site"]["area_ha"], geodesic_ha(permit))
    assert report["verdict"] == _expected(engine, permit)["verdict"]


def test_unknown_reference_is_a_400_naming_the_field(client, world):
    response = client.post("/screening", json={"deposit": 999_999_999})
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "deposit"


RING = [[-6.0, 42.0], [-5.9, 42.0], [-5.9, 42.1], [-6.0, 42.1], [-6.0, 42.0]]


@pytest.mark.parametrize(
    "body, field, reason",
    [
        (
            {
                "type": "Polygon",
                "coordinates": [[[-6, 42], [-5.9, 42.1], [-5.9, 42], [-6, 42.1], [-6, 42]]],
            },
            "coordinates",
            "Self-intersection",
        ),
        ({"type": "Polygon", "coordinates": [RING[:-1]]}, "coordinates[0]", "unclosed ring"),
        ({"type": "Polygon", "coordinates": []}, "coordinates", "empty"),
        ({"type": "MultiPolygon", "coordinates": [[]]}, "coordinates[0]", "empty polygon"),
        (
            {"type": "Polygon", "coordinates": [[[-6, 42], [-5.9, 92], [-5.8, 42], [-6, 42]]]},
            "coordinates",
            "latitude out of range",
        ),
        (
            {"type": "Point", "coordinates": [42.5, -6.0], "crs": "EPSG:4326", "buffer_m": 10},
            None,
            None,
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[-7, 42], [-5, 42], [-5, 43], [-7, 43], [-7, 42]]],
            },
            "coordinates",
            "km²",
        ),
        ({"type": "Point", "coordinates": [-6, 42], "buffer_m": 60_000}, "buffer_m", "km²"),
        ({"type": "Point", "coordinates": [-6, 42], "buffer_m": -5}, "buffer_m", "not positive"),
        ({"type": "LineString", "coordinates": [[-6, 42], [-5, 42]]}, "type", "LineString"),
        ({"type": "Point", "coordinates": [-6, 42], "radius_m": 5}, "radius_m", "unknown member"),
        (
            {"deposit": 1, "depth_top_m": 300, "depth_bottom_m": 100},
            "depth_bottom_m",
            "not below the top",
        ),
        (
            {"type": "Point", "coordinates": [300000, 4700000], "crs": "EPSG:9999"},
            "crs",
            "unsupported CRS",
        ),
    ],
)
def test_invalid_sites_are_refused_with_the_reason(client, body, field, reason):
    response = client.post("/screening", json=body)
    if field is None:  # lat-first EPSG:4326 read the right way round is a valid site
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()["invalid_params"][0]
    assert problem["name"] == field and reason in problem["reason"], problem


def test_malformed_json_is_a_400(client):
    response = client.post(
        "/screening", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["invalid_params"][0]["name"] == "body"


def test_geojson_output_has_the_site_and_its_pieces(client, world):
    report = _screen(client, mapping(SITE_6W))
    response = client.post("/screening?f=geojson", json=mapping(SITE_6W))
    assert (
        response.status_code == 200 and response.headers["content-type"] == "application/geo+json"
    )
    features = response.json()["features"]
    roles = [f["properties"]["role"] for f in features]
    assert roles == ["site"] + ["zone_overlap"] * len(report["zones"]) + ["permit_overlap"] * len(
        report["permits"]
    ) + ["free_ground"]
    for feature in features:
        if feature["properties"]["role"] == "zone_overlap":
            assert close(
                geodesic_ha(shape(feature["geometry"])), feature["properties"]["overlap_ha"]
            )


def test_html_report_is_self_contained_with_an_svg_map(client, world):
    response = client.post("/screening?f=html", json=mapping(SITE_6W))
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<svg" in page and "excluded" in page and "Test whole_column" in page
    assert (
        "<script" not in page
        and "http://" not in page.split("<body>")[0]
        and "https://" not in page
    )


def test_batch_verdicts_match_single_screenings_csv_and_geojson(client, world):
    sites = [
        ("across-6W", mapping(SITE_6W), {}),
        (
            "deep",
            {"type": "Point", "coordinates": [-5.90, 42.45]},
            {"depth_top_m": 200, "depth_bottom_m": 400},
        ),
        ("shallow", {"type": "Point", "coordinates": [-5.90, 42.45]}, {"depth_bottom_m": 20}),
        ("far", {"type": "Point", "coordinates": [-5.3, 41.9]}, {"buffer_m": 250}),
    ]
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": key, "geometry": geom, "properties": {"name": key, **props}}
            for key, geom, props in sites
        ],
    }
    singles = {
        key: _screen(client, {"type": "Feature", "geometry": geom, "properties": props})
        for key, geom, props in sites
    }
    response = client.post("/screening/batch?f=csv", json=collection)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["id"] for r in rows] == [key for key, _, _ in sites]
    for row in rows:
        single = singles[row["id"]]
        assert row["verdict"] == single["verdict"]
        constraining = sorted(z["id"] for z in single["zones"] if z["constrains"])
        assert row["constraining_zone_ids"] == ",".join(map(str, constraining))
        assert close(float(row["site_area_ha"]), single["site"]["area_ha"])
    assert [r["verdict"] for r in rows[1:3]] == ["free", "excluded"]
    geojson = client.post("/screening/batch", json=collection).json()
    assert [f["id"] for f in geojson["features"]] == [key for key, _, _ in sites]
    assert [f["properties"]["verdict"] for f in geojson["features"]] == [r["verdict"] for r in rows]


def test_batch_refuses_more_sites_than_allowed(client, settings):
    point = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-6, 42]},
        "properties": {},
    }
    response = client.post(
        "/screening/batch",
        json={
            "type": "FeatureCollection",
            "features": [point] * (settings.screening_max_batch + 1),
        },
    )
    assert (
        response.status_code == 400 and response.json()["invalid_params"][0]["name"] == "features"
    )


def test_batch_names_the_feature_at_fault(client):
    bad = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [RING[:-1]]},
        "properties": {},
    }
    good = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-6, 42]},
        "properties": {},
    }
    response = client.post(
        "/screening/batch", json={"type": "FeatureCollection", "features": [good, bad]}
    )
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == "features[1].geometry.coordinates[0]"


def test_screening_deposits_filters_by_area_and_commodity(client, engine, world):
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/screening/deposits?area=leon&commodity=Li&f=csv").text)
        )
    )
    with engine.connect() as conn:
        expected = {
            str(i)
            for (i,) in conn.execute(
                text(
                    "SELECT d.id FROM deposits d, admin_areas a WHERE a.code = '24' AND ST_Intersects(a.geom, d.geom) "
                    "AND 'lithium' = ANY(d.commodities)"
                )
            )
        }
    assert {r["id"] for r in rows} == expected
    response = client.get("/screening/deposits?commodity=unobtainium")
    assert (
        response.status_code == 400 and response.json()["invalid_params"][0]["name"] == "commodity"
    )


def _parts(conn, zone_id: int):
    rows = conn.execute(
        text(
            "SELECT ST_AsBinary(geom), ST_NPoints(geom) FROM protection_zone_parts WHERE zone_id = :z"
        ),
        {"z": zone_id},
    ).all()
    return [wkb.loads(bytes(g)) for g, _ in rows], [n for _, n in rows]


def test_zone_parts_follow_inserts_updates_and_deletes(engine):
    detailed = circle(-4.5, 42.0, 3000, quad_segs=500)  # 2,000 vertices
    with engine.connect() as conn, conn.begin() as transaction:
        zone_id = conn.execute(
            text(
                "INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, geom, source, source_id) "
                "VALUES ('Test parts', 'other', 'test', 'informative', ST_GeomFromText(:wkt, 4326), :s, 'parts') RETURNING id"
            ),
            {"wkt": _multi(detailed), "s": SOURCE},
        ).scalar()
        parts, vertices = _parts(conn, zone_id)
        assert len(parts) >= 8 and max(vertices) <= 256
        assert shapely.union_all(parts).symmetric_difference(detailed).area < 1e-9 * detailed.area
        moved = box(-4.6, 41.9, -4.5, 42.0)
        conn.execute(
            text("UPDATE protection_zones SET geom = ST_GeomFromText(:wkt, 4326) WHERE id = :z"),
            {"wkt": _multi(moved), "z": zone_id},
        )
        parts, _ = _parts(conn, zone_id)
        assert len(parts) == 1 and parts[0].normalize().equals(moved.normalize())
        conn.execute(
            text("UPDATE protection_zones SET name = 'Renamed' WHERE id = :z"), {"z": zone_id}
        )
        assert len(_parts(conn, zone_id)[0]) == 1
        conn.execute(text("DELETE FROM protection_zones WHERE id = :z"), {"z": zone_id})
        assert _parts(conn, zone_id)[0] == []
        transaction.rollback()
