"""Detailed polygons imported chunk by chunk: each chunk reaches its COPY already encoded, the
geometry bytes sent are the ones stored, and the stored zones and their parts are the same as
`ogr2ogr -append` stores from the same file (whose zones the insert trigger splits, one by one,
where Veta splits its new zones in one statement)."""

from __future__ import annotations

import csv
import io
import subprocess

import numpy as np
import pytest
import shapely
from import_files import star_zones
from pyproj import Transformer
from sqlalchemy import text

from geo.io.importing import streaming
from geo.io.importing.pipeline import ImportOptions, import_file

pytestmark = pytest.mark.usefixtures("remove_test_records")  # sources 't-…' go at the end

ZONES = 1_200  # several chunks: a small first one, growing to chunks.MIN_ROWS


def ogr2ogr_append(engine, path, source: str) -> None:
    """The same file into protection_zones as a GIS analyst would load it, by COPY."""
    url = engine.url
    subprocess.run(
        [
            "ogr2ogr",
            "-append",
            "-f",
            "PostgreSQL",
            f"PG:host={url.host} port={url.port} dbname={url.database} user={url.username}",
            str(path),
            "-nln",
            "protection_zones",
            "-unsetFid",
            "-t_srs",
            "EPSG:4326",
            "-nlt",
            "MULTIPOLYGON",
            "--config",
            "PG_USE_COPY",
            "YES",
            "-dialect",
            "SQLite",
            "-sql",
            "SELECT source_id, name, designation_scheme, designation, legal_effect, "
            f"'{source}' AS source, datetime('now') AS created_at, "
            "datetime('now') AS updated_at, geom FROM protection_zones",
        ],
        check=True,
        capture_output=True,
    )


def test_zones_are_sent_encoded_as_stored_and_match_ogr2ogr_row_by_row(
    engine, tmp_path, monkeypatch
):
    frame = star_zones(ZONES, "zb", (40, 120), seed=11)
    path = tmp_path / "zones.gpkg"
    frame.to_file(path, layer="protection_zones", engine="pyogrio")
    sent: list[tuple[str, list[bytes]]] = []
    send = streaming.copy_rows

    def recorded(copy, encoded, progress):
        sent.append((encoded.statement, [data for data, _ in encoded.blocks]))
        return send(copy, encoded, progress)

    monkeypatch.setattr(streaming, "copy_rows", recorded)
    report = import_file(engine, ImportOptions(path, "protection_zones", source="t-zb-veta"))
    assert report.outcome == "written" and report.inserted == ZONES and not report.problems
    assert len(sent) > 2  # chunk by chunk, each encoded to bytes before it was sent

    # The hex WKB of each geometry sent, by record id, read back from the CSV sent.
    hex_sent = {}
    for statement, blocks in sent:
        names = statement[statement.index("(") + 1 : statement.index(")")].split(", ")
        for block in blocks:
            for row in csv.reader(io.StringIO(block.decode())):
                record = dict(zip(names, row, strict=True))
                srid, wkb = record["geom"].split(";")
                assert srid == "SRID=4326"
                hex_sent[record["source_id"]] = wkb
    assert len(hex_sent) == ZONES

    ogr2ogr_append(engine, path, "t-zb-ogr")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT v.source_id, encode(ST_AsBinary(v.geom), 'hex'), "
                "ST_OrderingEquals(v.geom, o.geom), ST_AsEWKB(v.geom) = ST_AsEWKB(o.geom), "
                "(SELECT array_agg(ST_AsEWKB(p.geom) ORDER BY ST_AsEWKB(p.geom)) "
                " FROM protection_zone_parts p WHERE p.zone_id = v.id), "
                "(SELECT array_agg(ST_AsEWKB(p.geom) ORDER BY ST_AsEWKB(p.geom)) "
                " FROM protection_zone_parts p WHERE p.zone_id = o.id), "
                "ST_AsBinary(v.geom) "
                "FROM protection_zones v JOIN protection_zones o USING (source_id) "
                "WHERE v.source = 't-zb-veta' AND o.source = 't-zb-ogr' ORDER BY v.source_id"
            )
        ).all()
    assert len(rows) == ZONES
    to_lonlat = Transformer.from_crs(25830, 4326, always_xy=True)
    for (source_id, stored_hex, same_order, same_bytes, parts, ogr_parts, wkb), drawn in zip(
        rows, frame.geometry, strict=True
    ):
        assert stored_hex == hex_sent[source_id]  # stored as sent, nothing redone on the way
        # The parts Veta split in one statement are the ones the trigger split for ogr2ogr.
        assert same_order and same_bytes and parts == ogr_parts and len(parts) >= 1
        # Independently: the file's ring in lon/lat, to within 1e-9°.
        stored = shapely.from_wkb(bytes(wkb))
        expected = shapely.transform(drawn, lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))
        assert stored.geom_type == "MultiPolygon" and len(stored.geoms) == 1
        ring = np.asarray(stored.geoms[0].exterior.coords)
        assert shapely.LinearRing(ring).is_ccw
        np.testing.assert_allclose(ring, np.asarray(expected.exterior.coords), atol=1e-9)
