"""veta import's bulk path: a load larger than the table rebuilds its secondary indexes instead
of updating them row by row, a mixed file inserts, updates and keeps the right rows, and the
deposits' geometry CHECK stays as strict for points without GEOS."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from geo.io.importing.pipeline import ImportOptions, import_file
from geo.io.importing.targets import LAYERS
from geo.io.importing.writing import BULK_MIN_ROWS, _bulk_insert_worthwhile

pytestmark = pytest.mark.usefixtures("remove_test_records")  # sources 't-…' go at the end

BULK_ROWS = BULK_MIN_ROWS + 5_000
TO_LONLAT = Transformer.from_crs(25830, 4258, always_xy=True)


def secondary_indexes(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'deposits' ORDER BY indexname"
            )
        ).all()


@pytest.fixture(scope="module")
def bulk_file(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """BULK_ROWS points over León in EPSG:25830, and their UTM coordinates (written once)."""
    tmp_path = tmp_path_factory.mktemp("bulk")
    rng = np.random.default_rng(11)
    x, y = rng.uniform(180_000, 360_000, BULK_ROWS), rng.uniform(4_660_000, 4_780_000, BULK_ROWS)
    frame = gpd.GeoDataFrame(
        {
            "source_id": [f"b{i}" for i in range(BULK_ROWS)],
            "name": [f"Bulk {i}" for i in range(BULK_ROWS)],
            "commodities": np.where(rng.random(BULK_ROWS) < 0.3, "Li", "W;Sn"),
            "occurrence_type": "occurrence",
            "location_precision": "approximate",
        },
        geometry=gpd.points_from_xy(x, y),
        crs="EPSG:25830",
    )
    path = tmp_path / "bulk.gpkg"
    frame.to_file(path, layer="deposits", engine="pyogrio")
    return path, x, y


def test_a_load_larger_than_the_table_rebuilds_its_indexes_and_every_row_lands(engine, bulk_file):
    path, x, y = bulk_file
    before = secondary_indexes(engine)
    report = import_file(engine, ImportOptions(path, layer="deposits", source="t-bulk"))
    assert report.outcome == "written" and report.inserted == BULK_ROWS, report.problems
    assert any("rebuilt" in note for note in report.notes)
    assert secondary_indexes(engine) == before  # the same indexes, built again

    # The rebuilt GiST index answers a box query with what shapely finds in the file.
    lon, lat = TO_LONLAT.transform(x, y)
    window = (-6.2, 42.3, -5.8, 42.6)
    expected = int(shapely.intersects_xy(shapely.box(*window), lon, lat).sum())
    with engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        found = conn.execute(
            text(
                "SELECT count(*) FROM deposits WHERE source = 't-bulk' AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
            ),
            dict(zip("abcd", window, strict=True)),
        ).scalar_one()
        lithium = conn.execute(
            text(
                "SELECT count(*) FROM deposits WHERE source = 't-bulk' AND commodities && ARRAY['lithium']"
            )
        ).scalar_one()
        stored = dict(
            conn.execute(
                text(
                    "SELECT source_id, ST_AsBinary(geom) FROM deposits WHERE source = 't-bulk' AND source_id = ANY(:ids)"
                ),
                {"ids": [f"b{i}" for i in range(0, BULK_ROWS, 997)]},
            ).all()
        )
    assert found == expected
    assert lithium == int((gpd.read_file(path)["commodities"] == "Li").sum())
    for key, wkb in stored.items():
        i = int(key[1:])
        point = shapely.from_wkb(bytes(wkb))
        assert (point.x, point.y) == pytest.approx((lon[i], lat[i]), abs=1e-9)


def test_a_load_after_the_table_was_emptied_and_vacuumed_inserts_every_row(engine, bulk_file):
    """A VACUUM of an emptied table tells the planner it is empty: an INSERT that checked its
    own target row by row then scanned the table once per row (minutes for this file)."""
    path, _, _ = bulk_file
    assert (
        import_file(engine, ImportOptions(path, layer="deposits", source="t-vacuumed")).inserted
        == BULK_ROWS
    )
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = 't-vacuumed'"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM deposits"))
    again = import_file(engine, ImportOptions(path, layer="deposits", source="t-vacuumed"))
    assert (again.inserted, again.updated, again.unchanged) == (BULK_ROWS, 0, 0)


def test_a_mixed_file_inserts_the_new_updates_the_changed_and_keeps_the_rest(engine, tmp_path):
    def write(rows: list[tuple[str, str, float]]) -> Path:
        path = tmp_path / "mixed.csv"
        path.write_text(
            "ref,name,lon,lat\n" + "".join(f"{r},{n},{lon},42.5\n" for r, n, lon in rows)
        )
        return path

    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'layer = "deposits"\n[geometry]\nx = "lon"\ny = "lat"\n[fields]\nsource_id = "ref"\n'
        'name = "name"\n[constants]\ncommodities = "W"\noccurrence_type = "occurrence"\n'
        'location_precision = "approximate"\n'
    )
    first = [(f"m{i}", f"Deposit {i}", -6.0 + i / 100) for i in range(4)]
    options = ImportOptions(write(first), mapping=str(mapping), crs="EPSG:4326", source="t-mixed")
    assert import_file(engine, options).inserted == 4
    second = [*first[:3], ("m3", "Deposit 3 renamed", -5.97), ("m4", "Deposit 4", -5.96)]
    report = import_file(
        engine,
        ImportOptions(write(second), mapping=str(mapping), crs="EPSG:4326", source="t-mixed"),
    )
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 3)
    with engine.connect() as conn:
        names = dict(
            conn.execute(
                text("SELECT source_id, name FROM deposits WHERE source = 't-mixed'")
            ).all()
        )
    assert names == {r: n for r, n, _ in second}


@pytest.mark.parametrize(
    "point",
    [
        "ST_MakePoint('NaN', 42)",
        "ST_MakePoint(-6, 'Infinity')",
        "ST_MakePoint(200, 42)",
        "ST_MakePoint(-6, -95)",
        "ST_GeomFromText('POINT EMPTY')",
    ],
)
def test_the_deposit_geometry_check_refuses_points_that_are_not_finite_lonlat(engine, point):
    insert = (
        "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
        "location_precision, source, source_id, geom) VALUES ('x', 'occurrence', ARRAY['tungsten'], "
        "ARRAY['main'], 'exact', 't-check', :id, ST_SetSRID({}, 4326))"
    )
    with engine.connect() as conn, conn.begin():
        conn.execute(text(insert.format("ST_MakePoint(-6, 42)")), {"id": "good"})  # accepted
        with pytest.raises(IntegrityError, match="ck_deposits_geom_valid"):
            conn.execute(text(insert.format(point)), {"id": "bad"})
        conn.rollback()


def test_the_deposit_geometry_check_still_refuses_an_invalid_footprint(engine):
    bowtie = "MULTIPOLYGON(((-6 42, -5.9 42.1, -5.9 42, -6 42.1, -6 42)))"
    with (
        engine.connect() as conn,
        conn.begin(),
        pytest.raises(IntegrityError, match="ck_deposits_geom_valid"),
    ):
        conn.execute(
            text(
                "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, location_precision, "
                "source, source_id, geom) VALUES ('x', 'occurrence', ARRAY['tungsten'], ARRAY['main'], 'exact', "
                "'t-check', 'bowtie', ST_GeomFromText(:wkt, 4326))"
            ),
            {"wkt": bowtie},
        )


UTM_MAPPING = (
    'layer = "deposits"\n[geometry]\nx = "easting"\ny = "northing"\n[fields]\nsource_id = "ref"\n'
    'name = "site"\n[constants]\ncommodities = "W"\noccurrence_type = "occurrence"\n'
    'location_precision = "approximate"\n'
)


def test_a_position_the_crs_cannot_transform_is_one_problem_even_with_repair(cli, engine, tmp_path):
    """PROJ answers infinity for an easting of 1e20: no shape to repair, one clear line."""
    mapping = tmp_path / "m.toml"
    mapping.write_text(UTM_MAPPING)
    path = tmp_path / "utm.csv"
    path.write_text("ref,site,easting,northing\nu1,Good,300000,4700000\nu2,Far,1e20,4700000\n")
    report = import_file(
        engine,
        ImportOptions(path, mapping=str(mapping), crs="EPSG:25830", source="t-inf", repair=True),
    )
    assert report.outcome == "refused" and not report.repairs
    assert [(p.row, p.source_id, p.field) for p in report.problems] == [(2, "u2", "geometry")]
    assert "not finite" in report.problems[0].reason
    code, output = cli(
        "import", path, "--mapping", mapping, "--crs", "EPSG:25830", "--source", "t-inf", "--repair"
    )
    assert code == 1 and "not finite" in output
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM deposits WHERE source = 't-inf'")).scalar_one()
            == 0
        )


def test_a_dry_run_exits_1_where_the_import_would_be_refused(cli, tmp_path):
    mapping = tmp_path / "m.toml"
    mapping.write_text(UTM_MAPPING)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("ref,site,easting,northing\nd1,Good,300000,4700000\n")
    bad.write_text(
        "ref,site,easting,northing\nd1,Good,300000,4700000\nd2,Bad,east,4700000\n"
    )  # no number
    common = ("--mapping", mapping, "--crs", "EPSG:25830", "--source", "t-dry-exit", "--dry-run")
    assert cli("import", good, *common)[0] == 0
    code, said = cli("import", bad, *common)
    assert code == 1
    # What a dry run knows: nothing was compared with the stored records, so no write counts.
    assert "dry_run; read 2, valid 1, rejected 1, nothing written in " in " ".join(said.split())
    assert cli("import", bad, *common, "--skip-invalid")[0] == 0  # would write the good row


def test_the_bulk_path_is_taken_for_a_load_at_least_as_large_as_the_table_and_not_below(engine):
    # The table's rows are counted only as far as the load's size; the answer must not change.
    with engine.connect() as conn:
        conn.execute(
            text(
                "INSERT INTO deposits (source, source_id, name, commodities, commodity_importance, "
                "occurrence_type, location_precision, geom) SELECT 't-count', 'c' || i, "
                "'Count ' || i, ARRAY['tungsten'], ARRAY['main'], 'occurrence', 'approximate', "
                "ST_SetSRID(ST_MakePoint(-6 + i * 1e-6, 42.5), 4326) "
                "FROM generate_series(1, :n) AS i"
            ),
            {"n": BULK_MIN_ROWS},
        )
        stored = conn.execute(text("SELECT count(*) FROM deposits")).scalar_one()
        layer = LAYERS["deposits"]
        assert _bulk_insert_worthwhile(conn, layer, stored)
        assert _bulk_insert_worthwhile(conn, layer, stored + 1)
        assert not _bulk_insert_worthwhile(conn, layer, stored - 1)
        conn.rollback()
