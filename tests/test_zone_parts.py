"""A protection zone's parts (protection_zone_parts, what screening tests) whoever writes it: the
insert trigger for a single writer, one statement at the end of a bulk import (the command
line), the trigger again for an import over HTTP, and a check at commit for a writer that
deferred its zones' parts and did not split them."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from import_files import star_zones
from sqlalchemy import text

from geo.access.keys import create_key, create_organisation
from geo.io.importing import zone_parts
from geo.io.importing.pipeline import ImportOptions, import_file

pytestmark = pytest.mark.usefixtures("remove_test_records")  # sources 't-…' go at the end


def detailed_zones(n: int, prefix: str, seed: int) -> gpd.GeoDataFrame:
    """n zones over León in lon/lat, 300–1,500 vertices each: several parts each."""
    return star_zones(n, prefix, (300, 1500), seed, epsg=4326)


@pytest.fixture
def splits(monkeypatch) -> list[str]:
    """The sources of the writes that split their new zones in one statement."""
    seen: list[str] = []
    split = zone_parts.split_new_zones

    def recorded(conn, source):
        seen.append(source)
        split(conn, source)

    monkeypatch.setattr(zone_parts, "split_new_zones", recorded)
    return seen


def write(frame: gpd.GeoDataFrame, path) -> None:
    frame.to_file(path, layer="protection_zones", engine="pyogrio")


def stored_parts(engine, source: str) -> dict[str, list[bytes]]:
    """Each zone of the source: its parts' WKB, sorted."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT z.source_id, ST_AsBinary(p.geom) FROM protection_zones z "
                "JOIN protection_zone_parts p ON p.zone_id = z.id WHERE z.source = :s"
            ),
            {"s": source},
        ).all()
    parts: dict[str, list[bytes]] = {}
    for source_id, wkb in rows:
        parts.setdefault(source_id, []).append(bytes(wkb))
    return {k: sorted(v) for k, v in parts.items()}


def insert_one_by_one(engine, frame: gpd.GeoDataFrame, source: str) -> None:
    """The zones as a single writer inserts them (psql, an editor): the trigger splits each."""
    with engine.begin() as conn:
        for source_id, shape in zip(frame.source_id, frame.geometry, strict=True):
            conn.execute(
                text(
                    "INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, geom, source, source_id) "
                    "VALUES ('z', 'other', 'test', 'exclusion', ST_Multi(ST_GeomFromText(:wkt, 4326)), :s, :i)"
                ),
                {"wkt": shape.wkt, "s": source, "i": source_id},
            )


def assert_parts_cover(parts: dict[str, list[bytes]], frame: gpd.GeoDataFrame) -> None:
    """Independently of PostGIS: each zone's parts are small, do not overlap and make it up."""
    for source_id, shape in zip(frame.source_id, frame.geometry, strict=True):
        pieces = [shapely.from_wkb(p) for p in parts[source_id]]
        assert len(pieces) >= 2 and max(shapely.get_num_coordinates(p) for p in pieces) <= 257
        assert sum(p.area for p in pieces) == pytest.approx(shape.area, rel=1e-9)
        assert shapely.union_all(pieces).symmetric_difference(shape).area < 1e-9 * shape.area


def test_a_bulk_import_splits_its_zones_as_the_trigger_splits_each(engine, tmp_path, splits):
    frame = detailed_zones(40, "zp", seed=5)
    write(frame, tmp_path / "zones.gpkg")
    report = import_file(
        engine, ImportOptions(tmp_path / "zones.gpkg", "protection_zones", source="t-zp-bulk")
    )
    assert report.outcome == "written" and report.inserted == 40
    assert splits == ["t-zp-bulk"]  # in one statement at the end, not by the trigger
    insert_one_by_one(engine, frame, "t-zp-trigger")
    imported = stored_parts(engine, "t-zp-bulk")
    assert imported == stored_parts(engine, "t-zp-trigger")
    assert_parts_cover(imported, frame)


