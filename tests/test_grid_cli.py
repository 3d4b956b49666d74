"""The command line for the cuadrícula and the registry: `veta grid snap`, `veta import-catastro`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import mapping, shape
from sqlalchemy import text
from typer.testing import CliRunner

from cli import app
from geo.core.settings import get_settings

CATASTRO = Path(__file__).parent / "data" / "catastro_minero_sample.csv"


@pytest.fixture()
def veta(db_url, monkeypatch):
    """Run `veta …` in-process against the test database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, [str(a) for a in args])
    get_settings.cache_clear()


def twelve_cells() -> shapely.Polygon:
    return shapely.box(-1134 / 180, 7728 / 180, -1130 / 180, 7731 / 180)


def test_snap_reads_a_utm_file_and_writes_the_cell_aligned_right(veta, tmp_path):
    # As Castilla y León publishes rights: EPSG:25830, coordinates rounded to whole metres.
    to_utm = Transformer.from_crs(4326, 25830, always_xy=True)
    corners = [
        tuple(round(c) for c in to_utm.transform(x, y)) for x, y in twelve_cells().exterior.coords
    ]
    source = tmp_path / "right.geojson"
    source.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25830"}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "rounded", "right_type": "investigation"},
                        "geometry": {"type": "Polygon", "coordinates": [corners]},
                    }
                ],
            }
        )
    )
    result = veta("grid", "snap", source)
    assert result.exit_code == 1  # metres are not 20″ lines: reported, and snapped
    assert "vertices_off_grid" in result.output
    written = json.loads((tmp_path / "right.snapped.geojson").read_text())
    feature = written["features"][0]
    assert feature["properties"]["cell_count"] == 12 and feature["properties"]["name"] == "rounded"
    assert shape(feature["geometry"]).symmetric_difference(twelve_cells()).area < 1e-15


def test_snap_of_a_well_formed_right_exits_zero(veta, tmp_path):
    source = tmp_path / "good.geojson"
    source.write_text(
        json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(twelve_cells())})
    )
    result = veta(
        "grid", "snap", source, "--right-type", "investigation", "-o", tmp_path / "out.geojson"
    )
    assert result.exit_code == 0, result.output
    assert "1 rights, 0 with problems" in result.output


def test_import_catastro_loads_the_export_and_is_idempotent(veta, engine):
    try:
        first, again = veta("import-catastro", CATASTRO), veta("import-catastro", CATASTRO)
        assert first.exit_code == 0, first.output
        assert "4 rights; inserted 4, updated 0, unchanged 0" in first.output
        assert "inserted 0, updated 0, unchanged 4" in again.output
        with engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT count(*) FROM permits WHERE source = 'catastro-minero'")
                ).scalar()
                == 4
            )
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM permits WHERE source = 'catastro-minero' AND registry_number LIKE 'SYN-%'"
                )
            )
            conn.execute(text("DELETE FROM permit_history WHERE registry_number LIKE 'SYN-15%'"))


def test_snap_needs_a_right_type_from_the_file_or_the_option(veta, tmp_path):
    source = tmp_path / "untyped.geojson"
    source.write_text(
        json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(twelve_cells())})
    )
    result = veta("grid", "snap", source)
    assert result.exit_code == 2
    assert "no right_type property and no --right-type option" in result.output
