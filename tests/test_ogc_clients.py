"""The clients our users have: GDAL's OAPIF driver (what QGIS builds on), GDAL's GeoJSON reader on
an items URL, and OWSLib, reading a real server; counts checked against the database and shapely."""

from __future__ import annotations

import re
import subprocess
from urllib.parse import urlencode

import geopandas
import pyogrio
import pytest
from owslib.ogcapi.features import Features
from shapely.geometry import box
from sqlalchemy import text

pytestmark = pytest.mark.e2e

COLLECTIONS = {
    "deposits": "deposits",
    "deposit_screening": "deposits",
    "permits": "permits",
    "protection_zones": "protection_zones",
    "admin_areas": "admin_areas",
}
AREA = (-6.9, 42.3, -5.8, 42.9)
CQL2 = "main_commodity IN ('tungsten','gold') AND depth_top_m IS NULL"


@pytest.fixture(scope="module")
def deposits(engine) -> geopandas.GeoDataFrame:
    return geopandas.read_postgis(
        "SELECT id, commodities[1] AS main_commodity, depth_top_m, geom FROM deposits",
        engine,
        geom_col="geom",
    )


def database_count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=120).stdout


def feature_count(ogrinfo_output: str) -> int:
    return int(re.search(r"Feature Count: (\d+)", ogrinfo_output).group(1))


def cql2_expected(deposits: geopandas.GeoDataFrame) -> set[int]:
    chosen = deposits["main_commodity"].isin(["tungsten", "gold"]) & deposits["depth_top_m"].isna()
    return set(deposits[chosen]["id"])


@pytest.mark.parametrize("collection_id", COLLECTIONS)
def test_ogrinfo_counts_every_collection_as_the_database_does(live_server, engine, collection_id):
    output = run(
        "ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=1000", f"OAPIF:{live_server}", collection_id
    )
    assert feature_count(output) == database_count(engine, COLLECTIONS[collection_id])


def test_gdal_types_columns_from_the_collection_schema(live_server):
    output = run("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}", "permits")
    assert re.search(r"^area_ha: Real", output, re.MULTILINE)
    assert re.search(r"^granted_on: Date", output, re.MULTILINE)
    assert re.search(r"^registry_number: String", output, re.MULTILINE)


def test_ogr2ogr_copies_every_layer_whole_following_next_links(live_server, engine, tmp_path):
    # GDAL's default page of 10 features: every layer takes many pages, so paging is exercised.
    out = tmp_path / "veta.gpkg"
    run(
        "ogr2ogr",
        "-f",
        "GPKG",
        str(out),
        f"OAPIF:{live_server}",
        *COLLECTIONS,
        "-nlt",
        "GEOMETRY",
        "-preserve_fid",
    )
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert set(COLLECTIONS) <= layers
    for layer, table in COLLECTIONS.items():
        frame = pyogrio.read_dataframe(out, layer=layer, fid_as_index=True)
        assert len(frame) == database_count(engine, table), layer
    with engine.connect() as conn:
        ids = set(conn.execute(text("SELECT id FROM permits")).scalars())
    assert set(pyogrio.read_dataframe(out, layer="permits", fid_as_index=True).index) == ids


def test_ogr2ogr_with_a_bbox_gets_what_shapely_says_intersects_it(live_server, deposits, tmp_path):
    out = tmp_path / "bbox.gpkg"
    run(
        "ogr2ogr",
        "-f",
        "GPKG",
        str(out),
        "-oo",
        "PAGE_SIZE=1000",
        f"OAPIF:{live_server}",
        "deposits",
        "-nlt",
        "GEOMETRY",
        "-preserve_fid",
        "-spat",
        *map(str, AREA),
    )
    frame = pyogrio.read_dataframe(out, fid_as_index=True)
    assert set(frame.index) == set(deposits[deposits.intersects(box(*AREA))]["id"])


def test_gdal_geojson_reader_reads_a_cql2_filtered_items_url(live_server, deposits):
    url = f"{live_server}/collections/deposits/items?" + urlencode({"filter": CQL2, "limit": 10000})
    output = run("ogrinfo", "-ro", "-so", "-al", url)
    assert feature_count(output) == len(cql2_expected(deposits)) > 0


def test_owslib_sees_the_conformance_classes_and_collections(live_server):
    api = Features(live_server)
    classes = set(api.conformance()["conformsTo"])
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter" in classes
    assert {c["id"] for c in api.collections()["collections"]} >= set(COLLECTIONS)


def test_owslib_full_and_bbox_reads_match_the_database_and_shapely(live_server, engine, deposits):
    api = Features(live_server)
    everything = api.collection_items("deposits", limit=10000)
    assert (
        everything["numberMatched"]
        == len(everything["features"])
        == database_count(engine, "deposits")
    )
    inside = api.collection_items("deposits", limit=10000, bbox=list(AREA))
    expected = set(deposits[deposits.intersects(box(*AREA))]["id"])
    assert {f["id"] for f in inside["features"]} == expected
    assert inside["numberMatched"] == len(expected)


def test_owslib_cql2_filter_matches_an_independent_selection(live_server, deposits):
    page = Features(live_server).collection_items("deposits", limit=10000, filter=CQL2)
    assert {f["id"] for f in page["features"]} == cql2_expected(deposits)


def test_owslib_spatial_cql2_matches_shapely(live_server, deposits):
    west, south, east, north = AREA
    polygon = (
        f"POLYGON(({west} {south},{east} {south},{east} {north},{west} {north},{west} {south}))"
    )
    page = Features(live_server).collection_items(
        "deposits", limit=10000, filter=f"S_INTERSECTS(geometry, {polygon})"
    )
    assert {f["id"] for f in page["features"]} == set(
        deposits[deposits.intersects(box(*AREA))]["id"]
    )
