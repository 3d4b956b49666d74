"""veta export and GET /downloads: every field and coordinate survives export → import, in every
format that keeps field names; downloads reproject like pyproj and refuse bad options."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pyogrio
import pytest
import shapely
import shapely.geometry
from pyproj import Transformer
from sqlalchemy import text
from typer.testing import CliRunner

from cli import app
from geo.core.settings import get_settings
from geo.io.export_plans import plan_export
from geo.io.exporting import write_export
from geo.io.importing.pipeline import ImportOptions, import_file

DEPOSIT_FIELDS = (
    "name",
    "occurrence_type",
    "commodities",
    "commodity_importance",
    "deposit_type",
    "size_class",
    "mine_status",
    "depth_top_m",
    "depth_bottom_m",
    "location_precision",
    "source_url",
    "licence",
    "retrieved_at",
    "remarks",
)
PERMIT_FIELDS = (
    "registry_number",
    "name",
    "holder",
    "right_type",
    "section",
    "status",
    "applied_on",
    "granted_on",
    "expires_on",
    "commodities",
    "authority",
    "source_id",
    "licence",
    "retrieved_at",
    "remarks",
)

# Deposits with every field set, points and an outline, coordinates with all their digits.
DEPOSITS_CSV = """source_id;name;occurrence_type;commodities;commodity_importance;deposit_type;size_class;mine_status;depth_top_m;depth_bottom_m;location_precision;source_url;licence;retrieved_at;remarks;wkt
rt-1;Peña del Seo;lode;tungsten;main;quartzVein;smallDeposit;historic;0;120.5;approximate;https://example.org/1;CC0;2024-05-01;"Wolframite veins; mined 1940s–1958";POINT (-6.840123456789 42.560987654321)
rt-2;Las Médulas;mineralDeposit;gold,silver;main,by_product;placer;largeDeposit;abandoned;;;exact;;CC BY 4.0;2023-01-31;Roman gold mine;POINT (-6.770812345678 42.469412345678)
rt-3;Outline;prospect;lithium;main;graniticIgneousRocksAndPegmatites;occurrence;feasibility;250;1000.25;approximate;;;;;MULTIPOLYGON (((-6.1 42.1, -6.0999 42.1, -6.0999 42.1001, -6.1 42.1001, -6.1 42.1)))
"""

PERMITS_CSV = """registry_number;name;holder;right_type;section;status;applied_on;granted_on;expires_on;commodities;authority;source_id;licence;retrieved_at;remarks;wkt
T-RT-001;Permiso Uno;Minera Test SL;investigation;C;granted;2021-03-01;2022-06-15;2025-06-15;tungsten;Junta de Castilla y León;rt-p1;CC0;2024-01-01;test;MULTIPOLYGON (((-6.0 42.5, -5.99444444444444 42.5, -5.99444444444444 42.5055555555556, -6.0 42.5055555555556, -6.0 42.5)))
T-RT-002;Permiso Dos;;exploration;;applied;2024-02-29;;;;;;;;;MULTIPOLYGON (((-5.9 42.6, -5.88888888888889 42.6, -5.88888888888889 42.6055555555556, -5.9 42.6055555555556, -5.9 42.6)))
"""


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


# Every source here starts with 't-'; the records go when the module ends (see conftest.py).
pytestmark = pytest.mark.usefixtures("remove_test_records")


@pytest.fixture(scope="module")
def deposits_source(engine, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("rt") / "deposits.csv"
    path.write_text(DEPOSITS_CSV, encoding="utf-8")
    report = import_file(engine, ImportOptions(path, layer="deposits", source="t-rt-deposits"))
    assert report.inserted == 3, report.problems
    return "t-rt-deposits"


@pytest.fixture(scope="module")
def permits_source(engine, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("rt") / "permits.csv"
    path.write_text(PERMITS_CSV, encoding="utf-8")
    report = import_file(engine, ImportOptions(path, layer="permits", source="t-rt-permits"))
    assert report.inserted == 2, report.problems
    return "t-rt-permits"


def records(engine, table: str, fields: tuple[str, ...], key: str, where: str, **params) -> dict:
    """key -> (fields…, geometry) exactly as stored."""
    found = rows(
        engine,
        f"SELECT {key}, {', '.join(fields)}, ST_AsBinary(geom) FROM {table} WHERE {where}",
        **params,
    )
    return {r[0]: (*r[1:-1], shapely.from_wkb(bytes(r[-1]))) for r in found}


def assert_same(original: dict, copy: dict) -> None:
    assert original.keys() == copy.keys()
    for key, values in original.items():
        *fields, geom = values
        *copied, copied_geom = copy[key]
        assert copied == fields, key
        assert shapely.equals_exact(geom, copied_geom, tolerance=1e-9), key


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "fgb", "parquet", "csv", "shp"])
def test_export_then_import_round_trips_every_deposit_field_and_coordinate(
    engine, db_url, deposits_source, fmt, tmp_path
):
    """Deposits are exported as points, their outlines as a second layer (one file for a
    GeoPackage): importing the points, then the footprints, gives back every deposit."""
    plan = plan_export("deposits", fmt, filter=f"source = '{deposits_source}'")
    path = tmp_path / f"deposits{plan.format.suffix}"
    counts = write_export(db_url, plan, path)
    files = [(path, "deposits")]
    if fmt == "gpkg":
        assert counts == {"deposits": 3, "deposit_footprints": 1}
        files.append((path, "deposit_footprints"))
    else:
        assert counts == {"deposits": 3}
        footprints = tmp_path / f"deposit_footprints{plan.format.suffix}"
        assert write_export(
            db_url,
            plan_export("deposit_footprints", fmt, filter=f"source = '{deposits_source}'"),
            footprints,
        ) == {"deposit_footprints": 1}
        files.append((footprints, None))
    if fmt not in ("csv", "parquet"):  # CSV has no geometry type; this GDAL reads no Parquet
        assert [pyogrio.read_info(f, layer=layer)["geometry_type"] for f, layer in files] == [
            "Point",
            "Polygon" if fmt == "shp" else "MultiPolygon",
        ]  # a Shapefile does not tell multi
    copy_source = f"t-rt-copy-{fmt}"
    for i, (file, layer) in enumerate(files):
        mapping = tmp_path / f"layer{i}.toml"
        mapping.write_text(f'file_layer = "{layer}"\n' if layer else "")
        report = import_file(
            engine, ImportOptions(file, layer="deposits", source=copy_source, mapping=str(mapping))
        )
        assert not report.problems and (report.inserted, report.updated) == (
            (3, 0) if i == 0 else (0, 1)
        )
    # What the file holds beyond Veta's fields is named, not silently dropped.
    assert {"id", "source"} <= set(report.ignored_columns)
    original = records(
        engine, "deposits", DEPOSIT_FIELDS, "source_id", "source = :s", s=deposits_source
    )
    assert original["rt-1"][DEPOSIT_FIELDS.index("retrieved_at")] == date(2024, 5, 1)
    assert_same(
        original,
        records(engine, "deposits", DEPOSIT_FIELDS, "source_id", "source = :s", s=copy_source),
    )


@pytest.mark.parametrize("fmt", ["gpkg", "shp"])
def test_export_then_import_round_trips_permits(engine, db_url, permits_source, fmt, tmp_path):
    """Shapefile field names are cut to 10 characters: Veta's short names read back as fields."""
    plan = plan_export("permits", fmt, filter=f"source = '{permits_source}'")
    path = tmp_path / f"permits{plan.format.suffix}"
    write_export(db_url, plan, path)
    original = records(
        engine, "permits", PERMIT_FIELDS, "registry_number", "source = :s", s=permits_source
    )
    # Permits are matched by registry number: the re-import finds every record unchanged.
    report = import_file(engine, ImportOptions(path, layer="permits", source=permits_source))
    assert (report.unchanged, report.inserted, report.updated) == (2, 0, 0)
    assert_same(
        original,
        records(
            engine, "permits", PERMIT_FIELDS, "registry_number", "source = :s", s=permits_source
        ),
    )


