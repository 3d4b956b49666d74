"""The cuadrícula over HTTP: cells by point and bbox, one cell, free ground, right validation.

Expected answers are computed here from the raw rows with shapely and pyproj, not read back
from the service's own SQL.
"""

from __future__ import annotations

import math
from datetime import date
from fractions import Fraction

import pytest
import shapely
from oracle import in_force
from pyproj import Geod
from shapely.affinity import translate
from shapely.geometry import shape
from sqlalchemy import text

from geo.rules import cuadricula as grid

STEP = Fraction(1, 180)
GEOD = Geod(ellps="GRS80")
CARUCEDO = "24041"  # a municipality with sample rights and Las Médulas (an exclusion zone)
HOLDING = {"applied", "admitted", "granted", "extended"}


def box_of(i: int, j: int) -> shapely.Polygon:
    """A cell's square from exact rationals, independently of geo.rules.cuadricula."""
    return shapely.box(
        float(i * STEP), float(j * STEP), float((i + 1) * STEP), float((j + 1) * STEP)
    )


def id_of(i: int, j: int) -> str:
    return ("E" if i >= 0 else "W") + f"{abs(i):05d}" + ("N" if j >= 0 else "S") + f"{abs(j):05d}"


def ij_of(cell_id: str) -> tuple[int, int]:
    i, j = int(cell_id[1:6]), int(cell_id[7:12])
    return (i if cell_id[0] == "E" else -i), (j if cell_id[6] == "N" else -j)


def geodesic_ha(polygon) -> float:
    return abs(GEOD.geometry_area_perimeter(shapely.segmentize(polygon, 1 / 3600))[0]) / 10_000


def ids(collection: dict) -> list[str]:
    return [f["id"] for f in collection["features"]]


# --- cells by point, bbox and id -------------------------------------------------------------


def test_the_cell_of_a_point_on_a_corner_is_the_one_to_its_north_east(client):
    body = client.get("/grid/cells", params={"point": "-6,42.5"}).json()
    assert ids(body) == ["W01080N07650"]
    assert (
        shape(body["features"][0]["geometry"])
        .normalize()
        .equals_exact(box_of(-1080, 7650).normalize(), 1e-9)
    )


def test_points_either_side_of_greenwich(client):
    assert ids(client.get("/grid/cells", params={"point": "0.000001,42.5"}).json()) == [
        "E00000N07650"
    ]
    assert ids(client.get("/grid/cells", params={"point": "-0.000001,42.5"}).json()) == [
        "W00001N07650"
    ]


def test_a_bbox_on_grid_lines_gives_exactly_the_cells_inside_it(client):
    west, south = Fraction(-6), Fraction(85, 2)  # 6°W 42°30′N
    bbox = [west, south, west + 5 * STEP, south + 3 * STEP]
    body = client.get("/grid/cells", params={"bbox": ",".join(str(float(x)) for x in bbox)}).json()
    expected = {id_of(i, j) for i in range(-1080, -1075) for j in range(7650, 7653)}
    assert set(ids(body)) == expected and body["numberReturned"] == 15
    union = shapely.union_all([shape(f["geometry"]) for f in body["features"]])
    assert union.symmetric_difference(shapely.box(*map(float, bbox))).area < 1e-15
    for feature in body["features"]:
        cell = shape(feature["geometry"])
        assert feature["properties"]["area_ha"] == pytest.approx(geodesic_ha(cell), rel=1e-4)


