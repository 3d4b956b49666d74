"""An import is validated chunk by chunk while the chunks before are being copied; it stays all
or nothing: a bad row or a database refusal in a later chunk leaves nothing written, problems
are numbered in the file, duplicate ids are found across chunks, --skip-invalid writes the rest."""

from __future__ import annotations

import geopandas as gpd
import pytest
from import_files import deposit_points, geopackage
from sqlalchemy import text

from geo.io.importing import chunks, streaming
from geo.io.importing.pipeline import ImportOptions, import_file

pytestmark = pytest.mark.usefixtures("remove_test_records")  # sources 't-…' go at the end

ROWS = 3_000  # nine chunks: a small first one, each at most twice the one before, up to
# chunks.MIN_ROWS (62, 124, 248, 496, 500, 500, 500, 500, 70)


def deposits(n: int = ROWS) -> gpd.GeoDataFrame:
    """n valid deposit points over León, in lon/lat, one per row at a known position."""
    return deposit_points(n, "k", "Chunked")


@pytest.fixture
def copies(monkeypatch) -> list[int]:
    """The rows of each chunk copied to the database, in the order the copies ran."""
    seen: list[int] = []
    send = streaming.copy_rows

    def counted(copy, encoded, progress):
        seen.append(encoded.rows)
        return send(copy, encoded, progress)

    monkeypatch.setattr(streaming, "copy_rows", counted)
    return seen


