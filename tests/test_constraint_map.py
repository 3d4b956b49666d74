"""The constraint map: its classes equal a shapely rasterisation of the zones at cell centres
(most restrictive effect, zones in force on the day, 3D rule), its free-ground band the share
of each cell in free cuadrícula ground, and it registers itself as a raster when asked."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.io import MemoryFile
from rio_cogeo.cogeo import cog_validate
from shapely import wkb
from shapely.geometry import box, shape
from sqlalchemy import text

from api.app import create_app
from geo.core.settings import Settings
from geo.rasters.constraints import COLOURS

SOURCE = "t-constraints"
TO_UTM = Transformer.from_crs(4326, 25830, always_xy=True)
TO_LONLAT = Transformer.from_crs(25830, 4326, always_xy=True)
CENTRE = (-5.30, 42.78)
RANK = {"exclusion": 1, "conditional": 2, "safeguarding": 3}


def circle(lon, lat, radius_m):
    x, y = TO_UTM.transform(lon, lat)
    ring = shapely.Point(x, y).buffer(radius_m, quad_segs=32)
    return shapely.transform(
        ring, lambda xy: np.column_stack(TO_LONLAT.transform(xy[:, 0], xy[:, 1]))
    )


ZONES = {  # key: (legal effect, geometry, depth top, depth bottom, valid_to)
    "column": ("exclusion", circle(-5.31, 42.785, 900), None, None, None),
    "surface": ("exclusion", circle(-5.285, 42.775, 700), 0.0, 50.0, None),
    "conditional": ("conditional", box(-5.315, 42.77, -5.29, 42.79), None, None, None),
    "safeguarding": ("safeguarding", box(-5.33, 42.765, -5.30, 42.775), None, None, None),
    "expired": ("exclusion", box(-5.29, 42.785, -5.28, 42.792), None, None, date(2000, 1, 1)),
}


@pytest.fixture(scope="module")
def zones(engine):
    with engine.begin() as conn:
        for key, (effect, geom, top, bottom, valid_to) in ZONES.items():
            conn.execute(
                text(
                    "INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, depth_top_m, "
                    "depth_bottom_m, valid_to, geom, source, source_id) VALUES (:name, 'other', 'test zone', :effect, "
                    ":top, :bottom, :valid_to, ST_Multi(ST_GeomFromText(:wkt, 4326)), :source, :sid)"
                ),
                {
                    "name": f"Test {key}",
                    "effect": effect,
                    "top": top,
                    "bottom": bottom,
                    "valid_to": valid_to,
                    "wkt": geom.wkt,
                    "source": SOURCE,
                    "sid": key,
                },
            )
        conn.execute(
            text(
                "INSERT INTO permits (registry_number, name, holder, right_type, status, commodities, source, geom) "
                "VALUES ('TEST-CMAP-1', 'Test held', 'Test Holder S.L.', 'investigation', 'granted', ARRAY['tungsten'], "
                ":source, ST_Multi(ST_GeomFromText(:wkt, 4326)))"
            ),
            {"source": SOURCE, "wkt": box(-5.3, 42.79, -5.28, 42.7967).wkt},
        )
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM protection_zones WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM permits WHERE source = :s"), {"s": SOURCE})


def _bbox() -> tuple[float, float, float, float]:
    x, y = TO_UTM.transform(*CENTRE)
    x, y = round(x, -2), round(y, -2)
    return x - 3000, y - 2500, x + 3000, y + 2500


def _expected_classes(engine, bbox, resolution, day, depth):
    """Class per cell centre by shapely, from every zone in the database (sample ones too)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT legal_effect, ST_AsBinary(geom), depth_top_m, depth_bottom_m FROM protection_zones "
                "WHERE legal_effect IN ('exclusion', 'conditional', 'safeguarding') "
                "AND (valid_from IS NULL OR valid_from <= :d) AND (valid_to IS NULL OR valid_to >= :d)"
            ),
            {"d": day},
        ).all()
    top, bottom = depth

    def overlaps(z_top, z_bottom):
        return (z_top or 0) < (bottom if bottom is not None else np.inf) and (top or 0) < (
            z_bottom if z_bottom is not None else np.inf
        )

    west, south, east, north = bbox
    cols, rows_ = int((east - west) / resolution), int((north - south) / resolution)
    xs = west + (np.arange(cols) + 0.5) * resolution
    ys = north - (np.arange(rows_) + 0.5) * resolution
    gx, gy = np.meshgrid(xs, ys)
    lon, lat = TO_LONLAT.transform(gx.ravel(), gy.ravel())
    points = shapely.points(lon, lat)
    classes = np.full(points.shape, 4, dtype="uint8")
    for effect, geom, z_top, z_bottom in rows:
        if not overlaps(z_top, z_bottom):
            continue
        inside = shapely.contains(wkb.loads(bytes(geom)), points)
        classes[inside] = np.minimum(classes[inside], RANK[effect])
    return classes.reshape(rows_, cols)


def _read(content: bytes):
    with MemoryFile(content) as f, f.open() as tif:
        colours = tif.colormap(1) if tif.colorinterp[0].name == "palette" else None
        return tif.read(1), colours, tif.profile


