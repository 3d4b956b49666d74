"""Rasters: registration and its refusals, sampling, exact zonal statistics, tiles.

Rasters are made here: a continuous one in EPSG:25830 with nodata cells, a categorical one,
and the continuous one warped to EPSG:4326. Every value is checked against numpy over the
array the test wrote, with cell coverage fractions computed by shapely in the test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rasterio.warp import Resampling, calculate_default_transform, reproject
from rio_cogeo.cogeo import cog_validate
from rio_tiler.colormap import cmap
from shapely.geometry import box, mapping
from sqlalchemy import text

from api.app import create_app
from geo.core.errors import InvalidParameter
from geo.core.settings import Settings
from geo.rasters import storage

CELL = 100.0
SIZE = 60
NODATA = -9999.0
TO_UTM = Transformer.from_crs(4326, 25830, always_xy=True)
TO_LONLAT = Transformer.from_crs(25830, 4326, always_xy=True)


@pytest.fixture(scope="module")
def raster_settings(db_url, tmp_path_factory) -> Settings:
    return Settings(database_url=db_url, raster_dir=tmp_path_factory.mktemp("rasters"))


@pytest.fixture(scope="module")
def rclient(raster_settings):
    with TestClient(create_app(raster_settings)) as c:
        yield c


@pytest.fixture(scope="module")
def grid(engine):
    """A 6 km square of 100 m cells around a sample permit's centroid (so permits and zones of
    the sample overlap it), origin on whole hundreds of metres."""
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM permits "
                "ORDER BY id LIMIT 1) p"
            )
        ).one()
    x, y = TO_UTM.transform(lon, lat)
    west, north = (
        math.floor(x / CELL) * CELL - SIZE / 2 * CELL,
        math.floor(y / CELL) * CELL + SIZE / 2 * CELL,
    )
    return west, north


def _write(path, array, crs, transform, nodata=None):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=array.shape[1],
        height=array.shape[0],
        count=1,
        dtype=array.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(array, 1)
    return path


@pytest.fixture(scope="module")
def continuous(grid):
    rng = np.random.default_rng(14)
    array = (rng.random((SIZE, SIZE)) * 100).astype("float32")
    array[5:8, 10:14] = NODATA
    return array


@pytest.fixture(scope="module")
def classes(grid):
    rng = np.random.default_rng(41)
    return rng.integers(1, 5, size=(SIZE, SIZE)).astype("uint8")


@pytest.fixture(scope="module")
def registered(engine, raster_settings, grid, continuous, classes, tmp_path_factory):
    """The test rasters, registered; removed when the module ends."""
    folder = tmp_path_factory.mktemp("sources")
    transform = from_origin(grid[0], grid[1], CELL, CELL)
    utm = _write(folder / "utm.tif", continuous, "EPSG:25830", transform, NODATA)
    cat = _write(folder / "classes.tif", classes, "EPSG:25830", transform, 0)
    # A smooth surface warped to lon/lat: the same field in another CRS.
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    smooth = (xx * 2.0 + yy * 1.0 + 10).astype("float32")
    smooth_path = _write(folder / "smooth.tif", smooth, "EPSG:25830", transform)
    with rasterio.open(smooth_path) as src:
        dst_transform, width, height = calculate_default_transform(
            src.crs, "EPSG:4326", src.width, src.height, *src.bounds, resolution=(0.0002, 0.0002)
        )
        warped = np.full((height, width), NODATA, dtype="float32")
        reproject(
            smooth,
            warped,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=dst_transform,
            dst_crs="EPSG:4326",
            resampling=Resampling.bilinear,
            dst_nodata=NODATA,
        )
    lonlat = _write(folder / "smooth4326.tif", warped, "EPSG:4326", dst_transform, NODATA)
    infos = {
        "t-utm": storage.register(
            engine, raster_settings, utm, "t-utm", units="ppm", title="Test field"
        ),
        "t-classes": storage.register(engine, raster_settings, cat, "t-classes", categorical=True),
        "t-smooth": storage.register(engine, raster_settings, smooth_path, "t-smooth"),
        "t-smooth4326": storage.register(engine, raster_settings, lonlat, "t-smooth4326"),
    }
    yield infos
    for name in infos:
        storage.remove(engine, raster_settings, name)


def cell_centre_lonlat(grid, row: int, col: int) -> tuple[float, float]:
    return TO_LONLAT.transform(grid[0] + (col + 0.5) * CELL, grid[1] - (row + 0.5) * CELL)


def utm_polygon_lonlat(polygon):
    """A polygon drawn in UTM, densified and sent in lon/lat."""
    dense = shapely.segmentize(polygon, 10)
    return shapely.transform(
        dense, lambda xy: np.column_stack(TO_LONLAT.transform(xy[:, 0], xy[:, 1]))
    )


def coverage(grid, polygon) -> np.ndarray:
    """The share of each cell inside `polygon` (UTM), by shapely intersection areas."""
    fractions = np.zeros((SIZE, SIZE))
    for row in range(SIZE):
        for col in range(SIZE):
            cell = box(
                grid[0] + col * CELL,
                grid[1] - (row + 1) * CELL,
                grid[0] + (col + 1) * CELL,
                grid[1] - row * CELL,
            )
            if cell.intersects(polygon):
                fractions[row, col] = cell.intersection(polygon).area / (CELL * CELL)
    return fractions


# --- Registration ---------------------------------------------------------------------------


def test_registered_raster_is_a_cog_with_overviews_and_its_metadata(registered, continuous, grid):
    info = registered["t-utm"]
    assert cog_validate(str(info.path), quiet=True)[0]
    with rasterio.open(info.path) as cog:
        assert np.array_equal(cog.read(1), continuous)
    assert (info.epsg, info.width, info.height, info.band_count, info.data_type, info.nodata) == (
        25830,
        SIZE,
        SIZE,
        1,
        "float32",
        NODATA,
    )
    assert info.bounds == (grid[0], grid[1] - SIZE * CELL, grid[0] + SIZE * CELL, grid[1])
    valid = continuous[continuous != NODATA].astype(np.float64)
    stats = info.statistics[0]
    assert stats["count"] == valid.size
    assert stats["min"] == pytest.approx(valid.min()) and stats["max"] == pytest.approx(valid.max())
    assert stats["mean"] == pytest.approx(valid.mean(), rel=1e-9)
    assert stats["std"] == pytest.approx(valid.std(), rel=1e-6)


def test_a_raster_larger_than_a_tile_gets_overviews(engine, raster_settings, tmp_path):
    array = np.tile(np.arange(1500, dtype="uint16"), (1500, 1))
    path = _write(tmp_path / "big.tif", array, "EPSG:25830", from_origin(300000, 4700000, 10, 10))
    info = storage.register(engine, raster_settings, path, "t-big")
    try:
        assert cog_validate(str(info.path), quiet=True)[0]
        with rasterio.open(info.path) as cog:
            assert cog.overviews(1) == [2, 4]
            assert cog.block_shapes[0] == (512, 512)
            assert np.array_equal(cog.read(1), array)
        assert info.statistics[0]["mean"] == pytest.approx(array.mean(), rel=1e-12)
    finally:
        storage.remove(engine, raster_settings, "t-big")


def test_catalogue_and_coverage_description(rclient, registered, grid):
    listing = rclient.get("/rasters").json()["rasters"]
    assert {"t-utm", "t-classes", "t-smooth", "t-smooth4326"} <= {r["name"] for r in listing}
    doc = rclient.get("/rasters/t-utm").json()
    assert doc["id"] == "t-utm" and doc["units"] == "ppm" and doc["crs"] == "EPSG:25830"
    assert doc["extent"]["spatial"]["native_bbox"] == list(registered["t-utm"].bounds)
    west, south, east, north = doc["extent"]["spatial"]["bbox"][0]
    lon, lat = cell_centre_lonlat(grid, SIZE // 2, SIZE // 2)
    assert west < lon < east and south < lat < north
    axes = doc["domainset"]["generalGrid"]["gridLimits"]["axis"]
    assert [a["upperBound"] for a in axes] == [SIZE - 1, SIZE - 1]
    assert doc["rangetype"]["field"][0]["nilValues"] == [NODATA]
    missing = rclient.get("/rasters/nope")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )


@pytest.mark.parametrize(
    "case", ["not a raster", "no crs", "unusable crs", "too large", "bad name", "taken"]
)
def test_bad_rasters_are_refused_and_nothing_is_written(
    engine, raster_settings, registered, tmp_path, case
):
    array = np.ones((4, 4), dtype="uint8")
    path, settings, name = tmp_path / "r.tif", raster_settings, "t-refused"
    if case == "not a raster":
        path.write_text("lon,lat\n-5.6,42.6\n")
    elif case == "no crs":
        _write(path, array, None, from_origin(0, 4, 1, 1))
    elif case == "unusable crs":
        _write(path, array, 'LOCAL_CS["mine grid",UNIT["metre",1]]', from_origin(0, 4, 1, 1))
    else:
        _write(path, array, "EPSG:25830", from_origin(300000, 4700000, 10, 10))
        if case == "too large":
            settings = raster_settings.model_copy(update={"raster_max_file_mb": 0})
        elif case == "bad name":
            name = "Bad Name!"
        else:
            name = "t-utm"
    before = sorted(p.name for p in storage.raster_dir(raster_settings).iterdir())
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM rasters")).scalar()
    with pytest.raises(InvalidParameter) as refused:
        storage.register(engine, settings, path, name)
    expected = {
        "not a raster": "not a raster",
        "no crs": "no coordinate reference system",
        "unusable crs": "cannot be transformed",
        "too large": "MiB limit",
        "bad name": "not a raster name",
        "taken": "already registered",
    }[case]
    assert expected in refused.value.detail
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rasters")).scalar() == count
    assert sorted(p.name for p in storage.raster_dir(raster_settings).iterdir()) == before


def test_cli_adds_lists_and_removes(cli, monkeypatch, raster_settings, tmp_path):
    monkeypatch.setenv("VETA_RASTER_DIR", str(raster_settings.raster_dir))
    path = _write(
        tmp_path / "c.tif",
        np.arange(16, dtype="int16").reshape(4, 4),
        "EPSG:25830",
        from_origin(300000, 4700000, 10, 10),
    )
    code, out = cli("raster", "add", path, "--name", "t-cli", "--units", "m")
    assert code == 0, out
    code, out = cli("raster", "list")
    assert code == 0 and "t-cli\t4x4\t1 band(s)\tint16\tEPSG:25830" in out
    code, out = cli("raster", "add", tmp_path / "missing.tif", "--name", "t-cli2")
    assert code == 2 and "does not exist" in out
    code, out = cli("raster", "remove", "t-cli")
    assert code == 0
    assert "t-cli" not in cli("raster", "list")[1]
    assert not list(raster_settings.raster_dir.glob("t-cli-*"))


# --- Sampling -------------------------------------------------------------------------------


def test_point_values_are_the_cells_values_and_nodata_is_null(
    rclient, registered, grid, continuous
):
    for row, col in [(0, 0), (SIZE - 1, SIZE - 1), (20, 33), (6, 11)]:
        lon, lat = cell_centre_lonlat(grid, row, col)
        got = rclient.get("/rasters/t-utm/point", params={"lon": lon, "lat": lat}).json()[
            "properties"
        ]["values"]
        expected = (
            None if continuous[row, col] == NODATA else pytest.approx(float(continuous[row, col]))
        )
        assert got == [expected]
    outside = rclient.get("/rasters/t-utm/point", params={"lon": 0.0, "lat": 0.0}).json()
    assert outside["properties"]["values"] == [None]


def test_bilinear_interpolates_between_cell_centres(rclient, registered, grid, continuous):
    # A quarter of the way from cell (30, 30)'s centre towards (31, 31)'s.
    x, y = grid[0] + 30.5 * CELL + 25, grid[1] - 30.5 * CELL - 25
    lon, lat = TO_LONLAT.transform(x, y)
    got = rclient.get(
        "/rasters/t-utm/point", params={"lon": lon, "lat": lat, "method": "bilinear"}
    ).json()
    a = continuous[30:32, 30:32].astype(np.float64)
    expected = (a[0, 0] * 0.75 + a[0, 1] * 0.25) * 0.75 + (a[1, 0] * 0.75 + a[1, 1] * 0.25) * 0.25
    assert got["properties"]["values"][0] == pytest.approx(expected, rel=1e-6)
    # Next to nodata there is no honest interpolation.
    lon, lat = cell_centre_lonlat(grid, 8, 12)
    near = rclient.get(
        "/rasters/t-utm/point", params={"lon": lon, "lat": lat - 0.0004, "method": "bilinear"}
    ).json()
    lon2, lat2 = cell_centre_lonlat(grid, 7, 12)
    on = rclient.get(
        "/rasters/t-utm/point", params={"lon": lon2, "lat": lat2, "method": "bilinear"}
    ).json()
    assert on["properties"]["values"] == [None]
    assert near["properties"]["values"][0] is not None


def test_sampling_a_feature_collection_in_utm(rclient, registered, grid, continuous):
    cells = [(1, 2), (6, 11), (40, 50)]
    features = [
        {
            "type": "Feature",
            "id": i,
            "properties": {"name": f"p{i}"},
            "geometry": {
                "type": "Point",
                "coordinates": [grid[0] + (c + 0.5) * CELL, grid[1] - (r + 0.5) * CELL],
            },
        }
        for i, (r, c) in enumerate(cells)
    ]
    answer = rclient.post(
        "/rasters/t-utm/sample",
        json={"type": "FeatureCollection", "features": features},
        headers={"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/25830>"},
    ).json()
    values = [f["properties"]["values"][0] for f in answer["features"]]
    assert values == [
        pytest.approx(float(continuous[1, 2])),
        None,
        pytest.approx(float(continuous[40, 50])),
    ]
    assert [f["properties"]["name"] for f in answer["features"]] == ["p0", "p1", "p2"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"type": "FeatureCollection", "features": []}, "features"),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}}
                ],
            },
            "features[0].geometry",
        ),
        ({"type": "Point", "coordinates": [0, 0]}, "body"),
    ],
)
def test_bad_sample_bodies_name_the_field(rclient, registered, body, field):
    answer = rclient.post("/rasters/t-utm/sample", json=body)
    assert answer.status_code == 400
    assert answer.json()["invalid_params"][0]["name"] == field


def test_too_many_points_are_refused(rclient, registered, raster_settings):
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-5.6, 42.6]}}
    body = {
        "type": "FeatureCollection",
        "features": [point] * (raster_settings.raster_max_points + 1),
    }
    answer = rclient.post("/rasters/t-utm/sample", json=body)
    assert (
        answer.status_code == 400 and "more than one request may sample" in answer.json()["detail"]
    )


# --- Zonal statistics -----------------------------------------------------------------------


def _weighted(values: np.ndarray, weights: np.ndarray) -> dict:
    mean = (values * weights).sum() / weights.sum()
    return {
        "count": weights.sum(),
        "mean": mean,
        "std": math.sqrt((weights * (values - mean) ** 2).sum() / weights.sum()),
        "min": values.min(),
        "max": values.max(),
    }


def test_statistics_over_an_aligned_polygon_equal_numpy(rclient, registered, grid, continuous):
    polygon = box(grid[0] + 10 * CELL, grid[1] - 20 * CELL, grid[0] + 30 * CELL, grid[1] - 2 * CELL)
    body = mapping(polygon)
    stats = rclient.post(
        "/rasters/t-utm/statistics",
        json=body,
        params={"percentiles": "50"},
        headers={"Content-Crs": "http://www.opengis.net/def/crs/EPSG/0/25830"},
    ).json()
    window = continuous[2:20, 10:30].astype(np.float64)
    valid = window[window != NODATA]
    expected = _weighted(valid, np.ones_like(valid))
    for key in ("count", "mean", "std", "min", "max"):
        assert stats[key] == pytest.approx(expected[key], rel=1e-9, abs=1e-9), key
    assert stats["nodata_share"] == pytest.approx((window == NODATA).sum() / window.size, abs=1e-6)
    assert stats["valid_ha"] == pytest.approx(valid.size * CELL * CELL / 1e4, rel=1e-9)
    # With equal weights the median is numpy's; the 50th percentile is the median.
    assert stats["median"] == pytest.approx(np.median(valid), rel=1e-6)
    assert stats["percentiles"]["50"] == pytest.approx(stats["median"])


def test_statistics_over_a_drawn_polygon_use_exact_coverage(rclient, registered, grid, continuous):
    cx, cy = grid[0] + 25 * CELL, grid[1] - 22 * CELL
    polygon = shapely.Polygon(
        [
            (cx - 1234, cy - 777),
            (cx + 1500, cy - 1321),
            (cx + 900, cy + 1450),
            (cx - 1100, cy + 830),
        ]
    )
    stats = rclient.post(
        "/rasters/t-utm/statistics", json=mapping(utm_polygon_lonlat(polygon))
    ).json()
    weights = coverage(grid, polygon)
    valid = (continuous != NODATA) & (weights > 0)
    expected = _weighted(continuous[valid].astype(np.float64), weights[valid])
    for key in ("count", "mean", "std"):
        assert stats[key] == pytest.approx(expected[key], rel=1e-3), key
    assert stats["min"] == pytest.approx(expected["min"]) and stats["max"] == pytest.approx(
        expected["max"]
    )
    covered = weights.sum()
    assert stats["nodata_share"] == pytest.approx(
        weights[continuous == NODATA].sum() / covered, rel=1e-3
    )


def test_categorical_hectares_per_class(rclient, registered, grid, classes):
    cx, cy = grid[0] + 31 * CELL, grid[1] - 29 * CELL
    polygon = shapely.Point(cx, cy).buffer(1800, quad_segs=32)
    stats = rclient.post(
        "/rasters/t-classes/statistics", json=mapping(utm_polygon_lonlat(polygon))
    ).json()
    weights = coverage(grid, polygon)
    got = {c["value"]: c["hectares"] for c in stats["classes"]}
    expected = {k: weights[classes == k].sum() * CELL * CELL / 1e4 for k in range(1, 5)}
    assert got.keys() == expected.keys()
    for k in expected:
        assert got[k] == pytest.approx(expected[k], rel=1e-3), k
    assert sum(c["share"] for c in stats["classes"]) == pytest.approx(1.0)


def test_a_raster_in_lonlat_gives_the_statistics_of_its_projected_original(
    rclient, registered, grid
):
    cx, cy = grid[0] + 30 * CELL, grid[1] - 30 * CELL
    polygon = shapely.Polygon(
        [
            (cx - 1500, cy - 1000),
            (cx + 1700, cy - 1200),
            (cx + 1200, cy + 1500),
            (cx - 1300, cy + 900),
        ]
    )
    body = mapping(utm_polygon_lonlat(polygon))
    utm = rclient.post("/rasters/t-smooth/statistics", json=body).json()
    lonlat = rclient.post("/rasters/t-smooth4326/statistics", json=body).json()
    assert lonlat["mean"] == pytest.approx(utm["mean"], rel=5e-3)
    assert lonlat["valid_ha"] == pytest.approx(utm["valid_ha"], rel=5e-3)
    assert lonlat["valid_ha"] == pytest.approx(lonlat["area_ha"], rel=5e-3)


def test_statistics_over_a_permit_equal_those_over_its_geometry(rclient, registered, engine):
    with engine.connect() as conn:
        permit_id, geojson = conn.execute(
            text("SELECT id, ST_AsGeoJSON(geom) FROM permits ORDER BY id LIMIT 1")
        ).one()
    by_reference = rclient.post("/rasters/t-utm/statistics", json={"permit": permit_id}).json()
    by_geometry = rclient.post(
        "/rasters/t-utm/statistics", content=geojson, headers={"Content-Type": "application/json"}
    ).json()
    assert by_reference["count"] > 0
    assert by_reference == by_geometry


def test_statistics_over_a_zone_and_an_area(rclient, registered, engine):
    with engine.connect() as conn:
        zone_id, geojson = conn.execute(
            text("SELECT id, ST_AsGeoJSON(geom) FROM protection_zones ORDER BY id LIMIT 1")
        ).one()
    by_zone = rclient.post("/rasters/t-utm/statistics", json={"zone": zone_id})
    assert by_zone.status_code == 200
    assert (
        by_zone.json()["area_ha"]
        == rclient.post(
            "/rasters/t-utm/statistics",
            content=geojson,
            headers={"Content-Type": "application/json"},
        ).json()["area_ha"]
    )
    by_area = rclient.post("/rasters/t-utm/statistics", json={"area": "leon"})
    assert by_area.status_code == 200 and by_area.json()["area_ha"] > 1e6


@pytest.mark.parametrize(
    "body, params, field",
    [
        ({"type": "Point", "coordinates": [-5.6, 42.6]}, {}, "body"),
        ({"zone": 0}, {}, "zone"),
        ({"zone": 999999}, {}, "zone"),
        ({"area": "atlantis"}, {}, "area"),
        (
            {"type": "Point", "coordinates": [-5.6, 42.6], "buffer_m": 100},
            {"percentiles": "0,50"},
            "percentiles",
        ),
        ({"type": "Point", "coordinates": [-5.6, 42.6], "buffer_m": 100}, {"band": 2}, "band"),
    ],
)
def test_bad_statistics_requests_name_the_field(rclient, registered, body, params, field):
    answer = rclient.post("/rasters/t-utm/statistics", json=body, params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["invalid_params"][0]["name"] == field


# --- Tiles ----------------------------------------------------------------------------------


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_a_tile_is_a_png_coloured_by_class(rclient, registered, grid, classes):
    row, col = 30, 30
    lon, lat = cell_centre_lonlat(grid, row, col)
    z = 20  # a tile ~29 m wide: inside the 100 m cell whose centre it holds
    x, y = _tile_of(lon, lat, z)
    answer = rclient.get(
        f"/rasters/t-classes/tiles/WebMercatorQuad/{z}/{x}/{y}.png", params={"colormap": "tab20"}
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    with MemoryFile(answer.content) as f, f.open() as png:
        assert (png.width, png.height) == (256, 256)
        rgba = png.read()
    colour = cmap.get("tab20")[int(classes[row, col])]
    assert (rgba.reshape(rgba.shape[0], -1).T == np.array(colour[: rgba.shape[0]])).all()


def test_a_tile_outside_the_raster_is_transparent(rclient, registered):
    answer = rclient.get("/rasters/t-utm/tiles/WebMercatorQuad/10/0/0.png")
    with MemoryFile(answer.content) as f, f.open() as png:
        assert (png.width, png.height) == (256, 256)
        assert (png.read()[-1] == 0).all()


def test_continuous_tile_rescales_with_the_colour_map(rclient, registered, grid, continuous):
    row, col = 40, 20
    lon, lat = cell_centre_lonlat(grid, row, col)
    x, y = _tile_of(lon, lat, 20)
    answer = rclient.get(
        f"/rasters/t-utm/tiles/WebMercatorQuad/20/{x}/{y}.png",
        params={"colormap": "greys", "rescale": "0,100"},
    )
    with MemoryFile(answer.content) as f, f.open() as png:
        rgba = png.read()
    # Bilinear inside one cell of a 100 m grid at ~0.1 m pixels: the cell's value, give or take
    # its neighbours' pull near the edges; the tile's centre pixel is the cell's own colour.
    level = int(np.clip(float(continuous[row, col]) / 100 * 255, 0, 255))
    assert abs(int(rgba[0, 128, 128]) - cmap.get("greys")[level][0]) <= 40
    bad = rclient.get(
        f"/rasters/t-utm/tiles/WebMercatorQuad/20/{x}/{y}.png", params={"rescale": "5,1"}
    )
    assert bad.status_code == 400 and bad.json()["invalid_params"][0]["name"] == "rescale"


# --- Screening ------------------------------------------------------------------------------


def test_screening_reports_carry_the_statistics_of_screening_rasters(
    rclient, registered, engine, grid
):
    cx, cy = grid[0] + 20 * CELL, grid[1] - 40 * CELL
    site = mapping(utm_polygon_lonlat(box(cx - 700, cy - 500, cx + 650, cy + 900)))
    assert rclient.post("/screening", json=site).json()["rasters"] == []
    storage.set_screening(engine, "t-utm", True)
    try:
        report = rclient.post("/screening", json=site).json()
        point = rclient.post(
            "/screening",
            json={"type": "Point", "coordinates": list(cell_centre_lonlat(grid, 3, 4))},
        ).json()
    finally:
        storage.set_screening(engine, "t-utm", False)
    direct = rclient.post("/rasters/t-utm/statistics", json=site).json()
    # The report's site went through PostGIS's GeoJSON (9 decimals): equal to a micro-cell.
    assert len(report["rasters"]) == 1
    assert report["rasters"][0] == {
        k: pytest.approx(v, rel=1e-6) if isinstance(v, float) else v for k, v in direct.items()
    }
    value = rclient.get(
        "/rasters/t-utm/point", params=dict(zip(("lon", "lat"), cell_centre_lonlat(grid, 3, 4)))
    ).json()
    assert point["rasters"] == [
        {"raster": "t-utm", "units": "ppm", "values": value["properties"]["values"]}
    ]


# --- The sample raster ----------------------------------------------------------------------


def test_load_sample_registers_the_density_raster(cli, monkeypatch, engine, raster_settings):
    import json

    from geo.core.settings import PROJECT_ROOT

    monkeypatch.setenv("VETA_RASTER_DIR", str(raster_settings.raster_dir))
    code, out = cli("load-sample")
    assert code == 0 and "rasters: sample-w-li-density" in out
    assert "rasters:" not in cli("load-sample")[1], "loading again changes nothing"
    info = storage.find(engine, raster_settings, "sample-w-li-density")
    try:
        assert (
            info.epsg == 25830
            and info.resolution == (1000.0, 1000.0)
            and "Synthetic-derived" in info.description
        )
        features = json.loads((PROJECT_ROOT / "sample_data" / "deposits.geojson").read_text())[
            "features"
        ]
        points = [
            shapely.geometry.shape(f["geometry"]).centroid
            for f in features
            if {"tungsten", "lithium"} & set(f["properties"]["commodities"])
        ]
        with rasterio.open(info.path) as src:
            array = src.read(1)
            row, col = np.unravel_index(np.argmax(array), array.shape)
            x, y = src.xy(row, col)
        # Occurrences per km² by a 5 km Gaussian kernel, summed here point by point.
        expected = (
            sum(
                math.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * 5000.0**2))
                for px, py in (TO_UTM.transform(p.x, p.y) for p in points)
            )
            / (2 * math.pi * 5000.0**2)
            * 1e6
        )
        assert array[row, col] == pytest.approx(expected, rel=1e-5) and expected > 0.01
    finally:
        storage.remove(engine, raster_settings, "sample-w-li-density")


def test_deposit_screening_adds_raster_values_at_each_deposit(
    rclient, registered, grid, continuous
):
    answer = rclient.get("/screening/deposits", params={"raster_values": "t-utm,t-classes"})
    assert answer.status_code == 200, answer.text
    features = answer.json()["features"]
    plain = rclient.get("/screening/deposits").json()["features"]
    assert [f["id"] for f in features] == [f["id"] for f in plain]
    found = 0
    for feature in features:
        values = feature["properties"]["raster_values"]
        assert set(values) == {"t-utm", "t-classes"}
        if feature["geometry"]["type"] != "Point":
            continue
        x, y = TO_UTM.transform(*feature["geometry"]["coordinates"])
        col, row = int((x - grid[0]) // CELL), int((grid[1] - y) // CELL)
        if 0 <= row < SIZE and 0 <= col < SIZE:
            found += 1
            expected = (
                None
                if continuous[row, col] == NODATA
                else pytest.approx(float(continuous[row, col]))
            )
            assert values["t-utm"] == expected
        else:
            assert values["t-utm"] is None
    assert found > 0, "some sample deposit lies on the test raster"
    csv_lines = rclient.get(
        "/screening/deposits", params={"raster_values": "t-utm", "f": "csv"}
    ).text.splitlines()
    assert csv_lines[0].endswith(",raster_t-utm") and len(csv_lines) == len(features) + 1
    unknown = rclient.get("/screening/deposits", params={"raster_values": "nope"})
    assert (
        unknown.status_code == 400
        and unknown.json()["invalid_params"][0]["name"] == "raster_values"
    )