def test_cli_export_writes_the_filtered_layer_in_the_asked_crs(
    engine, db_url, deposits_source, tmp_path, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    out = tmp_path / "deposits.gpkg"
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--layer",
            "deposits",
            "--format",
            "gpkg",
            "--crs",
            "EPSG:25829",
            "--filter",
            f"source = '{deposits_source}' AND commodity = 'tungsten'",
            "-o",
            str(out),
        ],
    )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    frame = pyogrio.read_dataframe(out, layer="deposits")
    assert list(frame["source_id"]) == ["rt-1"]
    assert frame.crs.to_epsg() == 25829
    lon, lat = -6.840123456789, 42.560987654321
    expected = Transformer.from_crs(4326, 25829, always_xy=True).transform(lon, lat)
    assert (frame.geometry[0].x, frame.geometry[0].y) == pytest.approx(expected, abs=1e-3)


def test_download_streams_a_reprojected_filtered_layer(client, deposits_source):
    response = client.get(
        "/downloads/deposits",
        params={
            "format": "geojson",
            "crs": "EPSG:25830",
            "filter": f"source = '{deposits_source}'",
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    assert 'filename="deposits.geojson"' in response.headers["content-disposition"]
    frame = pyogrio.read_dataframe(io.BytesIO(response.content))
    assert sorted(frame["source_id"]) == ["rt-1", "rt-2", "rt-3"]
    to_utm = Transformer.from_crs(4326, 25830, always_xy=True)
    point = frame.set_index("source_id").geometry["rt-2"]
    assert (point.x, point.y) == pytest.approx(
        to_utm.transform(-6.770812345678, 42.469412345678), abs=1e-3
    )


def test_download_of_a_shapefile_is_one_zip_with_its_parts(client, deposits_source, tmp_path):
    response = client.get(
        "/downloads/permits", params={"format": "shp", "filter": "source = 't-none'"}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert {"permits.shp", "permits.shx", "permits.dbf", "permits.prj"} <= set(names)


@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"format": "xlsx"}, "format"),
        ({"crs": "EPSG:999999"}, "crs"),
        ({"filter": "nonsense = "}, "filter"),
        ({"filter": "colour = 'red'"}, "filter"),
    ],
)
def test_download_refuses_bad_options_with_a_problem(client, params, parameter):
    response = client.get("/downloads/deposits", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["invalid_params"][0]["name"] == parameter


def test_the_screened_deposits_export_as_a_geopackage_of_points_and_footprints(
    client, engine, tmp_path
):
    screened = client.get(
        "/collections/deposit_screening/items",
        params={"filter": "protection_status = 'free'", "area": "leon", "limit": 10000},
    ).json()
    response = client.get(
        "/downloads/deposit_screening",
        params={"format": "gpkg", "filter": "protection_status = 'free'", "area": "leon"},
    )
    assert response.status_code == 200, response.text
    out = tmp_path / "screening.gpkg"
    out.write_bytes(response.content)
    layers = dict(pyogrio.list_layers(out))
    assert layers == {"deposit_screening": "Point", "deposit_footprints": "MultiPolygon"}
    points = pyogrio.read_dataframe(out, layer="deposit_screening")
    assert sorted(points["id"]) == sorted(f["id"] for f in screened["features"])
    assert set(points["protection_status"]) == {"free"} and "ground_status" in points.columns
    footprints = pyogrio.read_dataframe(out, layer="deposit_footprints")
    outlined = {f["id"] for f in screened["features"] if f["geometry"]["type"] != "Point"}
    assert set(footprints["id"]) == outlined
    # Each point lies on its deposit: on the outline where there is one.
    for row in points.itertuples():
        original = shapely.geometry.shape(
            next(f["geometry"] for f in screened["features"] if f["id"] == row.id)
        )
        assert original.intersects(row.geometry.buffer(1e-9)), row.id


def test_the_cli_says_how_many_features_each_layer_got(cli, deposits_source, tmp_path):
    code, output = cli(
        "export",
        "--layer",
        "deposits",
        "--format",
        "gpkg",
        "--filter",
        f"source = '{deposits_source}'",
        "-o",
        tmp_path / "d.gpkg",
    )
    assert code == 0, output
    lines = [line.strip() for line in output.splitlines()]
    assert "deposits: 3 features" in lines and "deposit_footprints: 1 feature" in lines


def test_download_of_an_unknown_layer_is_not_found(client):
    response = client.get("/downloads/dragons")
    assert response.status_code == 404
    assert "deposits" in response.json()["detail"]
