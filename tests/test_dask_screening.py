"""Batch screening on Dask: the in-database batch's answers, deposit by deposit.

The fixture lays test zones (overlapping, one subdivided into parts, one for the surface only,
one expired, one not yet in force, one of an uncounted effect) and rights (granted, applied
for, lapsed) east of León, and a few hundred seeded deposits among them: random points, points
exactly on zone edges and corners, small outlines across boundaries, some with a depth interval.
`veta screen-batch` on a LocalCluster of several workers must write exactly what
GET /screening/deposits answers (the SQL batch), and both must agree with an independent
shapely computation of the rule (tests/oracle.py) for every deposit, the León sample's too.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import numpy as np
import pyogrio
import pytest
import shapely
from distributed import LocalCluster
from oracle import depths_overlap, effects_on, in_force, verdict
from shapely import wkb
from shapely.geometry import box
from sqlalchemy import text

pytestmark = [pytest.mark.dask, pytest.mark.usefixtures("remove_test_records")]

SOURCE = "t-dask"
TODAY = date.today()
COUNTED = ("exclusion", "conditional")
# (key, legal effect, geometry, depth top, depth bottom, valid_from, valid_to)
ZONES = [
    ("a", "exclusion", box(-5.00, 42.00, -4.96, 42.04), None, None, None, None),
    ("b", "conditional", box(-4.98, 42.02, -4.94, 42.06), None, None, None, None),
    ("surface", "conditional", box(-4.97, 41.99, -4.955, 42.005), 0.0, 50.0, None, None),
    ("expired", "exclusion", box(-4.95, 41.99, -4.93, 42.01), None, None, None, date(2000, 1, 1)),
    (
        "future",
        "exclusion",
        box(-4.99, 42.045, -4.97, 42.06),
        None,
        None,
        TODAY + timedelta(30),
        None,
    ),
    ("safeguarding", "safeguarding", box(-4.96, 42.00, -4.94, 42.02), None, None, None, None),
    # 1,200 vertices: split into several parts by the zone-parts trigger.
    (
        "round",
        "exclusion",
        shapely.Point(-4.93, 42.05).buffer(0.012, quad_segs=300),
        None,
        None,
        None,
        None,
    ),
]
# (key, status, expires_on, geometry)
RIGHTS = [
    ("granted", "granted", None, box(-4.975, 42.03, -4.965, 42.05)),
    ("applied", "applied", None, box(-4.99, 42.00, -4.97, 42.01)),
    ("lapsed", "granted", date(2001, 1, 1), box(-4.95, 42.04, -4.93, 42.06)),
]
EXTENT = (-5.01, 41.985, -4.91, 42.07)


def _deposits() -> list[tuple]:
    """(geometry, depth top, depth bottom, commodity) of every test deposit."""
    rng = np.random.default_rng(20261204)
    west, south, east, north = EXTENT
    places = list(shapely.points(rng.uniform(west, east, 240), rng.uniform(south, north, 240)))
    for _, _, geom, *_ in ZONES[:4]:  # corners and points along the edges, exactly on them
        x0, y0, x1, y1 = geom.bounds
        places += [shapely.Point(x, y) for x, y in geom.exterior.coords[:-1]]
        places += [shapely.Point(x0, y0 + f * (y1 - y0)) for f in (0.25, 0.5)]
        places += [shapely.Point(x0 + f * (x1 - x0), y1) for f in (0.25, 0.5)]
    places += [shapely.Point(c) for c in ZONES[-1][2].exterior.coords[:40:7]]
    # Small outlines across the boundaries of a, b and the surface zone.
    places += [
        shapely.MultiPolygon([shapely.Point(x, y).buffer(0.003, quad_segs=4)])
        for x, y in [(-5.0, 42.01), (-4.96, 42.03), (-4.98, 42.04), (-4.97, 42.0), (-4.955, 41.995)]
    ]
    depths = [(None, None), (None, None), (100.0, 300.0), (0.0, 30.0)]
    return [
        (geom, *depths[i % len(depths)], "lithium" if i % 5 == 0 else "tungsten")
        for i, geom in enumerate(places)
    ]


@pytest.fixture(scope="module")
def world(engine):
    with engine.begin() as conn:
        for key, effect, geom, top, bottom, valid_from, valid_to in ZONES:
            conn.execute(
                text(
                    "INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, "
                    "depth_top_m, depth_bottom_m, valid_from, valid_to, geom, source, source_id) VALUES "
                    "(:name, 'other', 'test zone', :effect, :top, :bottom, :valid_from, :valid_to, "
                    "ST_Multi(ST_GeomFromText(:wkt, 4326)), :source, :key)"
                ),
                {
                    "name": f"Dask {key}",
                    "effect": effect,
                    "top": top,
                    "bottom": bottom,
                    "valid_from": valid_from,
                    "valid_to": valid_to,
                    "wkt": geom.wkt,
                    "source": SOURCE,
                    "key": key,
                },
            )
        for key, status, expires_on, geom in RIGHTS:
            conn.execute(
                text(
                    "INSERT INTO permits (registry_number, name, holder, right_type, status, expires_on, "
                    "commodities, source, geom) VALUES (:reg, :name, 'Test Holder S.L.', 'investigation', "
                    ":status, :expires_on, ARRAY['tungsten'], :source, ST_Multi(ST_GeomFromText(:wkt, 4326)))"
                ),
                {
                    "reg": f"TEST-DASK-{key}",
                    "name": f"Dask {key}",
                    "status": status,
                    "expires_on": expires_on,
                    "source": SOURCE,
                    "wkt": geom.wkt,
                },
            )
        conn.execute(
            text(
                "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
                "depth_top_m, depth_bottom_m, location_precision, geom, source, source_id) VALUES "
                "(:name, 'prospect', ARRAY[:commodity], ARRAY['main'], :top, :bottom, 'exact', "
                "ST_GeomFromText(:wkt, 4326), :source, :sid)"
            ),
            [
                {
                    "name": f"dask-{i}",
                    "sid": f"dask-{i}",
                    "commodity": commodity,
                    "top": top,
                    "bottom": bottom,
                    "wkt": geom.wkt,
                    "source": SOURCE,
                }
                for i, (geom, top, bottom, commodity) in enumerate(_deposits())
            ],
        )
    yield


def _rows(engine, sql: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).mappings().all()
    return [{**r, "geom": wkb.loads(bytes(r["wkb"]))} for r in rows]


def _csv(body: str) -> dict[str, dict]:
    return {r["id"]: r for r in csv.DictReader(io.StringIO(body))}


def _http_csv(client, query: str = "") -> str:
    response = client.get(f"/screening/deposits?f=csv{query}")
    assert response.status_code == 200, response.text
    return response.text


@pytest.fixture(scope="module")
def tcp_scheduler():
    """A LocalCluster of three single-threaded workers reached by its tcp:// address."""
    with LocalCluster(
        n_workers=3,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_writes_the_sql_batch_file_byte_for_byte(client, cli, world, tmp_path):
    out = tmp_path / "dask.csv"
    code, output = cli("screen-batch", "-o", out, "--scheduler", "local:3", "--partitions", 6)
    assert code == 0, output
    assert "6 partitions, 3 worker threads" in output
    sql = _http_csv(client)
    assert out.read_text(encoding="utf-8") == sql
    assert len(_csv(sql)) > 300
    # Without --scheduler: the same statement over every deposit, the same file.
    code, output = cli("screen-batch", "-o", tmp_path / "db.csv")
    assert code == 0 and "in the database" in output, output
    assert (tmp_path / "db.csv").read_text(encoding="utf-8") == sql


def test_dask_answers_agree_with_the_rule_computed_in_shapely(
    client, cli, engine, world, tmp_path, tcp_scheduler
):
    out = tmp_path / "dask.csv"
    code, output = cli("screen-batch", "-o", out, "--scheduler", tcp_scheduler, "--partitions", 5)
    assert code == 0, output
    dask_rows, sql_rows = _csv(out.read_text(encoding="utf-8")), _csv(_http_csv(client))
    zones = _rows(engine, "SELECT *, ST_AsBinary(geom) AS wkb FROM protection_zones")
    rights = _rows(engine, "SELECT *, ST_AsBinary(geom) AS wkb FROM permits")
    deposits = _rows(engine, "SELECT *, ST_AsBinary(geom) AS wkb FROM deposits")  # the sample's too
    counted = [z for z in zones if z["legal_effect"] in COUNTED]
    several = on_edge = 0
    for d in deposits:
        got, expected = dask_rows[str(d["id"])], sql_rows[str(d["id"])]
        assert got == expected
        constraining = sorted(
            z["id"]
            for z in counted
            if in_force(z["valid_from"], z["valid_to"], TODAY)
            and z["geom"].intersects(d["geom"])
            and depths_overlap(
                z["depth_top_m"], z["depth_bottom_m"], d["depth_top_m"], d["depth_bottom_m"]
            )
        )
        effects = effects_on(d["geom"], counted, d["depth_top_m"], d["depth_bottom_m"], TODAY)
        assert got["verdict"] == verdict(effects), d["name"]
        assert got["constraining_zone_ids"] == ",".join(map(str, constraining)), d["name"]
        assert got["ground_status"] == _ground_status(d["geom"], rights), d["name"]
        several += len(constraining) > 1
        on_edge += any(
            d["geom"].geom_type == "Point" and z["geom"].boundary.intersects(d["geom"])
            for z in counted
            if z["id"] in constraining
        )
    # Deposits in two zones at once, and points exactly on a zone's edge, were screened.
    assert several >= 5 and on_edge >= 20


def _ground_status(site, rights: list[dict]) -> str:
    """Held by a granted or extended right not expired, applied for by an application, else
    open; a right along a polygon site's edge only is not on it."""
    statuses = set()
    for r in rights:
        status = r["status"]
        if status in ("granted", "extended") and r["expires_on"] and r["expires_on"] <= TODAY:
            status = "lapsed"
        on_site = r["geom"].intersects(site) and (
            site.geom_type == "Point" or not r["geom"].touches(site)
        )
        if on_site:
            statuses.add(status)
    if statuses & {"granted", "extended"}:
        return "held"
    return "applied_for" if statuses & {"applied", "admitted"} else "open"


def test_geojson_and_geopackage_hold_the_same_answers(client, cli, world, tmp_path):
    sql = _csv(_http_csv(client))
    geojson = tmp_path / "dask.geojson"
    code, output = cli(
        "screen-batch", "-o", geojson, "--format", "geojson", "--scheduler", "local:2"
    )
    assert code == 0, output
    features = client.get("/screening/deposits?f=geojson").json()["features"]
    written = json.loads(geojson.read_text(encoding="utf-8"))
    assert written["features"] == features and written["numberReturned"] == len(sql)
    for name, args in (("db", ()), ("dask", ("--scheduler", "local:2"))):
        gpkg = tmp_path / f"{name}.gpkg"
        code, output = cli("screen-batch", "-o", gpkg, "--format", "gpkg", *args)
        assert code == 0, output
        frame = pyogrio.read_dataframe(gpkg, layer="deposit_screening_batch")
        assert len(frame) == len(sql)
        for row in frame.itertuples():
            expected = sql[row.id]
            assert (row.verdict, row.ground_status) == (
                expected["verdict"],
                expected["ground_status"],
            )
            zones = row.constraining_zone_ids  # a NULL reads as NaN
            assert (zones if isinstance(zones, str) else "") == expected["constraining_zone_ids"]
            assert row.site_area_ha == pytest.approx(float(expected["site_area_ha"]))
        by_id = {f["id"]: shapely.geometry.shape(f["geometry"]) for f in features}
        # GeoJSON's coordinates are rounded to 9 decimals, the GeoPackage's are the stored ones.
        assert all(g.equals_exact(by_id[i], 1e-9) for i, g in zip(frame["id"], frame.geometry))


def test_filters_and_date_are_the_batch_s(client, cli, engine, world, tmp_path):
    out = tmp_path / "li.csv"
    code, output = cli(
        "screen-batch", "-o", out, "--commodity", "Li", "--area", "leon", "--scheduler", "local:2"
    )
    assert code == 0, output
    assert out.read_text(encoding="utf-8") == _http_csv(client, "&commodity=Li&area=leon")
    # In 1999 the expired zone was in force and the future one was not yet.
    past = tmp_path / "1999.csv"
    code, output = cli("screen-batch", "-o", past, "--date", "1999-06-01", "--scheduler", "local:2")
    assert code == 0, output
    rows = _csv(past.read_text(encoding="utf-8"))
    code, output = cli("screen-batch", "-o", tmp_path / "1999-db.csv", "--date", "1999-06-01")
    assert code == 0, output
    assert (tmp_path / "1999-db.csv").read_text(encoding="utf-8") == past.read_text(
        encoding="utf-8"
    )
    zones = _rows(
        engine,
        f"SELECT *, ST_AsBinary(geom) AS wkb FROM protection_zones WHERE source = '{SOURCE}'",
    )
    expired = next(z for z in zones if z["source_id"] == "expired")
    inside = _rows(
        engine, f"SELECT *, ST_AsBinary(geom) AS wkb FROM deposits WHERE source = '{SOURCE}'"
    )
    inside = [d for d in inside if expired["geom"].intersects(d["geom"])]
    assert inside
    assert all(
        str(expired["id"]) in rows[str(d["id"])]["constraining_zone_ids"].split(",") for d in inside
    )
    assert all(rows[str(d["id"])]["verdict"] == "excluded" for d in inside)


def test_bad_options_name_the_option_and_write_nothing(cli, world, tmp_path):
    out = tmp_path / "never.csv"
    for args, name in (
        (("--scheduler", "udp://nowhere"), "scheduler"),
        (("--scheduler", "local:0"), "scheduler"),
        (("--format", "xlsx"), "format"),
        (("--legal-effect", "informative"), "legal_effect"),
        (("--commodity", "unobtainium"), "commodity"),
    ):
        code, output = cli("screen-batch", "-o", out, *args)
        assert code == 2 and f"{name}:" in output, output
        assert not out.exists()