def test_a_bbox_over_the_cap_is_refused_before_any_cell_is_made(client):
    response = client.get("/grid/cells", params={"bbox": "-9,36,-1,44"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["invalid_params"][0]["name"] == "bbox"
    assert "spans 2,073,600 cells (1440 × 1440); at most 100,000 per request" in problem["detail"]


@pytest.mark.parametrize(
    "params, name",
    [
        ({}, "bbox"),
        ({"bbox": "-6,42,-5.9,42.1", "point": "-6,42"}, "bbox"),
        ({"point": "-6"}, "point"),
        ({"point": "200,42"}, "point"),
        ({"bbox": "-6,42,-7,43"}, "bbox"),
    ],
)
def test_bad_cell_requests_name_the_parameter(client, params, name):
    response = client.get("/grid/cells", params=params)
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == name


def test_one_cell_says_who_holds_it_and_whether_it_is_free(client, engine):
    with engine.connect() as conn:
        number, x, y = conn.execute(
            text(
                "SELECT registry_number, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                "FROM permits WHERE status = 'granted' AND expires_on > current_date ORDER BY id LIMIT 1"
            )
        ).one()
    cell_id = id_of(math.floor(Fraction(x) / STEP), math.floor(Fraction(y) / STEP))
    body = client.get(f"/grid/cells/{cell_id}").json()
    assert body["id"] == cell_id
    assert number in [r["registry_number"] for r in body["properties"]["rights"]]
    assert body["properties"]["free"] is False


def test_a_malformed_cell_id_is_a_400(client):
    response = client.get("/grid/cells/W1080N7650")
    assert response.status_code == 400
    assert "W01080N07650" in response.json()["detail"]


def test_sql_and_python_make_the_same_cells(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT i, j, id, area_ha, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                f"FROM {grid.sql_cells('ST_MakeEnvelope(-6.001, 42.4999999999, -5.98, 42.52, 4326)')}"
            )
        ).all()
    i_range, j_range = grid.cells_in_bbox(-6.001, 42.4999999999, -5.98, 42.52)
    assert {(r.i, r.j) for r in rows} == {(i, j) for i in i_range for j in j_range}
    for r in rows:
        cell = grid.Cell(r.i, r.j)
        assert r.id == cell.id
        assert (r[4], r[5], r[6], r[7]) == cell.bounds  # bit for bit
        assert r.area_ha == pytest.approx(cell.area_ha, rel=1e-12)


# --- free ground -----------------------------------------------------------------------------


def independent_free_cells(engine, code: str) -> set[str]:
    """The grid over the area minus held and excluded cells, computed here with shapely."""
    today = date.today()
    with engine.connect() as conn:
        area = shapely.from_wkb(
            conn.execute(
                text("SELECT ST_AsBinary(geom) FROM admin_areas WHERE code = :c"), {"c": code}
            ).scalar()
        )
        permits = conn.execute(
            text("SELECT status, expires_on, ST_AsBinary(geom) FROM permits")
        ).all()
        zones = conn.execute(
            text(
                "SELECT valid_from, valid_to, ST_AsBinary(geom) FROM protection_zones "
                "WHERE legal_effect = 'exclusion'"
            )
        ).all()
    held = [
        shapely.from_wkb(g)
        for status, expires, g in permits
        if status in HOLDING
        and not (status in ("granted", "extended") and expires and expires <= today)
    ]
    excluded = [shapely.from_wkb(g) for start, end, g in zones if in_force(start, end, today)]
    blocked = shapely.union_all(held + excluded)
    west, south, east, north = area.bounds
    free = set()
    for i in range(math.floor(Fraction(west) / STEP), math.ceil(Fraction(east) / STEP)):
        for j in range(math.floor(Fraction(south) / STEP), math.ceil(Fraction(north) / STEP)):
            cell = box_of(i, j)
            # Sharing a positive area: more than a sliver of 1e-9° along the cell's side.
            sliver = 1e-9 * float(STEP)
            if cell.intersection(area).area > sliver and cell.intersection(blocked).area <= sliver:
                free.add(id_of(i, j))
    return free


@pytest.fixture(scope="module")
def carucedo_free(client):
    return client.get("/grid/free", params={"area": CARUCEDO}).json()


def test_free_ground_is_the_grid_minus_held_and_excluded_cells(carucedo_free, engine):
    expected = independent_free_cells(engine, CARUCEDO)
    assert set(ids(carucedo_free)) == expected
    assert carucedo_free["cell_count"] == len(expected) > 20
    total = sum(geodesic_ha(box_of(*ij_of(c))) for c in expected)
    assert carucedo_free["area_ha"] == pytest.approx(total, rel=1e-4)
    assert carucedo_free["area"]["name"] == "Carucedo"


def test_free_ground_leaves_out_cells_partly_in_an_exclusion_zone(carucedo_free, engine):
    with engine.connect() as conn:
        medulas = shapely.from_wkb(
            conn.execute(
                text("SELECT ST_AsBinary(geom) FROM protection_zones WHERE name = 'Las Médulas'")
            ).scalar()
        )
    partly = [
        f
        for f in carucedo_free["features"]
        if shape(f["geometry"]).intersection(medulas).area > 1e-12
    ]
    assert partly == []


def test_merged_free_ground_covers_the_same_cells(client, carucedo_free):
    merged = client.get("/grid/free", params={"area": CARUCEDO, "merge": "true"}).json()
    cells = shapely.union_all([shape(f["geometry"]) for f in carucedo_free["features"]])
    polygons = [shape(f["geometry"]) for f in merged["features"]]
    assert shapely.union_all(polygons).symmetric_difference(cells).area < 1e-12
    assert all(p.geom_type == "Polygon" for p in polygons)
    assert merged["cell_count"] == carucedo_free["cell_count"]
    assert sum(f["properties"]["cell_count"] for f in merged["features"]) == merged["cell_count"]
    assert merged["area_ha"] == pytest.approx(carucedo_free["area_ha"], rel=1e-4)


def test_free_ground_in_a_bbox_and_the_bad_requests(client):
    body = client.get("/grid/free", params={"bbox": "-6.0,42.5,-5.99,42.51"}).json()
    assert body["bbox"] == [-6.0, 42.5, -5.99, 42.51] and body["area"] is None
    for params, name in [
        ({}, "area"),
        ({"area": "24", "bbox": "-6,42,-5,43"}, "area"),
        ({"area": "Atlantis"}, "area"),
        ({"bbox": "-9,36,-1,44"}, "bbox"),
        ({"area": CARUCEDO, "legal_effect": "forbidden"}, "legal_effect"),
    ]:
        response = client.get("/grid/free", params=params)
        assert response.status_code == 400, params
        assert response.json()["invalid_params"][0]["name"] == name


# --- POST /permits/validate ------------------------------------------------------------------


def twelve_cells() -> shapely.Polygon:
    return shapely.union_all([box_of(i, j) for i in range(-1134, -1130) for j in range(7728, 7731)])


def test_validate_accepts_a_twelve_cell_right(client):
    feature = {
        "type": "Feature",
        "properties": {"right_type": "investigation", "name": "Peña Sintética"},
        "geometry": shapely.geometry.mapping(twelve_cells()),
    }
    body = client.post("/permits/validate", json=feature).json()
    assert body["valid"] is True and body["problems"] == []
    assert body["proposal"]["properties"]["name"] == "Peña Sintética"
    assert body["cell_count"] == 12
    assert body["area_ha"] == pytest.approx(geodesic_ha(twelve_cells()), rel=1e-4)
    assert shape(body["proposal"]["geometry"]).symmetric_difference(twelve_cells()).area < 1e-15


def test_validate_reports_every_problem_and_the_snapped_proposal(client):
    shifted = translate(twelve_cells(), 1 / 3600, 0)
    body = client.post(
        "/permits/validate",
        params={"right_type": "investigation"},
        json=shapely.geometry.mapping(shifted),
    ).json()
    assert body["valid"] is False
    assert [p["code"] for p in body["problems"]] == ["vertices_off_grid", "partial_cells"]
    assert shape(body["proposal"]["geometry"]).symmetric_difference(twelve_cells()).area < 1e-15
    assert len(body["proposal"]["properties"]["cells"]) == 12


@pytest.mark.parametrize(
    "params, payload, name",
    [
        (
            {},
            {"type": "Polygon", "coordinates": [[[-6, 42], [-5.99, 42], [-5.99, 42.01], [-6, 42]]]},
            "right_type",
        ),
        (
            {"right_type": "exploration"},
            {
                "type": "Feature",
                "properties": {"right_type": "investigation"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[-6, 42], [-5.99, 42], [-5.99, 42.01], [-6, 42]]],
                },
            },
            "right_type",
        ),
        ({"right_type": "investigation"}, {"type": "Point", "coordinates": [-6, 42]}, "body"),
        (
            {"right_type": "investigation"},
            {
                "type": "Polygon",
                "coordinates": [
                    [[300000, 4700000], [300600, 4700000], [300600, 4700600], [300000, 4700000]]
                ],
            },
            "body",
        ),
        (
            {"right_type": "quarry"},
            {"type": "Polygon", "coordinates": [[[-6, 42], [-5.99, 42], [-5.99, 42.01], [-6, 42]]]},
            "right_type",
        ),
        # Half of Spain: more cells than one request may generate.
        (
            {"right_type": "exploration"},
            {"type": "Polygon", "coordinates": [[[-9, 37], [-3, 37], [-3, 43], [-9, 37]]]},
            "body",
        ),
    ],
)
def test_validate_refuses_what_it_cannot_judge(client, params, payload, name):
    response = client.post("/permits/validate", params=params, json=payload)
    assert response.status_code == 400
    assert response.json()["invalid_params"][0]["name"] == name


