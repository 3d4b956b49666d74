"""MDoPI assessment and safeguarding areas: the README's worked examples, method files, buffers."""

from __future__ import annotations

import math

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import Point, Polygon
from sqlalchemy import text

from geo.planning.assessment import assess
from geo.planning.method import DEFAULT_METHOD, MethodError, load_method
from geo.planning.safeguarding import QUAD_SEGS

pytestmark = pytest.mark.usefixtures("remove_test_records")
GEOD = Geod(ellps="WGS84")
# Far from the León sample, so that no sample zone or deposit meets the hand-made ones.
LON, LAT = -3.0, 40.2


@pytest.fixture(scope="module", autouse=True)
def remove_safeguarding(engine):
    """Safeguarding zones are not test-sourced records: they go with their generations."""
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM protection_zones WHERE source = 'veta-mdopi'"))
        conn.execute(text("DELETE FROM safeguarding_generations"))


def _deposit(conn, key: str, lon: float, lat: float, **fields) -> int:
    row = {
        "occurrence_type": "oreDeposit",
        "commodities": ["tungsten"],
        "commodity_importance": ["main"],
        "size_class": "largeDeposit",
        "mine_status": "operating",
        "location_precision": "exact",
        "depth_top_m": 0.0,
        "depth_bottom_m": 200.0,
        **fields,
    }
    return conn.execute(
        text(
            "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, size_class, mine_status, "
            "location_precision, depth_top_m, depth_bottom_m, geom, source, source_id) VALUES (:name, :occurrence_type, "
            ":commodities, :commodity_importance, :size_class, :mine_status, :location_precision, :depth_top_m, "
            ":depth_bottom_m, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 't-mdopi', :key) RETURNING id"
        ),
        {**row, "name": key, "key": key, "lon": lon, "lat": lat},
    ).scalar_one()


def _zone(conn, key: str, lon: float, lat: float, effect: str, top=None, bottom=None) -> None:
    box = shapely.box(lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
    conn.execute(
        text(
            "INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, depth_top_m, "
            "depth_bottom_m, geom, source, source_id) VALUES (:k, 'other', 'test', :e, :t, :b, "
            "ST_Multi(ST_GeomFromText(:wkt, 4326)), 't-mdopi', :sid)"
        ),
        {"k": key, "sid": key, "e": effect, "t": top, "b": bottom, "wkt": box.wkt},
    )


@pytest.fixture(scope="module")
def examples(engine):
    """The README's worked examples, as deposits; ids by example letter."""
    with engine.begin() as conn:
        ids = {
            "A": _deposit(conn, "A", LON, LAT),
            "B": _deposit(conn, "B", LON + 0.1, LAT),
            "B3d": _deposit(conn, "B3d", LON + 0.2, LAT, depth_top_m=300.0, depth_bottom_m=600.0),
            "C": _deposit(
                conn,
                "C",
                LON + 0.3,
                LAT,
                occurrence_type="occurrence",
                commodities=["slate"],
                size_class="smallDeposit",
                mine_status="historic",
                location_precision="approximate",
                depth_top_m=None,
                depth_bottom_m=None,
            ),
            "D": _deposit(
                conn,
                "D",
                LON + 0.4,
                LAT,
                occurrence_type="mineralDeposit",
                commodities=["cobalt"],
                size_class="mediumSizedDeposit",
                mine_status="feasibility",
                location_precision="approximate",
                depth_top_m=None,
                depth_bottom_m=None,
            ),
        }
        _zone(conn, "zone-B", LON + 0.1, LAT, "exclusion")
        _zone(conn, "zone-B3d", LON + 0.2, LAT, "exclusion", 0.0, 50.0)  # surface only
        _zone(conn, "zone-D", LON + 0.4, LAT, "conditional")
        conn.execute(
            text("INSERT INTO deposit_societal_scores (deposit_id, score) VALUES (:d, 20)"),
            {"d": ids["D"]},
        )
    return ids


def _latest(engine, deposit_id: int) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text(
                    "SELECT * FROM deposit_assessments WHERE deposit_id = :d ORDER BY id DESC LIMIT 1"
                ),
                {"d": deposit_id},
            )
            .mappings()
            .one()
        )


