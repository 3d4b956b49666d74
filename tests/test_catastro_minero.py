"""Reading MITECO Catastro Minero CSV exports (tests/data/catastro_minero_sample.csv, synthetic)."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely
from sqlalchemy import text

from geo.core.errors import InvalidParameter
from geo.core.settings import Settings
from geo.io.catastro_minero import parse_vertex, read_catastro_minero, read_rights
from geo.rules.permit_rules import validate_right
from geo.rules.registry import record_rights

SAMPLE = Path(__file__).parent / "data" / "catastro_minero_sample.csv"


def dms(d: int, m: int, s: float) -> float:
    return d + m / 60 + s / 3600


@pytest.fixture(scope="module")
def records():
    return {r.registry_number: r for r in read_catastro_minero(SAMPLE)}


def test_every_right_of_the_export_is_read_with_its_fields_mapped(records):
    assert list(records) == ["SYN-15001", "SYN-15002-F1", "SYN-15003", "SYN-15004"]
    peña = records["SYN-15001"]
    assert (peña.name, peña.holder, peña.status, peña.right_type, peña.section) == (
        "SINTETICA PEÑA",
        "Minera Sintética del Sil S.L.",
        "granted",
        "investigation",
        "C",
    )
    assert peña.commodities == ["tungsten", "tin"]
    assert peña.authority == "Junta de Castilla y León - S.T. León"
    assert "declared area 338,02 ha" in peña.remarks
    assert [(r.status, r.right_type) for r in records.values()] == [
        ("granted", "investigation"),
        ("applied", "exploitation_derived"),
        ("lapsed", "exploration"),
        ("admitted", "investigation"),
    ]


def test_dms_vertices_become_the_grid_corners_they_name(records):
    peña = records["SYN-15001"].geometry
    expected = shapely.box(-dms(6, 50, 0), dms(42, 35, 0), -dms(6, 48, 40), dms(42, 36, 0))
    assert peña.symmetric_difference(expected).area < 1e-15
    result = validate_right(peña, "investigation", Settings().right_cell_limits)
    assert result.valid and len(result.proposal) == 12


def test_each_vertex_notation_is_read(records):
    assert parse_vertex("6º18'00\"W 42º56'00\"N") == pytest.approx(
        (-6.3, dms(42, 56, 0)), abs=1e-12
    )
    assert parse_vertex("-6:18:00 42:56:00") == pytest.approx((-6.3, dms(42, 56, 0)), abs=1e-12)
    assert parse_vertex("6°18′20,5″O 42°56′00″N") == pytest.approx(
        (-dms(6, 18, 20.5), dms(42, 56, 0)), abs=1e-12
    )
    # Whole 20″ values come out as the very floats of the grid lines.
    assert parse_vertex("6º17'40\"W 42º56'20\"N") == (-1133 / 180, 7729 / 180)
    for bad in (
        "6º18'00\"W",
        "6º18'00\"N 42º56'00\"N",
        "6º61'00\"W 42º56'00\"N",
        "-6º18'00\"W 42º56'00\"N",
    ):
        with pytest.raises(ValueError):
            parse_vertex(bad)


def test_an_l_shape_in_colon_notation_and_a_two_part_right(records):
    assert shapely.get_num_coordinates(records["SYN-15002-F1"].geometry) == 7
    assert records["SYN-15002-F1"].geometry.area * 180 * 180 == pytest.approx(3)
    two = records["SYN-15004"].geometry
    assert len(two.geoms) == 2 and two.area * 180 * 180 == pytest.approx(2)


def test_substances_outside_the_commodity_list_are_kept_in_remarks(records):
    slate = records["SYN-15003"]
    assert slate.commodities == ["slate"]
    assert "substances not in the INSPIRE commodity list: RECURSOS SECCION C" in slate.remarks


def test_an_unreadable_line_is_an_error_naming_it(tmp_path):
    # Also written in Windows-1252, as the Ministry's spreadsheets are.
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:4]
    assert lines[3].startswith("SINTETICA PEÑA")
    lines[3] = lines[3].replace("OTORGADO", "EN EL LIMBO")
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(lines), encoding="cp1252")
    with pytest.raises(InvalidParameter, match=r"line 4: unknown situacion 'EN EL LIMBO'"):
        read_catastro_minero(broken)
    (tmp_path / "ok.csv").write_text(
        "\n".join(lines).replace("EN EL LIMBO", "OTORGADO"), encoding="cp1252"
    )
    assert read_catastro_minero(tmp_path / "ok.csv")[0].name == "SINTETICA PEÑA"


def test_the_import_preset_gets_a_geodataframe_of_permit_fields():
    frame = read_rights(SAMPLE)
    assert frame.crs.to_epsg() == 4258
    assert {"registry_number", "name", "holder", "status", "right_type", "commodities"} <= set(
        frame.columns
    )
    assert len(frame) == 4


def test_importing_writes_the_rights_once_and_records_who(engine):
    rights = read_catastro_minero(SAMPLE)
    try:
        with engine.begin() as conn:
            assert record_rights(conn, rights, "pytest-import") == {
                "inserted": 4,
                "updated": 0,
                "unchanged": 0,
            }
        with engine.begin() as conn:
            assert record_rights(conn, rights, "pytest-import") == {
                "inserted": 0,
                "updated": 0,
                "unchanged": 4,
            }
        with engine.connect() as conn:
            stored = conn.execute(
                text(
                    "SELECT p.status, p.source, ST_Equals(p.geom, ST_GeomFromText(:wkt, 4326)), h.changed_by "
                    "FROM permits p JOIN permit_history h ON h.permit_id = p.id "
                    "WHERE p.registry_number = 'SYN-15001'"
                ),
                {"wkt": rights[0].geometry.wkt},
            ).all()
        assert stored == [("granted", "catastro-minero", True, "pytest-import")]
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM permits WHERE source = 'catastro-minero' AND registry_number LIKE 'SYN-%'"
                )
            )
            conn.execute(text("DELETE FROM permit_history WHERE registry_number LIKE 'SYN-15%'"))