# --- the OGC API collection ------------------------------------------------------------------


def test_grid_cells_is_an_ogc_collection_over_leon(client):
    collection = client.get("/collections/grid_cells").json()
    west, south, east, north = collection["extent"]["spatial"]["bbox"][0]
    assert (west, south, east, north) == pytest.approx((-7.1, 42.0, -4.7, 43.25), abs=1e-12)
    items = client.get("/collections/grid_cells/items", params={"limit": 1}).json()
    # 2°24′ × 1°15′ of 20″ cells.
    assert items["numberMatched"] == (144 * 60 // 20) * (75 * 60 // 20) == 97_200


def test_grid_cells_items_in_a_bbox_and_one_item_agree_with_the_grid(client, engine):
    body = client.get(
        "/collections/grid_cells/items", params={"bbox": "-6.0,42.5,-5.99,42.51"}
    ).json()
    box = shapely.box(-6.0, 42.5, -5.99, 42.51)
    expected = {
        id_of(i, j)
        for i in range(-1082, -1076)
        for j in range(7648, 7653)
        if box_of(i, j).intersects(box)
    }  # the OGC bbox test counts touching cells
    assert set(ids(body)) == expected
    with engine.connect() as conn:
        x, y = conn.execute(
            text(
                "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM permits "
                "WHERE status = 'granted' AND expires_on > current_date ORDER BY id LIMIT 1"
            )
        ).one()
    held = id_of(math.floor(Fraction(x) / STEP), math.floor(Fraction(y) / STEP))
    item = client.get(f"/collections/grid_cells/items/{held}").json()
    assert item["properties"]["free"] is False
    assert shape(item["geometry"]).normalize().equals_exact(box_of(*ij_of(held)).normalize(), 1e-9)


# --- the registry by area --------------------------------------------------------------------


def test_rights_in_an_area_are_those_sharing_ground_with_it(client, engine):
    with engine.connect() as conn:
        area = shapely.from_wkb(
            conn.execute(
                text("SELECT ST_AsBinary(geom) FROM admin_areas WHERE code = :c"), {"c": CARUCEDO}
            ).scalar()
        )
        rights = conn.execute(text("SELECT registry_number, ST_AsBinary(geom) FROM permits")).all()
    expected = {number for number, g in rights if shapely.from_wkb(g).intersection(area).area > 0}
    body = client.get("/permits", params={"area": "carucedo", "limit": 1000}).json()
    assert {f["properties"]["registry_number"] for f in body["features"]} == expected
    assert body["numberMatched"] == len(expected) > 0
    assert (
        client.get("/permits", params={"area": "Narnia"}).json()["invalid_params"][0]["name"]
        == "area"
    )
