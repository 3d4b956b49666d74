"""The León sample: what the files hold is what gets loaded, loading is idempotent, and the
data keeps its promises (whole cuadrículas, honest precision, positions inside León)."""

from __future__ import annotations

import json
from collections import deque

import pytest
import shapely
from pyproj import Geod
from shapely.geometry import box, shape
from sqlalchemy import text

from geo.core.settings import PROJECT_ROOT
from geo.core.vocabulary import fold
from geo.store.sample import load_sample

SAMPLE = PROJECT_ROOT / "sample_data"
GEOD = Geod(ellps="GRS80")
CELL = 1 / 180


def features(name: str) -> list[dict]:
    path = SAMPLE / f"{name}.geojson"
    if not path.exists():
        path = SAMPLE / "boundaries" / f"{name}.geojson"
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def geometries(engine, table: str, where: str = "true", **params) -> dict:
    """Geometries straight from PostGIS as WKB (exact doubles), keyed by the record's id."""
    key = "registry_number" if table == "permits" else "source_id"
    return {
        k: shapely.from_wkb(bytes(wkb))
        for k, wkb in rows(
            engine, f"SELECT {key}, ST_AsBinary(geom) FROM {table} WHERE {where}", **params
        )
    }


def geodesic_hectares(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e4


LEON = shape(features("leon_province")[0]["geometry"])


@pytest.mark.parametrize(
    "table, file, key",
    [
        ("deposits", "deposits", ("source", "source_id")),
        ("protection_zones", "protection_zones", ("source", "source_id")),
        ("permits", "permits", ("registry_number",)),
    ],
)
def test_every_record_of_a_sample_file_is_loaded_once(engine, table, file, key):
    expected = {tuple(f["properties"][k] for k in key) for f in features(file)}
    assert len(expected) == len(features(file))
    loaded = {tuple(r) for r in rows(engine, f"SELECT {', '.join(key)} FROM {table}")}
    assert expected <= loaded


def test_admin_areas_are_castilla_y_leon_its_provinces_and_leons_municipalities(engine):
    areas = {
        code: (name, folded, level, parent)
        for code, name, folded, level, parent in rows(
            engine, "SELECT code, name, name_folded, level, parent_code FROM admin_areas"
        )
    }
    municipalities = features("leon_municipalities")
    assert len(municipalities) == 211
    assert areas["07"][2:] == ("autonomous_community", None)
    for f in features("castilla_y_leon_provinces"):
        assert areas[f["properties"]["id"]][2:] == ("province", "07")
    for f in municipalities:
        name, folded, level, parent = areas[f["properties"]["id"]]
        assert (name, folded, level, parent) == (
            f["properties"]["name"],
            fold(f["properties"]["name"]),
            "municipality",
            "24",
        )
    assert rows(engine, "SELECT DISTINCT ST_SRID(geom), GeometryType(geom) FROM admin_areas") == [
        (4326, "MULTIPOLYGON")
    ]


def _state(engine) -> dict:
    """Every row's identity, transaction id and updated_at: any rewrite changes xmin."""
    state = {}
    for table, key in (
        ("admin_areas", "code"),
        ("deposits", "source || source_id"),
        ("protection_zones", "source || source_id"),
        ("permits", "registry_number"),
    ):
        stamp = "NULL" if table == "admin_areas" else "updated_at"
        state[table] = set(rows(engine, f"SELECT {key}, xmin::text, {stamp} FROM {table}"))
    return state


def test_loading_again_rewrites_no_row(engine):
    load_sample(engine)  # whatever other tests did to sample rows, they now match the files
    before = _state(engine)
    counts = load_sample(engine)
    assert _state(engine) == before
    assert counts == {table: len(state) for table, state in before.items()}


def test_loading_restores_a_changed_record_and_touches_only_it(engine):
    load_sample(engine)
    before = _state(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE deposits SET name = 'edited' WHERE source_id = 'SYN-D-0001'"))
    load_sample(engine)
    after = _state(engine)
    changed = {r[0] for r in after["deposits"] - before["deposits"]}
    assert changed == {"syntheticSYN-D-0001"}
    assert {t: s for t, s in after.items() if t != "deposits"} == {
        t: s for t, s in before.items() if t != "deposits"
    }
    expected = next(
        f["properties"]["name"]
        for f in features("deposits")
        if f["properties"]["source_id"] == "SYN-D-0001"
    )
    assert rows(engine, "SELECT name FROM deposits WHERE source_id = 'SYN-D-0001'") == [(expected,)]


def test_load_if_empty_does_nothing_once_deposits_exist(engine):
    before = _state(engine)
    counts = load_sample(engine, if_empty=True)
    assert _state(engine) == before
    assert counts["deposits"] == len(before["deposits"])


def _cells(geom) -> set[tuple[int, int]]:
    """The 20″ cells whose centre lies in geom."""
    xmin, ymin, xmax, ymax = (round(v * 180) for v in geom.bounds)
    return {
        (i, j)
        for i in range(xmin, xmax)
        for j in range(ymin, ymax)
        if geom.contains(shapely.Point((i + 0.5) * CELL, (j + 0.5) * CELL))
    }


def _edge_connected(cells: set) -> bool:
    start = next(iter(cells))
    seen, todo = {start}, deque([start])
    while todo:
        i, j = todo.popleft()
        for nb in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
            if nb in cells and nb not in seen:
                seen.add(nb)
                todo.append(nb)
    return seen == cells


def test_every_permit_is_a_set_of_whole_edge_joined_cuadriculas(engine):
    permits = geometries(engine, "permits", "source = 'synthetic'")
    right_types = dict(rows(engine, "SELECT registry_number, right_type FROM permits"))
    assert len(permits) >= 36
    for registry, geom in permits.items():
        xy = shapely.get_coordinates(geom)
        assert (xy == (xy * 180).round() / 180).all(), f"{registry}: vertex off the 20″ graticule"
        cells = _cells(geom)
        union = shapely.union_all(
            [box(i * CELL, j * CELL, (i + 1) * CELL, (j + 1) * CELL) for i, j in cells]
        )
        assert union.symmetric_difference(geom).area < 1e-12, f"{registry}: not whole cells"
        assert _edge_connected(cells), f"{registry}: cells not joined along full sides"
        low, high = {"exploration": (300, 3000), "investigation": (1, 300)}.get(
            right_types[registry], (1, None)
        )
        assert low <= len(cells) <= (high or len(cells)), (registry, len(cells))


def test_every_right_type_and_status_occurs_in_the_sample(engine):
    from geo.core.vocabulary import PERMIT_STATUSES, RIGHT_TYPES, SECTIONS

    found = rows(
        engine,
        "SELECT array_agg(DISTINCT right_type), array_agg(DISTINCT status), "
        "array_agg(DISTINCT section) FROM permits WHERE source = 'synthetic'",
    )[0]
    assert [set(f) for f in found] == [set(RIGHT_TYPES), set(PERMIT_STATUSES), set(SECTIONS)]


def test_known_occurrences_are_marked_approximate_and_cited(engine):
    known = rows(
        engine,
        "SELECT source_id, location_precision, remarks FROM deposits WHERE source <> 'synthetic'",
    )
    in_file = {
        f["properties"]["source_id"]
        for f in features("deposits")
        if f["properties"]["source"] != "synthetic"
    }
    assert {r[0] for r in known} >= in_file and len(in_file) >= 20
    for source_id, precision, remarks in known:
        assert precision == "approximate", source_id
        assert "approximate" in remarks.lower(), source_id


def test_synthetic_deposits_lie_inside_the_province_of_leon(engine):
    deposits = geometries(engine, "deposits", "source = 'synthetic'")
    assert len(deposits) >= 300
    outside = [k for k, geom in deposits.items() if not LEON.contains(geom)]
    assert outside == []
    assert sum(g.geom_type == "MultiPolygon" for g in deposits.values()) >= 10


def test_picos_de_europa_zone_has_the_area_of_its_two_municipalities(engine):
    (geom,) = geometries(
        engine, "protection_zones", "source_id = 'APX-NP-PICOS-DE-EUROPA-LEON'"
    ).values()
    municipalities = [
        shape(f["geometry"])
        for f in features("leon_municipalities")
        if f["properties"]["name"] in ("Oseja de Sajambre", "Posada de Valdeón")
    ]
    assert len(municipalities) == 2
    expected = sum(geodesic_hectares(m) for m in municipalities)
    assert geodesic_hectares(geom) == pytest.approx(expected, rel=0.005)
    # and close to the published 23,778 ha of the park in León
    assert geodesic_hectares(geom) == pytest.approx(23_778, rel=0.02)


def test_the_surface_only_zone_has_deep_and_shallow_critical_deposits_below_it(engine):
    (zone_id,) = [
        f["properties"]["source_id"]
        for f in features("protection_zones")
        if f["properties"]["depth_bottom_m"] is not None
    ]
    ((top, bottom),) = rows(
        engine,
        "SELECT depth_top_m, depth_bottom_m FROM protection_zones WHERE source_id = :z",
        z=zone_id,
    )
    (zone,) = geometries(engine, "protection_zones", "source_id = :z", z=zone_id).values()
    depths = {
        k: (t, b)
        for k, t, b in rows(
            engine,
            "SELECT source_id, depth_top_m, depth_bottom_m FROM deposits "
            "WHERE commodities && ARRAY['tungsten', 'lithium']",
        )
    }
    inside = [
        k
        for k, g in geometries(
            engine, "deposits", "commodities && ARRAY['tungsten', 'lithium']"
        ).items()
        if zone.intersects(g)
    ]
    below = [k for k in inside if depths[k][0] is not None and depths[k][0] >= bottom]
    within = [k for k in inside if depths[k][0] is not None and depths[k][0] < bottom]
    assert (top, bottom) == (0, 200)
    assert len(below) >= 3 and len(within) >= 2
