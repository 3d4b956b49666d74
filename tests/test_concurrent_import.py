"""Imports of the same layer at once take turns on the layer's lock, with a message, never a deadlock."""

from __future__ import annotations

import csv
import io
import threading

import geopandas as gpd
import pytest
from shapely.geometry import Point
from sqlalchemy import text

from geo.io.importing.pipeline import ImportOptions, import_file

pytestmark = pytest.mark.usefixtures("remove_test_records")  # sources 't-…' go at the end


@pytest.fixture
def deposits_file(tmp_path):
    frame = gpd.GeoDataFrame(
        {
            "source_id": [f"c{i}" for i in range(5)],
            "name": [f"Turn {i}" for i in range(5)],
            "commodities": "W",
            "occurrence_type": "occurrence",
            "location_precision": "approximate",
        },
        geometry=[Point(-6.0 + i * 0.01, 42.5) for i in range(5)],
        crs="EPSG:4326",
    )
    path = tmp_path / "deposits.gpkg"
    frame.to_file(path, layer="deposits")
    return path


def test_an_import_waits_for_the_layers_lock_says_so_then_writes(engine, deposits_file):
    messages, reports = [], []
    told = threading.Event()

    def waiting(message):
        messages.append(message)
        told.set()

    with engine.connect() as holder, holder.begin():
        holder.execute(text("SELECT pg_advisory_xact_lock(hashtext('veta import deposits'))"))
        worker = threading.Thread(
            target=lambda: reports.append(
                import_file(
                    engine,
                    ImportOptions(deposits_file, layer="deposits", source="t-turns"),
                    waiting=waiting,
                )
            )
        )
        worker.start()
        assert told.wait(30), "the import never said it was waiting"
        worker.join(0.5)
        assert worker.is_alive(), "the import wrote while another held the layer"
    worker.join(60)
    assert messages == ["another import is writing layer deposits; waiting for it to finish"]
    assert reports[0].outcome == "written" and reports[0].inserted == 5
    assert any(note.startswith("waited ") for note in reports[0].notes)


def test_two_imports_of_one_file_at_once_both_finish_and_write_each_row_once(engine, deposits_file):
    reports = []
    workers = [
        threading.Thread(
            target=lambda: reports.append(
                import_file(engine, ImportOptions(deposits_file, layer="deposits", source="t-race"))
            )
        )
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert sorted(r.outcome for r in reports) == ["written", "written"]
    assert sorted((r.inserted, r.unchanged) for r in reports) == [(0, 5), (5, 0)]
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM deposits WHERE source = 't-race'")).scalar_one()
            == 5
        )


def test_a_dry_run_never_waits(engine, deposits_file):
    with engine.connect() as holder, holder.begin():
        holder.execute(text("SELECT pg_advisory_xact_lock(hashtext('veta import deposits'))"))
        report = import_file(
            engine,
            ImportOptions(deposits_file, layer="deposits", source="t-dry", dry_run=True),
            waiting=pytest.fail,
        )
    assert report.outcome == "dry_run"


def test_exported_csv_quotes_names_a_spreadsheet_would_run(engine, client):
    # Here because this module's records (source 't-…') are removed after it.
    insert = (
        "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
        "location_precision, source, source_id, geom) VALUES (:name, 'occurrence', ARRAY['tungsten'], "
        "ARRAY['main'], 'exact', 't-formula', :source_id, ST_SetSRID(ST_MakePoint(-6, 42.7), 4326))"
    )
    with engine.begin() as conn:
        for name in ("=cmd|' /C calc'!A0", "-2+3", "Mina Ñ"):
            conn.execute(text(insert), {"name": name, "source_id": name})
    for path, params in (
        ("/downloads/deposits", {"format": "csv", "filter": "source = 't-formula'"}),
        ("/collections/deposits/items", {"f": "csv", "filter": "source = 't-formula'"}),
    ):
        response = client.get(path, params=params)
        assert response.status_code == 200, response.text
        names = sorted(row["name"] for row in csv.DictReader(io.StringIO(response.text)))
        assert names == ["'-2+3", "'=cmd|' /C calc'!A0", "Mina Ñ"], path