def test_default_method_classes_the_worked_examples(engine, examples):
    with engine.begin() as conn:
        assert assess(conn, load_method(), list(examples.values())) == len(examples)
    expected = {
        "A": (90.81, "eu"),
        "B": (70.81, "national"),
        "B3d": (90.81, "eu"),
        "C": (52.89, "local"),
        "D": (66.54, "regional"),
    }
    for key, (score, klass) in expected.items():
        row = _latest(engine, examples[key])
        assert (row["score"], row["mdopi_class"]) == (score, klass), key
        assert row["method_name"] == "veta-default"
    b = _latest(engine, examples["B"])
    assert b["land_use"] == 0 and [z["name"] for z in b["inputs"]["constraining_zones"]] == [
        "zone-B"
    ]
    assert _latest(engine, examples["B3d"])["inputs"]["constraining_zones"] == []  # 3D rule
    assert _latest(engine, examples["D"])["societal"] == 20
    assert b["reasons"][-1]["rule"].startswith("score 70.81 gives class national")


def test_a_changed_weight_changes_class_and_version(engine, examples, tmp_path):
    copy = tmp_path / "method.toml"
    copy.write_text(DEFAULT_METHOD.read_text().replace("land_use = 20", "land_use = 60", 1))
    changed, default = load_method(copy), load_method()
    assert changed.weights["land_use"] == 60 and changed.version != default.version
    with engine.begin() as conn:
        before = conn.execute(
            text("SELECT count(*) FROM deposit_assessments WHERE deposit_id = :d"),
            {"d": examples["B"]},
        ).scalar_one()
        assess(conn, changed, [examples["B"]])
    row = _latest(engine, examples["B"])
    # (25 x 93.25 + 40 x 100 + 60 x 0 + 15 x 50) / 140
    assert row["score"] == round((25 * 93.25 + 40 * 100 + 15 * 50) / 140, 2)
    assert row["mdopi_class"] == "local" and row["method_version"] == changed.version
    with engine.connect() as conn:  # the earlier assessment is kept
        assert (
            conn.execute(
                text("SELECT count(*) FROM deposit_assessments WHERE deposit_id = :d"),
                {"d": examples["B"]},
            ).scalar_one()
            == before + 1
        )


@pytest.mark.parametrize(
    "change, key",
    [
        (("land_use = 20", "land_use = -1"), "weights.land_use"),
        (("eu = 80", "eu = 50"), "classes"),
        (("oreDeposit = 100", "oreDeposit = 'high'"), "geological.occurrence_type.oreDeposit"),
        (("[societal]", "[societal]\nbonus = 3"), "societal.bonus"),
        (("slate = 300", "slat = 300"), "safeguarding.commodity_buffer_m.slat"),
    ],
)
def test_method_errors_name_the_key(tmp_path, change, key):
    copy = tmp_path / "method.toml"
    copy.write_text(DEFAULT_METHOD.read_text().replace(*change, 1))
    with pytest.raises(MethodError) as error:
        load_method(copy)
    assert error.value.key == key


def _geodesic_disc(lon: float, lat: float, r: float) -> Polygon:
    """The points at geodesic distance r from (lon, lat), at the same 4 x QUAD_SEGS azimuths."""
    n = 4 * QUAD_SEGS
    azimuths = [90 - 360 * i / n for i in range(n)]  # GEOS starts east, counter-clockwise
    lons, lats, _ = GEOD.fwd([lon] * n, [lat] * n, azimuths, [r] * n)
    return Polygon(zip(lons, lats))