def statements_on_deposits(engine) -> int:
    """How many writing statements deposits has seen (its statement trigger's counter)."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT coalesce(max(version), 0) FROM table_changes WHERE table_name = 'deposits'"
            )
        ).scalar_one()


def stored(engine, source: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM deposits WHERE source = :s"), {"s": source}
        ).scalar_one()


def test_a_file_of_several_chunks_is_written_chunk_by_chunk_and_every_row_lands(
    engine, tmp_path, copies
):
    frame = deposits()
    before = statements_on_deposits(engine)
    report = import_file(
        engine, ImportOptions(geopackage(tmp_path / "d.gpkg", frame), "deposits", source="t-chunks")
    )
    assert report.outcome == "written" and report.inserted == ROWS and not report.problems
    # Every chunk into one COPY: the table's statement triggers (audit, cells) ran once.
    assert statements_on_deposits(engine) == before + 1
    # A small first chunk (the database starts early), each after it at most twice the one
    # before (validated while that one is copied), up to MIN_ROWS.
    assert sum(copies) == ROWS and len(copies) == 9 and copies[0] < chunks.MIN_ROWS // 4
    assert all(b <= 2 * a for a, b in zip(copies, copies[1:])) and max(copies) == chunks.MIN_ROWS
    with engine.connect() as conn:
        got = dict(
            conn.execute(
                text(
                    "SELECT source_id, ARRAY[ST_X(geom), ST_Y(geom)] FROM deposits "
                    "WHERE source = 't-chunks'"
                )
            ).all()
        )
    assert len(got) == ROWS
    for source_id, point in zip(frame.source_id, frame.geometry, strict=True):
        assert got[source_id] == pytest.approx([point.x, point.y], abs=1e-9)


def test_a_bad_row_in_the_last_chunk_refuses_the_chunks_already_copied(engine, tmp_path, copies):
    frame = deposits()
    frame.loc[ROWS - 10, "commodities"] = "unobtainium"
    report = import_file(
        engine,
        ImportOptions(geopackage(tmp_path / "d.gpkg", frame), "deposits", source="t-late-bad"),
    )
    # The first chunks went to the database before the last one was validated ...
    assert len(copies) >= 3 and sum(copies) < ROWS
    # ... and none of them stayed.
    assert report.outcome == "refused" and report.inserted == 0
    assert [(p.row, p.source_id, p.field) for p in report.problems] == [
        (ROWS - 9, f"k{ROWS - 10}", "commodities")
    ]
    assert stored(engine, "t-late-bad") == 0
    with engine.connect() as conn:
        outcome = conn.execute(
            text("SELECT outcome, rejected FROM import_runs WHERE source = 't-late-bad'")
        ).one()
    assert tuple(outcome) == ("refused", 1)


def test_a_database_refusal_in_a_later_chunk_leaves_nothing_geopackage(engine, tmp_path, copies):
    frame = deposits()
    frame.loc[ROWS - 1, "name"] = "Refused by the database"
    path = geopackage(tmp_path / "d.gpkg", frame)
    with engine.begin() as conn:  # a rule Veta does not know: only the database can refuse
        conn.execute(
            text(
                "ALTER TABLE deposits ADD CONSTRAINT t_no_refused_name "
                "CHECK (name IS DISTINCT FROM 'Refused by the database') NOT VALID"
            )
        )
    try:
        report = import_file(engine, ImportOptions(path, "deposits", source="t-db-refusal"))
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE deposits DROP CONSTRAINT t_no_refused_name"))
    assert sum(copies) == ROWS  # every chunk was sent; the last one was refused
    assert report.outcome == "refused" and report.inserted == 0
    assert [p.field for p in report.problems] == ["database"]
    assert "t_no_refused_name" in report.problems[0].reason
    assert stored(engine, "t-db-refusal") == 0


def test_a_duplicate_id_is_found_across_chunks_and_names_the_first_row(engine, tmp_path):
    frame = deposits()
    frame.loc[ROWS - 200, "source_id"] = "k10"
    report = import_file(
        engine,
        ImportOptions(geopackage(tmp_path / "d.gpkg", frame), "deposits", source="t-dup-chunks"),
    )
    assert report.outcome == "refused"
    assert [(p.row, p.reason) for p in report.problems] == [
        (ROWS - 199, "duplicate id: row 11 has the same source_id")
    ]
    assert stored(engine, "t-dup-chunks") == 0


def test_skip_invalid_writes_every_good_row_of_every_chunk(engine, tmp_path):
    frame = deposits()
    bad = [5, 1_234, ROWS - 1]
    frame.loc[bad, "occurrence_type"] = "rumour"
    report = import_file(
        engine,
        ImportOptions(
            geopackage(tmp_path / "d.gpkg", frame),
            "deposits",
            source="t-skip-chunks",
            skip_invalid=True,
        ),
    )
    assert report.outcome == "written" and report.inserted == ROWS - len(bad)
    assert [p.row for p in report.problems] == [i + 1 for i in bad]
    with engine.connect() as conn:
        ids = set(
            conn.execute(
                text("SELECT source_id FROM deposits WHERE source = 't-skip-chunks'")
            ).scalars()
        )
    assert ids == set(frame.source_id) - {f"k{i}" for i in bad}


def test_the_same_file_again_compares_every_chunk_and_writes_nothing(engine, tmp_path):
    path = geopackage(tmp_path / "d.gpkg", deposits())
    first = import_file(engine, ImportOptions(path, "deposits", source="t-again-chunks"))
    again = import_file(engine, ImportOptions(path, "deposits", source="t-again-chunks"))
    assert (first.inserted, again.inserted, again.updated, again.unchanged) == (ROWS, 0, 0, ROWS)
    assert stored(engine, "t-again-chunks") == ROWS


def utm_csv(path, frame: gpd.GeoDataFrame) -> tuple:
    """The deposits as a CSV of ETRS89 / UTM 30N x/y columns, and a mapping that names that CRS
    (the CSV cannot): the transformation is chosen once, before the first chunk, for them all."""
    utm = frame.to_crs(25830)
    # To the millimetre, as written: the values read back are these same doubles.
    table = frame.drop(columns="geometry").assign(
        x=utm.geometry.x.round(3), y=utm.geometry.y.round(3)
    )
    table.to_csv(path, index=False)
    mapping = path.with_suffix(".toml")
    mapping.write_text('layer = "deposits"\ncrs = "EPSG:25830"\n[geometry]\nx = "x"\ny = "y"\n')
    return path, mapping, table


def test_a_projected_csv_of_several_chunks_lands_where_pyproj_puts_every_row(
    engine, tmp_path, copies
):
    from pyproj import Transformer

    path, mapping, table = utm_csv(tmp_path / "utm.csv", deposits())
    report = import_file(engine, ImportOptions(path, mapping=str(mapping), source="t-utm-chunks"))
    assert report.outcome == "written" and report.inserted == ROWS and len(copies) == 9
    assert report.crs["crs"] == "EPSG:25830" and report.crs["from"] == "mapping"
    lon, lat = Transformer.from_crs(25830, 4258, always_xy=True).transform(table.x, table.y)
    expected = dict(zip(table.source_id, zip(lon, lat, strict=True), strict=True))
    with engine.connect() as conn:
        got = conn.execute(
            text("SELECT source_id, ST_X(geom), ST_Y(geom) FROM deposits WHERE source = :s"),
            {"s": "t-utm-chunks"},
        ).all()
    assert len(got) == ROWS
    assert max(abs(x - expected[i][0]) + abs(y - expected[i][1]) for i, x, y in got) < 1e-9


def test_a_bad_cell_in_a_late_chunk_of_a_csv_is_numbered_in_the_file_and_nothing_stays(
    engine, tmp_path, copies
):
    path, mapping, table = utm_csv(tmp_path / "utm.csv", deposits())
    lines = path.read_text().splitlines()
    row = ROWS - 50  # in the last chunk, after six chunks were copied
    cells = lines[row].split(",")
    cells[-2] = "east"
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    report = import_file(engine, ImportOptions(path, mapping=str(mapping), source="t-utm-bad"))
    assert len(copies) >= 3 and report.outcome == "refused" and report.inserted == 0
    # Numbered in the file, not in its chunk (the row also has no geometry, said too).
    assert {(p.row, p.source_id) for p in report.problems} == {(row, table.source_id.iloc[row - 1])}
    assert "x/y" in {p.field for p in report.problems}
    assert stored(engine, "t-utm-bad") == 0
