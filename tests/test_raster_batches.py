"""Batches of zonal statistics, POST /rasters/{name}/statistics with a FeatureCollection or a
deposit search, and `veta raster statistics`: each zone's numbers are the single form's and
numpy's over the array written here (coverage by whole cells for aligned boxes), in input order
with ids and properties kept; deposits are grown by PostGIS as a geodesic buffer computed here
with pyproj confirms, and chosen under row-level security; bad bodies are refused by field."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import psycopg
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from pyproj import CRS, Geod, Transformer
from rasterio.transform import from_origin
from records import insert_deposit
from shapely.geometry import Point, box, mapping
from sqlalchemy import text

from api.app import create_app
from geo.access.keys import create_key, create_organisation
from geo.core.settings import Settings
from geo.rasters import storage
from geo.rasters.zone_batches import DepositSelection, deposit_zones_query
from geo.store.db import libpq_url

CELL = 100.0
SIZE = 60
NODATA = -9999.0
CENTRE = (-5.87, 42.73)  # in León, EPSG:25830's zone
TO_UTM = Transformer.from_crs(4326, 25830, always_xy=True)
TO_LONLAT = Transformer.from_crs(25830, 4326, always_xy=True)
GEOD = Geod(ellps="WGS84")
UTM = {"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/25830>"}
SOURCE = "t-zonal-batch"
NAME = "T-zonal deposit"
# (row, col) of the cell each test deposit sits in; the last is confidential to organisation B.
DEPOSIT_CELLS = [(10, 12), (30, 30), (45, 20), (22, 48), (50, 50), (15, 35)]
STATS = ("count", "min", "max", "mean", "std", "median", "area_ha", "valid_ha", "nodata_share")


@pytest.fixture(scope="module")
def west_north() -> tuple[float, float]:
    x, y = TO_UTM.transform(*CENTRE)
    return math.floor(x / CELL) * CELL - SIZE / 2 * CELL, math.floor(
        y / CELL
    ) * CELL + SIZE / 2 * CELL


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1414)
    values = (rng.random((SIZE, SIZE)) * 100).astype("float32")
    values[20:24, 5:9] = NODATA
    return {"values": values, "classes": rng.integers(1, 5, (SIZE, SIZE)).astype("uint8")}


@pytest.fixture(scope="module")
def batch_settings(db_url, tmp_path_factory) -> Settings:
    return Settings(
        database_url=db_url, raster_dir=tmp_path_factory.mktemp("rasters"), raster_max_zones=500
    )


@pytest.fixture(scope="module")
def bclient(batch_settings, rasters):
    with TestClient(create_app(batch_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def rasters(engine, batch_settings, west_north, arrays, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sources")
    transform = from_origin(*west_north, CELL, CELL)
    made = {}
    for name, array, nodata, categorical in (
        ("t-batch", arrays["values"], NODATA, False),
        ("t-batch-classes", arrays["classes"], 0, True),
    ):
        path = folder / f"{name}.tif"
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=SIZE,
            height=SIZE,
            count=1,
            dtype=array.dtype,
            crs="EPSG:25830",
            transform=transform,
            nodata=nodata,
        ) as dst:
            dst.write(array, 1)
        made[name] = storage.register(engine, batch_settings, path, name, categorical=categorical)
    yield made
    for name in made:
        storage.remove(engine, batch_settings, name)


@pytest.fixture(scope="module")
def deposits(engine, west_north):
    """Six deposits at cell centres of the raster, the last confidential to organisation B."""
    with engine.begin() as conn:
        org_b = create_organisation(conn, "t-zonal-b", "Minera B")
        key = create_key(conn, "t-zonal-b", "reader", "bea@b.example", None)[0]
        ids = []
        for i, (row, col) in enumerate(DEPOSIT_CELLS):
            lon, lat = TO_LONLAT.transform(
                west_north[0] + (col + 0.5) * CELL, west_north[1] - (row + 0.5) * CELL
            )
            owner = org_b if i == len(DEPOSIT_CELLS) - 1 else None  # the last: B's secret
            ids.append(
                insert_deposit(conn, f"{NAME} {i}", (lon, lat), SOURCE, str(i), owner, "tungsten")
            )
    yield {"ids": ids, "key": key}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM organisations WHERE code = 't-zonal-b'"))


def cells_box(west_north, row: int, col: int, rows: int, cols: int):
    """A UTM box of whole cells: rows × cols cells from (row, col)."""
    west, north = west_north
    return box(
        west + col * CELL,
        north - (row + rows) * CELL,
        west + (col + cols) * CELL,
        north - row * CELL,
    )


def feature(geometry, ident=None, **properties) -> dict:
    """A Feature as it travels in JSON (lists, not shapely's tuples)."""
    made = {
        "type": "Feature",
        "geometry": json.loads(json.dumps(geometry)),
        "properties": properties,
    }
    return made if ident is None else {**made, "id": ident}


def utm_features(west_north) -> list[dict]:
    """Aligned boxes (one over the nodata block), a circle, a point with a buffer; ids of three
    kinds and one missing, in an order that is not theirs."""
    west, north = west_north
    circle = Point(west + 2_000, north - 3_000).buffer(730, quad_segs=12)
    return [
        feature(mapping(cells_box(west_north, 40, 40, 5, 7)), "z-9", name="late box"),
        feature(mapping(cells_box(west_north, 18, 3, 8, 8)), 3, name="over nodata"),
        feature(mapping(circle), None, name="circle", note={"kept": [1, 2]}),
        feature({"type": "Point", "coordinates": [west + 4_000, north - 1_500]}, 1, buffer_m=350),
        feature(mapping(cells_box(west_north, 0, 0, 1, 1)), "a", name="one cell"),
    ]


def single(client, raster: str, body: dict, headers=None, **params) -> dict:
    response = client.post(
        f"/rasters/{raster}/statistics", json=body, headers=headers or {}, params=params
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    for key in ("raster", "band", "units"):
        answer.pop(key)
    return answer


def batch(client, raster: str, body: dict, headers=None, **params) -> dict:
    response = client.post(
        f"/rasters/{raster}/statistics", json=body, headers=headers or {}, params=params
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    return response.json()


# --- A FeatureCollection --------------------------------------------------------------------


def test_each_feature_gets_the_single_forms_statistics_in_input_order(
    bclient, rasters, west_north, arrays
):
    features = utm_features(west_north)
    body = {"type": "FeatureCollection", "features": features}
    answer = batch(bclient, "t-batch", body, UTM, percentiles="10,50,90")
    assert (answer["raster"], answer["band"], answer["numberReturned"]) == ("t-batch", 1, 5)
    got = answer["features"]
    assert [f.get("id") for f in got] == ["z-9", 3, None, 1, "a"]
    for sent, back in zip(features, got):
        assert back["geometry"] == sent["geometry"]
        stats = back["properties"].pop("statistics")
        assert back["properties"] == sent["properties"]
        alone = single(bclient, "t-batch", sent, UTM, percentiles="10,50,90")
        assert stats == alone


def test_aligned_boxes_equal_numpy_over_whole_cells(bclient, rasters, west_north, arrays):
    values = arrays["values"].astype(np.float64)
    features = utm_features(west_north)
    got = batch(bclient, "t-batch", {"type": "FeatureCollection", "features": features}, UTM)
    for i, (row, col, rows, cols) in ((0, (40, 40, 5, 7)), (1, (18, 3, 8, 8)), (4, (0, 0, 1, 1))):
        stats = got["features"][i]["properties"]["statistics"]
        block = values[row : row + rows, col : col + cols]
        valid = block[block != NODATA]
        assert stats["count"] == pytest.approx(valid.size, abs=1e-9)
        assert stats["mean"] == pytest.approx(valid.mean(), rel=1e-9)
        assert stats["std"] == pytest.approx(valid.std(), rel=1e-6)
        assert (stats["min"], stats["max"]) == (valid.min(), valid.max())
        assert stats["valid_ha"] == pytest.approx(valid.size * CELL * CELL / 1e4, abs=1e-4)
        assert stats["nodata_share"] == pytest.approx(1 - valid.size / block.size, abs=1e-6)
    assert got["features"][1]["properties"]["statistics"]["nodata_share"] > 0


def test_categorical_classes_per_feature(bclient, rasters, west_north, arrays):
    features = utm_features(west_north)[:2]
    got = batch(
        bclient, "t-batch-classes", {"type": "FeatureCollection", "features": features}, UTM
    )
    for (row, col, rows, cols), sent, back in zip(
        ((40, 40, 5, 7), (18, 3, 8, 8)), features, got["features"]
    ):
        block = arrays["classes"][row : row + rows, col : col + cols]
        values, counts = np.unique(block, return_counts=True)
        classes = back["properties"]["statistics"]["classes"]
        assert [c["value"] for c in classes] == values.tolist()
        assert [c["hectares"] for c in classes] == pytest.approx(counts.tolist(), abs=1e-4)
        assert back["properties"]["statistics"] == single(bclient, "t-batch-classes", sent, UTM)


def test_csv_has_a_row_per_feature_in_order(bclient, rasters, west_north):
    body = {"type": "FeatureCollection", "features": utm_features(west_north)}
    as_json = batch(bclient, "t-batch", body, UTM, percentiles="90")["features"]
    for how in (
        {"params": {"f": "csv", "percentiles": "90"}},
        {"params": {"percentiles": "90"}, "headers": {**UTM, "Accept": "text/csv"}},
    ):
        headers = how.get("headers", UTM)
        response = bclient.post(
            "/rasters/t-batch/statistics", json=body, headers=headers, params=how["params"]
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["id"] for r in rows] == ["z-9", "3", "", "1", "a"]
        assert [r["name"] for r in rows] == ["late box", "over nodata", "circle", "", "one cell"]
        assert json.loads(rows[2]["note"]) == {"kept": [1, 2]}
        for row, feature_ in zip(rows, as_json):
            stats = feature_["properties"]["statistics"]
            assert float(row["statistics.mean"]) == stats["mean"]
            assert float(row["statistics.percentiles.90"]) == stats["percentiles"]["90"]


def test_a_large_batch_runs_on_the_services_shared_workers(bclient, rasters, west_north):
    """Over 400 features, two workers' worth: the same numbers as one process gives, and the
    second batch finds the processes the first started."""
    from geo.rasters.zonal import zonal_statistics_batch

    rng = np.random.default_rng(5)
    west, north = west_north
    circles = [
        Point(west + x, north - y).buffer(r, quad_segs=8)
        for x, y, r in zip(
            rng.uniform(600, 5400, 450), rng.uniform(600, 5400, 450), rng.uniform(60, 400, 450)
        )
    ]
    body = {
        "type": "FeatureCollection",
        "features": [feature(mapping(c), i) for i, c in enumerate(circles)],
    }
    workers = bclient.app.state.zonal_workers
    first = batch(bclient, "t-batch", body, UTM)["features"]
    executor = workers._executor
    assert executor is not None
    second = batch(bclient, "t-batch", body, UTM)["features"]
    assert workers._executor is executor
    alone = zonal_statistics_batch(
        rasters["t-batch"],
        [
            shapely.transform(c, lambda xy: np.column_stack(TO_LONLAT.transform(*xy.T)))
            for c in circles
        ],
        as_sent=[(25830, c) for c in circles],
        workers=1,
    )
    assert [f["properties"]["statistics"] for f in first] == alone
    assert [f["properties"]["statistics"] for f in second] == alone
    assert [f["id"] for f in first] == list(range(450))


# --- Deposits -------------------------------------------------------------------------------


def deposits_body(buffer_m: float = 500) -> dict:
    return {"deposits": {"buffer_m": buffer_m, "filter": f"name LIKE '{NAME}%'"}}


def test_a_deposit_batch_equals_single_calls_and_keeps_confidential_deposits_private(
    bclient, rasters, deposits
):
    ids = deposits["ids"]
    anonymous = batch(bclient, "t-batch", deposits_body(), percentiles="25")["features"]
    member = batch(
        bclient,
        "t-batch",
        deposits_body(),
        {"Authorization": f"Bearer {deposits['key']}"},
        percentiles="25",
    )["features"]
    assert [f["id"] for f in anonymous] == ids[:-1]
    in_leon = {"deposits": {**deposits_body()["deposits"], "area": "24"}}
    assert batch(bclient, "t-batch", in_leon, percentiles="25")["features"] == anonymous
    assert [f["id"] for f in member] == ids
    assert member[:-1] == anonymous
    for got in member:
        assert got["properties"]["name"].startswith(NAME)
        assert got["geometry"]["type"] == "Point"
        alone = single(
            bclient,
            "t-batch",
            {"deposit": got["id"], "buffer_m": 500},
            {"Authorization": f"Bearer {deposits['key']}"},
            percentiles="25",
        )
        assert got["properties"]["statistics"] == alone


def _geodesic_buffer(lon: float, lat: float, metres: float):
    """The buffer in an azimuthal equidistant projection centred on the point (distances from
    the centre are true there), back in lon/lat."""
    aeqd = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +ellps=WGS84 +units=m")
    back = Transformer.from_crs(aeqd, 4326, always_xy=True)
    circle = Point(0, 0).buffer(metres, quad_segs=16)
    return shapely.transform(circle, lambda xy: np.column_stack(back.transform(*xy.T)))


def test_deposits_are_grown_by_a_geodesic_buffer(db_url, bclient, rasters, deposits):
    """PostGIS grows each deposit in a planar projection it picks (UTM here); the true geodesic
    buffer differs by the projection's scale (under 0.03 % of the radius at 3° from the zone's
    meridian) and the vertices' placement (a 64-gon's sagitta, r(1 - cos(π/64)) ≈ 0.6 m): the
    two agree within 0.2 % of the area, their symmetric difference under 0.5 % of it."""
    query = deposit_zones_query(DepositSelection(500.0, f"name LIKE '{NAME}%'"), None, 100)
    with psycopg.connect(libpq_url(db_url)) as conn, psycopg.RawCursor(conn) as cursor:
        cursor.execute(query.text, query.values)
        rows = cursor.fetchall()
    assert len(rows) == len(DEPOSIT_CELLS)  # read as the database owner: every one
    answer = batch(bclient, "t-batch", deposits_body())["features"]
    areas = {f["id"]: f["properties"]["statistics"]["area_ha"] for f in answer}
    for ident, _name, point, wkb in rows:
        lon, lat = json.loads(point)["coordinates"]
        grown, expected = shapely.from_wkb(bytes(wkb)), _geodesic_buffer(lon, lat, 500)
        area = abs(GEOD.geometry_area_perimeter(expected)[0])
        assert abs(GEOD.geometry_area_perimeter(grown)[0]) == pytest.approx(area, rel=2e-3)
        difference = abs(GEOD.geometry_area_perimeter(grown.symmetric_difference(expected))[0])
        assert difference < 5e-3 * area
        if ident in areas:
            assert areas[ident] * 1e4 == pytest.approx(area, rel=2e-3)


# --- Refusals -------------------------------------------------------------------------------


def _problem(response, status: int, field: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    if status == 400:
        assert problem["invalid_params"][0]["name"] == field
    return problem


def test_bad_batches_are_refused_by_field(bclient, rasters, west_north):
    features = utm_features(west_north)
    post = bclient.post
    url = "/rasters/t-batch/statistics"
    _problem(post(url, json={"type": "FeatureCollection", "features": "x"}), 400, "features")
    _problem(post(url, json={"type": "FeatureCollection", "features": []}), 400, "features")
    no_geometry = [features[0], {"type": "Feature", "properties": {}, "geometry": None}]
    _problem(
        post(url, json={"type": "FeatureCollection", "features": no_geometry}, headers=UTM),
        400,
        "features[1].geometry",
    )
    bare_point = [feature({"type": "Point", "coordinates": [-5.87, 42.73]}, 1)]
    _problem(
        post(url, json={"type": "FeatureCollection", "features": bare_point}),
        400,
        "features[0].geometry",
    )
    _problem(
        post(
            url,
            json={"type": "FeatureCollection", "features": features},
            headers={"Content-Crs": "EPSG:99999"},
        ),
        400,
        "Content-Crs",
    )
    too_many = {"type": "FeatureCollection", "features": [features[0]] * 501}
    problem = _problem(post(url, json=too_many, headers=UTM), 400, "features")
    assert "500" in problem["invalid_params"][0]["allowed"]
    _problem(post(url, json={"deposits": {"filter": "name = 'x'"}}), 400, "deposits.buffer_m")
    _problem(post(url, json={"deposits": {"buffer_m": 500, "colour": 1}}), 400, "deposits.colour")
    bad_filter = {"deposits": {"buffer_m": 500, "filter": "name LIKE"}}
    _problem(post(url, json=bad_filter), 400, "deposits.filter")
    _problem(
        post(url, json={"deposits": {"buffer_m": 500, "area": "Atlantis"}}), 400, "deposits.area"
    )
    body = {"type": "FeatureCollection", "features": features}
    _problem(post(url, json=body, headers=UTM, params={"band": 2}), 400, "band")
    _problem(post(url, json=body, headers=UTM, params={"f": "xml"}), 400, "f")
    _problem(post(url, json=features[0], headers=UTM, params={"f": "csv"}), 400, "f")
    _problem(post("/rasters/t-nothing/statistics", json=body, headers=UTM), 404, "")


def test_a_deposit_search_beyond_the_limit_is_refused(db_url, tmp_path, rasters, deposits):
    settings = Settings(
        database_url=db_url, raster_dir=rasters["t-batch"].path.parent, raster_max_zones=3
    )
    with TestClient(create_app(settings)) as small:
        problem = _problem(
            small.post("/rasters/t-batch/statistics", json=deposits_body()), 400, "deposits"
        )
    assert "3" in problem["invalid_params"][0]["allowed"]


# --- The command line -----------------------------------------------------------------------


def test_the_command_writes_what_the_route_answers(
    cli, bclient, rasters, deposits, west_north, tmp_path, batch_settings, monkeypatch
):
    monkeypatch.setenv("VETA_RASTER_DIR", str(batch_settings.raster_dir))
    source = tmp_path / "sites.geojson"
    features = utm_features(west_north)
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25830"}},
        "features": features,
    }
    source.write_text(json.dumps(collection))
    out = tmp_path / "sites.csv"
    code, output = cli("raster", "statistics", "t-batch", source, "-o", out)
    assert code == 0, output
    assert f"{out}: statistics of 5 zones written" in output
    rows = list(csv.DictReader(out.open()))
    expected = batch(bclient, "t-batch", {"type": "FeatureCollection", "features": features}, UTM)
    assert [float(r["statistics.mean"]) for r in rows] == pytest.approx(
        [f["properties"]["statistics"]["mean"] for f in expected["features"]], rel=1e-9
    )

    mine = tmp_path / "deposits.geojson"
    code, output = cli(
        "raster",
        "statistics",
        "t-batch",
        "--deposits",
        "--filter",
        f"name LIKE '{NAME}%'",
        "--buffer",
        500,
        "-o",
        mine,
        "--org",
        "t-zonal-b",
    )
    assert code == 0, output
    written = json.loads(mine.read_text())["features"]
    assert [f["id"] for f in written] == deposits["ids"]
    member = batch(
        bclient, "t-batch", deposits_body(), {"Authorization": f"Bearer {deposits['key']}"}
    )["features"]
    assert written == member

    public = tmp_path / "public.geojson"
    code, output = cli(
        "raster",
        "statistics",
        "t-batch",
        "--deposits",
        "--filter",
        f"name LIKE '{NAME}%'",
        "--buffer",
        500,
        "-o",
        public,
    )
    assert code == 0, output
    assert [f["id"] for f in json.loads(public.read_text())["features"]] == deposits["ids"][:-1]
    assert f"statistics of {len(deposits['ids']) - 1} zones written" in output


def test_a_refused_command_writes_nothing(cli, rasters, batch_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("VETA_RASTER_DIR", str(batch_settings.raster_dir))
    out = tmp_path / "none.csv"
    code, output = cli("raster", "statistics", "t-batch", "--deposits", "-o", out)
    assert code == 2 and "deposits.buffer_m" in output
    source = tmp_path / "bad.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature"}]}))
    code, output = cli("raster", "statistics", "t-batch", source, "-o", out)
    assert code == 2 and "features[0].geometry" in output
    assert list(tmp_path.glob("*.csv")) == [] and list(tmp_path.glob(".*partial")) == []


def test_a_zone_over_the_rasters_edge_covers_only_its_part_inside(bclient, rasters, west_north):
    """Three of seven columns lie west of the raster: 4 x 5 cells are covered, all valid."""
    edge = feature(mapping(cells_box(west_north, 30, -3, 5, 7)), "edge")
    body = {"type": "FeatureCollection", "features": [edge]}
    stats = batch(bclient, "t-batch", body, UTM)["features"][0]["properties"]["statistics"]
    assert stats["covered_ha"] == pytest.approx(20.0, abs=1e-4)
    assert stats["valid_ha"] == pytest.approx(20.0, abs=1e-4)
    assert stats["area_ha"] == pytest.approx(35.0, rel=2e-3)  # geodesic, of the whole box
    assert stats["nodata_share"] == 0.0
    assert stats == single(bclient, "t-batch", edge, UTM)