def test_a_second_import_splits_its_new_zones_and_re_splits_the_changed_ones(
    engine, tmp_path, splits
):
    first = detailed_zones(20, "zq", seed=6)
    write(first, tmp_path / "first.gpkg")
    import_file(
        engine, ImportOptions(tmp_path / "first.gpkg", "protection_zones", source="t-zp-again")
    )
    # The same zones, the first one moved, and ten new ones.
    second = gpd.GeoDataFrame(
        pd.concat([first, detailed_zones(10, "zn", seed=7)], ignore_index=True), crs="EPSG:4326"
    )
    second.loc[0, "geometry"] = shapely.affinity.translate(second.geometry[0], 0.2, 0.1)
    write(second, tmp_path / "second.gpkg")
    report = import_file(
        engine, ImportOptions(tmp_path / "second.gpkg", "protection_zones", source="t-zp-again")
    )
    assert (report.inserted, report.updated, report.unchanged) == (10, 1, 19)
    assert splits == ["t-zp-again", "t-zp-again"]
    parts = stored_parts(engine, "t-zp-again")
    assert sorted(parts) == sorted(second.source_id)  # every zone has parts, none twice
    assert_parts_cover(parts, second)


def test_a_writer_that_defers_the_parts_and_does_not_split_gets_them_at_commit(engine):
    frame = detailed_zones(3, "zd", seed=8)
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('veta.zone_parts', 'deferred', true)"))
        ids = [
            conn.execute(
                text(
                    "INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, geom, source, source_id) "
                    "VALUES ('z', 'other', 'test', 'exclusion', ST_Multi(ST_GeomFromText(:wkt, 4326)), 't-zp-deferred', :i) "
                    "RETURNING id"
                ),
                {"wkt": shape.wkt, "i": source_id},
            ).scalar_one()
            for source_id, shape in zip(frame.source_id, frame.geometry, strict=True)
        ]
        waiting = conn.execute(
            text("SELECT count(*) FROM protection_zone_parts WHERE zone_id = ANY(:ids)"),
            {"ids": ids},
        ).scalar_one()
        # The second zone goes again before the commit: nothing is split for it. The third is
        # redrawn (as the second): the update trigger splits it, the commit leaves it be.
        conn.execute(text("DELETE FROM protection_zones WHERE id = :i"), {"i": ids[1]})
        conn.execute(
            text(
                "UPDATE protection_zones SET geom = ST_Multi(ST_GeomFromText(:wkt, 4326)) WHERE id = :i"
            ),
            {"wkt": frame.geometry[1].wkt, "i": ids[2]},
        )
    assert waiting == 0  # deferred: the trigger left them to the writer
    parts = stored_parts(engine, "t-zp-deferred")
    assert sorted(parts) == ["zd00000", "zd00002"]
    expected = frame.iloc[[0, 1]].assign(source_id=["zd00000", "zd00002"])
    assert_parts_cover(parts, expected)  # each once: their areas add up to the zone's
    with engine.connect() as conn:
        orphans = conn.execute(
            text("SELECT count(*) FROM protection_zone_parts WHERE zone_id = :i"), {"i": ids[1]}
        ).scalar_one()
    assert orphans == 0


@pytest.fixture
def registry_key(engine):
    with engine.begin() as conn:
        create_organisation(conn, "t-zp-reg", "Registro de zonas")
        key = create_key(conn, "t-zp-reg", "registry", "rita@registro", None)[0]
    yield key
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM organisations WHERE code = 't-zp-reg'"))


def test_zones_imported_over_http_are_split_by_the_trigger(client, engine, registry_key, splits):
    frame = detailed_zones(3, "zh", seed=9)
    response = client.post(
        "/imports",
        headers={"Authorization": f"Bearer {registry_key}"},
        data={"layer": "protection_zones", "source": "t-zp-http"},
        files={"file": ("zones.geojson", json.dumps(frame.__geo_interface__).encode())},
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 3
    assert splits == []  # the service's role may not write parts: its trigger does
    assert_parts_cover(stored_parts(engine, "t-zp-http"), frame)
