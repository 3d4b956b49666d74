"""A file is read batch by batch while its first chunks are copied, where nothing decided before
the first chunk needs every row: every row still lands where pyproj puts it, a stale row count
changes nothing, a file unreadable late leaves nothing written; any other file is read whole."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import pandas as pd
import pytest
from import_files import deposit_points, geopackage
from pyproj import Transformer
from sqlalchemy import text

from geo.core.errors import InvalidParameter
from geo.io.importing import streaming
from geo.io.importing.batches import BatchedRows, open_rows
from geo.io.importing.mapping import load_mapping
from geo.io.importing.pipeline import ImportOptions, import_file
from geo.io.importing.reading import SourceTable

pytestmark = pytest.mark.usefixtures("remove_test_records")  # sources 't-…' go at the end

ROWS = 3_000  # nine chunks: a small first one, growing to chunks.MIN_ROWS


def deposits(epsg: int, n: int = ROWS) -> gpd.GeoDataFrame:
    """n valid deposit points over León in the given CRS."""
    return deposit_points(n, "b", "Batched", epsg, seed=11)


@pytest.fixture
def events(monkeypatch) -> list[str]:
    """'read' for each batch read from the file, 'copy' for each chunk sent to the COPY, in order."""
    seen: list[str] = []
    read_batch, send = BatchedRows._read_batch, streaming.copy_rows

    def reading(self):
        seen.append("read")
        return read_batch(self)

    def copying(copy, encoded, progress):
        seen.append("copy")
        return send(copy, encoded, progress)

    monkeypatch.setattr(BatchedRows, "_read_batch", reading)
    monkeypatch.setattr(streaming, "copy_rows", copying)
    return seen


def stored_positions(engine, source: str) -> dict[str, tuple[float, float]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT source_id, ST_X(geom), ST_Y(geom) FROM deposits WHERE source = :s"),
            {"s": source},
        ).all()
    return {i: (x, y) for i, x, y in rows}


def test_a_projected_geopackage_is_copied_while_its_later_rows_are_still_being_read(
    engine, tmp_path, events
):
    frame = deposits(25830)
    path = geopackage(tmp_path / "utm.gpkg", frame)
    report = import_file(engine, ImportOptions(path, "deposits", source="t-batched"))
    assert report.outcome == "written" and report.inserted == report.rows_read == ROWS
    assert report.crs["crs"] == "EPSG:25830" and report.crs["from"] == "file"
    # The first chunk went to the database before the file's last rows were read.
    assert events.index("copy") < len(events) - 1 - events[::-1].index("read")
    lon, lat = Transformer.from_crs(25830, 4258, always_xy=True).transform(
        frame.geometry.x, frame.geometry.y
    )
    got = stored_positions(engine, "t-batched")
    assert len(got) == ROWS
    for source_id, x, y in zip(frame.source_id, lon, lat, strict=True):
        assert got[source_id] == pytest.approx((x, y), abs=1e-9)


@pytest.mark.parametrize("stated", [100, 10 * ROWS])
def test_a_stale_row_count_plans_the_chunks_and_the_rows_decide(engine, tmp_path, stated):
    frame = deposits(4326)
    path = geopackage(tmp_path / "stale.gpkg", frame)
    with sqlite3.connect(path) as db:  # what a tool that does not keep the count leaves
        db.execute("UPDATE gpkg_ogr_contents SET feature_count = ?", (stated,))
    with open_rows(path, load_mapping(None), "deposits", None) as table:
        assert isinstance(table, BatchedRows) and len(table) == stated
    source = f"t-stale-{stated}"
    report = import_file(engine, ImportOptions(path, "deposits", source=source))
    assert report.outcome == "written" and report.inserted == report.rows_read == ROWS
    got = stored_positions(engine, source)
    assert len(got) == ROWS
    for source_id, point in zip(frame.source_id, frame.geometry, strict=True):
        assert got[source_id] == pytest.approx((point.x, point.y), abs=1e-9)


def test_text_that_is_not_utf8_late_in_the_file_refuses_it_after_copies_began(
    engine, tmp_path, events
):
    path = tmp_path / "late.gpkg"  # no spatial index: its triggers need SpatiaLite to update
    deposits(25830).to_file(path, layer="deposits", layer_options={"SPATIAL_INDEX": "NO"})
    with sqlite3.connect(path) as db:  # a byte that begins no UTF-8 character, near the end
        db.execute("UPDATE deposits SET name = CAST(X'4fff' AS TEXT) WHERE fid = ?", (ROWS - 5,))
    with pytest.raises(InvalidParameter) as refused:
        import_file(engine, ImportOptions(path, "deposits", source="t-late-utf8"))
    assert "UTF-8" in refused.value.detail
    assert "copy" in events  # some chunks had been sent: they were rolled back
    assert not stored_positions(engine, "t-late-utf8")


def _csv(path, frame: gpd.GeoDataFrame):
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table["x"], table["y"] = frame.geometry.x, frame.geometry.y
    table.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("name", "crs_option", "mapping_crs", "batched"),
    [
        ("etrs89_utm.gpkg", None, None, True),  # ETRS89: the same way anywhere
        ("lonlat.gpkg", None, None, True),  # lon/lat: nothing to transform
        ("ed50_utm.gpkg", None, None, False),  # a datum shift chosen for the data's area
        ("wgs84_utm.gpkg", None, None, False),  # WGS 84: ballpark far from Europe
        ("etrs89_utm.gpkg", "EPSG:23030", None, False),  # --crs wins over the file's
        ("points.geojson", None, None, False),  # not read through GDAL's Arrow stream
        ("mapped.csv", None, "EPSG:25830", True),  # a CSV whose mapping names its CRS
        ("mapped.csv", None, None, False),  # no CRS: lon/lat only if every row is
    ],
)
def test_only_a_file_whose_first_chunk_needs_none_of_the_rest_is_read_in_batches(
    tmp_path, name, crs_option, mapping_crs, batched
):
    epsg = {"etrs89": 25830, "lonlat": 4326, "ed50": 23030, "wgs84": 32630}.get(
        name.split("_")[0], 4326
    )
    frame = deposits(epsg, 20)
    path = tmp_path / name
    if path.suffix == ".csv":
        _csv(path, frame)
    else:
        frame.to_file(path, engine="pyogrio")
    spec = tmp_path / "mapping.toml"
    spec.write_text(
        'layer = "deposits"\n'
        + (f'crs = "{mapping_crs}"\n' if mapping_crs else "")
        + '[geometry]\nx = "x"\ny = "y"\n'
    )
    mapping = load_mapping(str(spec) if path.suffix == ".csv" else None)
    with open_rows(path, mapping, "deposits", crs_option) as table:
        assert isinstance(table, BatchedRows if batched else SourceTable)
        assert len(table) == 20


def test_a_csv_with_a_line_break_in_a_cell_is_planned_by_its_lines_and_read_by_its_rows(
    engine, tmp_path
):
    frame = deposits(25830, 30)
    frame.loc[7, "name"] = "Two\nlines"
    path = _csv(tmp_path / "breaks.csv", frame)
    spec = tmp_path / "mapping.toml"
    spec.write_text('layer = "deposits"\ncrs = "EPSG:25830"\n[geometry]\nx = "x"\ny = "y"\n')
    with open_rows(path, load_mapping(str(spec)), "deposits", None) as table:
        assert isinstance(table, BatchedRows) and len(table) == 31  # a line more than rows
    report = import_file(engine, ImportOptions(path, mapping=str(spec), source="t-breaks"))
    assert report.outcome == "written" and report.inserted == report.rows_read == 30
    with engine.connect() as conn:
        name = conn.execute(
            text("SELECT name FROM deposits WHERE source = 't-breaks' AND source_id = 'b7'")
        ).scalar_one()
    assert name == "Two\nlines"