def _area_m2(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def test_safeguarding_areas_are_geodesic_buffers_dissolved_and_kept_in_history(
    engine, examples, cli
):
    with engine.begin() as conn:
        near = _deposit(
            conn, "A-near", LON + 0.012, LAT
        )  # 1.0 km east of A: the 1 km buffers overlap
        coal = _deposit(
            conn,
            "coal",
            LON + 0.6,
            LAT,
            commodities=["coal"],
            depth_top_m=None,
            depth_bottom_m=None,
        )
        assess(conn, load_method(), [examples["A"], near, coal])
    # The coal deposit's class decides nothing here: it is safeguarded as whatever it is, with
    # coal's 1,500 m, the larger of the two buffers.
    klass = _latest(engine, coal)["mdopi_class"]
    code, out = cli("mdopi", "safeguard", "--classes", f"eu,{klass}")
    assert code == 0, out
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text(
                    "SELECT a.id, a.generation_id, a.area_ha, ST_AsBinary(a.geom) AS wkb, z.legal_effect, "
                    "z.designation_scheme, z.depth_top_m, z.depth_bottom_m, "
                    "array_agg(l.deposit_id ORDER BY l.deposit_id) AS deposits FROM safeguarding_areas a "
                    "JOIN protection_zones z ON z.id = a.zone_id JOIN safeguarding_links l ON l.area_id = a.id "
                    "WHERE a.generation_id = (SELECT max(id) FROM safeguarding_generations) "
                    "AND l.deposit_id = ANY(:ids) GROUP BY a.id, z.id"
                ),
                {"ids": [examples["A"], near, coal]},
            )
            .mappings()
            .all()
        )
    by_deposits = {tuple(r["deposits"]): r for r in rows}
    assert set(by_deposits) == {(examples["A"], near), (coal,)}
    pair = by_deposits[(examples["A"], near)]
    expected = shapely.union(_geodesic_disc(LON, LAT, 1000), _geodesic_disc(LON + 0.012, LAT, 1000))
    got = shapely.from_wkb(pair["wkb"])
    assert got.geom_type == "MultiPolygon" and len(got.geoms) == 1  # dissolved
    assert _area_m2(got) == pytest.approx(_area_m2(expected), rel=1e-3)
    assert pair["area_ha"] * 1e4 == pytest.approx(_area_m2(expected), rel=1e-3)
    assert (pair["legal_effect"], pair["designation_scheme"]) == (
        "safeguarding",
        "mineralSafeguarding",
    )
    assert (pair["depth_top_m"], pair["depth_bottom_m"]) == (0, 200)
    coal_area = shapely.from_wkb(by_deposits[(coal,)]["wkb"])
    assert _area_m2(coal_area) == pytest.approx(math.pi * 1500**2 * _disc_factor(), rel=1e-3)
    assert _area_m2(coal_area) == pytest.approx(
        _area_m2(_geodesic_disc(LON + 0.6, LAT, 1500)), rel=1e-3
    )
    assert Point(LON + 0.6, LAT).within(coal_area)

    first = pair["generation_id"]
    with engine.connect() as conn:
        designated = conn.execute(
            text("SELECT count(*) FROM safeguarding_areas WHERE generation_id = :g"), {"g": first}
        ).scalar_one()
    code, out = cli("mdopi", "safeguard", "--classes", "eu")
    assert code == 0 and f"generation {first} ended" in out, out
    with engine.connect() as conn:
        generations = dict(
            conn.execute(
                text("SELECT id, superseded_on IS NOT NULL FROM safeguarding_generations")
            ).all()
        )
        kept = conn.execute(
            text("SELECT count(*) FROM safeguarding_areas WHERE generation_id = :g"), {"g": first}
        ).scalar_one()
        in_force_old = conn.execute(
            text(
                "SELECT count(*) FROM safeguarding_areas a JOIN protection_zones z ON z.id = a.zone_id "
                "WHERE a.generation_id = :g AND (z.valid_to IS NULL OR z.valid_to >= current_date)"
            ),
            {"g": first},
        ).scalar_one()
    assert generations[first] is True and kept == designated and in_force_old == 0
    assert sum(1 for superseded in generations.values() if not superseded) == 1


def _disc_factor() -> float:
    """Area of a regular 4 x QUAD_SEGS-gon over that of its circumscribed circle."""
    n = 4 * QUAD_SEGS
    return n * math.sin(2 * math.pi / n) / (2 * math.pi)


def test_safeguard_refuses_unknown_classes(cli):
    code, out = cli("mdopi", "safeguard", "--classes", "global")
    assert code == 1 and "--classes" in out and "eu, national" in out


def test_assess_refuses_a_bad_method_file_naming_the_key(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_METHOD.read_text().replace("national = 68", "national = 168", 1))
    code, out = cli("mdopi", "assess", "--method", bad)
    assert code == 1 and "classes.national" in out and "0 to 100" in out


def test_set_societal_records_the_score_the_next_assessment_uses(cli, engine, examples):
    code, out = cli("mdopi", "set-societal", examples["C"], 90, "--note", "test")
    assert code == 0, out
    with engine.begin() as conn:
        assess(conn, load_method(), [examples["C"]])
    row = _latest(engine, examples["C"])
    # C with 90 instead of the neutral 50: 52.89 + 0.15 x 40
    assert row["societal"] == 90 and row["score"] == pytest.approx(52.89 + 0.15 * 40, abs=0.01)
    code, out = cli("mdopi", "set-societal", examples["C"], 101)
    assert code == 1 and "0 to 100" in out