@pytest.mark.parametrize(
    "day, depth", [(None, (None, None)), ("1999-06-01", (None, None)), (None, (100.0, 300.0))]
)
def test_classes_equal_a_shapely_rasterisation_at_cell_centres(client, engine, zones, day, depth):
    bbox = _bbox()
    params = {"bbox": ",".join(map(str, bbox)), "crs": "EPSG:25830", "resolution": 100}
    if day:
        params["date"] = day
    if depth[0] is not None:
        params.update(depth_top_m=depth[0], depth_bottom_m=depth[1])
    answer = client.get("/constraints.tif", params=params)
    assert answer.status_code == 200, answer.text
    classes, colours, profile = _read(answer.content)
    assert profile["count"] == 1
    assert (profile["width"], profile["height"], profile["dtype"]) == (60, 50, "uint8")
    expected = _expected_classes(
        engine, bbox, 100, date.fromisoformat(day) if day else date.today(), depth
    )
    # A centre exactly on a zone edge may go either way between GDAL and GEOS: allow a handful.
    assert (classes != expected).sum() <= 3
    assert set(np.unique(expected)) >= {1, 2, 3, 4}
    assert colours[1][:3] == (200, 30, 30) and colours[4][:3] == (120, 190, 110)


def test_the_3d_rule_and_the_day_change_the_map(client, zones):
    bbox = ",".join(map(str, _bbox()))
    surface = TO_UTM.transform(-5.285, 42.775)
    expired = TO_UTM.transform(-5.285, 42.789)
    maps = {}
    for key, extra in {
        "today": {},
        "deep": {"depth_top_m": 100, "depth_bottom_m": 300},
        "1999": {"date": "1999-06-01"},
    }.items():
        maps[key] = _read(
            client.get(
                "/constraints.tif", params={"bbox": bbox, "resolution": 100, **extra}
            ).content
        )[0]
    west, _, _, north = _bbox()

    def at(xy):
        return int((north - xy[1]) // 100), int((xy[0] - west) // 100)

    assert maps["today"][at(surface)] == 1 and maps["deep"][at(surface)] != 1
    assert maps["today"][at(expired)] != 1 and maps["1999"][at(expired)] == 1


def test_free_ground_band_is_the_share_of_free_cuadricula_cells(client, engine, zones):
    bbox = _bbox()
    answer = client.get(
        "/constraints.tif",
        params={"bbox": ",".join(map(str, bbox)), "resolution": 100, "layer": "free_share"},
    )
    share, colours, _ = _read(answer.content)
    assert colours is None
    lonlat = TO_LONLAT.transform_bounds(*bbox, densify_pts=21)
    ground = client.get(
        "/grid/free", params={"bbox": ",".join(map(str, lonlat)), "merge": "true"}
    ).json()
    free = shapely.union_all([shape(f["geometry"]) for f in ground["features"]])
    free_utm = shapely.transform(
        shapely.segmentize(free, 0.001),
        lambda xy: np.column_stack(TO_UTM.transform(xy[:, 0], xy[:, 1])),
    )
    west, _, _, north = bbox
    worst = 0.0
    for row in range(share.shape[0]):
        for col in range(share.shape[1]):
            cell = box(
                west + col * 100, north - (row + 1) * 100, west + (col + 1) * 100, north - row * 100
            )
            expected = cell.intersection(free_utm).area / cell.area * 100
            worst = max(worst, abs(float(share[row, col]) - expected))
    # A 4 x 4 sub-grid resolves a share to 1/16 of a cell, an edge crossing a row of sub-cells.
    assert worst <= 100 / 4 + 1
    assert (share == 0).any() and (share == 100).any()


def test_cli_renders_an_area_and_registers_it(cli, monkeypatch, tmp_path, engine, zones, db_url):
    monkeypatch.setenv("VETA_RASTER_DIR", str(tmp_path / "rasters"))
    out = tmp_path / "map.tif"
    x, y = TO_UTM.transform(*CENTRE)
    share_out = tmp_path / "share.tif"
    code, text_ = cli(
        "constraints",
        "--bbox",
        f"{x - 2000},{y - 2000},{x + 2000},{y + 2000}",
        "--resolution",
        200,
        "-o",
        out,
        "--free-share-output",
        share_out,
        "--register",
        "t-cmap",
    )
    assert code == 0, text_
    for path in (out, share_out):
        assert cog_validate(str(path), quiet=True)[0]
        with rasterio.open(path) as tif:
            assert (tif.width, tif.height, tif.count) == (20, 20, 1)
    code, listing = cli("raster", "list")
    assert "t-cmap" in listing and "categorical" in listing
    # Its tiles are drawn with its own colour table: one at z20 inside a cell, by its class.
    with rasterio.open(out) as tif:
        classes = tif.read(1)
        row, col = 10, 10
        cx, cy = tif.xy(row, col)
    lon, lat = TO_LONLAT.transform(cx, cy)
    z = 20
    tx = int((lon + 180) / 360 * 2**z)
    ty = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    with TestClient(
        create_app(Settings(database_url=db_url, raster_dir=tmp_path / "rasters"))
    ) as own:
        png = own.get(f"/rasters/t-cmap/tiles/WebMercatorQuad/{z}/{tx}/{ty}.png").content
    with MemoryFile(png) as f, f.open() as image:
        rgba = image.read()
    assert (rgba[:3].reshape(3, -1).T == COLOURS[int(classes[row, col])][:3]).all()
    assert cli("raster", "remove", "t-cmap")[0] == 0


@pytest.mark.parametrize(
    "params, field",
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "300000,4700000,290000,4710000"}, "bbox"),
        ({"bbox": "300000,4700000,310000,4710000", "crs": "EPSG:4326"}, "crs"),
        ({"bbox": "300000,4700000,310000,4710000", "resolution": 0}, "resolution"),
        ({"bbox": "0,0,1000000,1000000", "resolution": 1}, "resolution"),
        ({}, "bbox"),
        ({"area": "atlantis"}, "area"),
    ],
)
def test_bad_constraint_requests_name_the_field(client, params, field):
    answer = client.get("/constraints.tif", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["invalid_params"][0]["name"] == field
