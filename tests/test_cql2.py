"""CQL2 filters become parameterised PostGIS SQL that selects what an independent reading selects.

Each filter is translated by geo.features.cql2, run through asyncpg (the service's driver, with its strict
parameter types) against the León sample, and the matching ids are compared with the same
question answered in Python: shapely / pyproj for geometry, plain comparisons for the rest.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from datetime import UTC, date, datetime

import asyncpg
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box, mapping
from unidecode import unidecode

from geo.core.errors import InvalidParameter
from geo.core.sql import Params
from geo.core.vocabulary import COMMODITY_CODES, MINE_STATUSES
from geo.features.cql2 import CONFORMANCE_CLASSES, Queryable, cql2_where, queryables_schema
from geo.store.db import SESSION_SETTINGS, libpq_url

DEPOSIT_FIELDS = {
    q.name: q
    for q in (
        Queryable("id", "d.id", "integer", "Deposit id"),
        Queryable("name", "d.name", "string", "Name"),
        Queryable("main_commodity", "d.commodities[1]", "string", "Main commodity"),
        Queryable(
            "commodity",
            "d.commodities",
            "string_array",
            "Commodities (any element matches)",
            enum=COMMODITY_CODES,
        ),
        Queryable("mine_status", "d.mine_status", "string", "Mine status", enum=MINE_STATUSES),
        Queryable("depth_top_m", "d.depth_top_m", "number", "Top, metres below surface"),
        Queryable("depth_bottom_m", "d.depth_bottom_m", "number", "Bottom, metres below surface"),
        Queryable("retrieved_at", "d.retrieved_at", "date", "Retrieved"),
        Queryable("geometry", "d.geom", "geometry", "Point or outline"),
    )
}
PERMIT_FIELDS = {
    q.name: q
    for q in (
        Queryable("applied_on", "p.applied_on", "date", "Applied"),
        Queryable("granted_on", "p.granted_on", "date", "Granted"),
        Queryable("expires_on", "p.expires_on", "date", "Expires"),
        Queryable("created_at", "p.created_at", "datetime", "Created here"),
    )
}
# A box over the middle of León that cuts through the sample's deposits, its edges off the
# round coordinates of the hand-placed ones (so no deposit sits on an edge).
LEON_BOX = (-6.4137, 42.4521, -5.6173, 42.9489)


class FilterRunner:
    """Runs a filter on a table through asyncpg and returns the matching ids."""

    def __init__(self, url: str):
        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(
            asyncpg.connect(libpq_url(url), server_settings=SESSION_SETTINGS)
        )

    def __call__(
        self, filter: str, lang: str = "cql2-text", crs: str | None = None, table: str = "deposits"
    ) -> set[int]:
        alias, fields = ("d", DEPOSIT_FIELDS) if table == "deposits" else ("p", PERMIT_FIELDS)
        params = Params()
        where = cql2_where(filter, lang, fields, params, crs)
        sql = f"SELECT {alias}.id FROM {table} {alias} WHERE {where}"
        return {r["id"] for r in self.loop.run_until_complete(self.conn.fetch(sql, *params.values))}

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


@pytest.fixture(scope="module")
def run(db_url):
    runner = FilterRunner(db_url)
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def deposits(engine) -> gpd.GeoDataFrame:
    frame = gpd.read_postgis(
        "SELECT id, name, commodities, mine_status, depth_top_m, depth_bottom_m, geom FROM deposits",
        engine,
        geom_col="geom",
        crs=4326,
    )
    frame["depth_top_m"] = (
        frame["depth_top_m"].astype(object).where(frame["depth_top_m"].notna(), None)
    )
    frame["depth_bottom_m"] = (
        frame["depth_bottom_m"].astype(object).where(frame["depth_bottom_m"].notna(), None)
    )
    return frame.set_index("id", drop=False)


@pytest.fixture(scope="module")
def permits(engine) -> pd.DataFrame:
    sql = "SELECT id, applied_on, granted_on, expires_on FROM permits"
    frame = pd.read_sql(sql, engine).set_index("id", drop=False)
    return frame.astype(object).where(frame.notna(), None)


def where(frame, predicate) -> set[int]:
    return {int(i) for i, row in frame.iterrows() if predicate(row)}


def test_sample_is_loaded_with_what_these_tests_need(deposits, permits):
    assert len(deposits) > 100 and len(permits) > 20
    assert deposits["depth_top_m"].isna().any() and deposits["depth_top_m"].notna().any()
    assert (deposits.geom_type == "MultiPolygon").any()


# -- comparisons, logic, advanced comparison operators -----------------------------------------


@pytest.mark.parametrize(
    "op, compare",
    [
        ("=", lambda a, b: a == b),
        ("<>", lambda a, b: a != b),
        ("<", lambda a, b: a < b),
        ("<=", lambda a, b: a <= b),
        (">", lambda a, b: a > b),
        (">=", lambda a, b: a >= b),
    ],
)
def test_number_comparisons_match_python_and_never_match_null(run, deposits, op, compare):
    threshold = sorted(d for d in deposits["depth_top_m"] if d is not None)[20]
    expected = where(
        deposits, lambda r: r.depth_top_m is not None and compare(r.depth_top_m, threshold)
    )
    assert run(f"depth_top_m {op} {threshold!r}") == expected
    assert expected


def test_string_and_integer_equality(run, deposits):
    name = deposits.iloc[3]["name"]
    assert run("name = '" + name.replace("'", "''") + "'") == where(
        deposits, lambda r: r["name"] == name
    )
    assert run("id = 7") == {7}
    assert run("id = 7.5") == set()
    assert run("id <= 3") == {1, 2, 3}


def test_and_binds_tighter_than_or(run, deposits):
    # a OR b AND c  is  a OR (b AND c); read left to right it would be (a OR b) AND c.
    expected = where(
        deposits,
        lambda r: (
            r.commodities[0] == "gold" or (r.commodities[0] == "coal" and r.depth_top_m is not None)
        ),
    )
    got = run("main_commodity = 'gold' OR main_commodity = 'coal' AND depth_top_m IS NOT NULL")
    assert got == expected
    assert got != run(
        "(main_commodity = 'gold' OR main_commodity = 'coal') AND depth_top_m IS NOT NULL"
    )


def test_not_is_null_in_between(run, deposits):
    assert run("depth_top_m IS NULL") == where(deposits, lambda r: r.depth_top_m is None)
    assert run("NOT depth_top_m IS NULL") == where(deposits, lambda r: r.depth_top_m is not None)
    assert run("main_commodity IN ('tungsten', 'lithium')") == where(
        deposits, lambda r: r.commodities[0] in ("tungsten", "lithium")
    )
    assert run("main_commodity NOT IN ('tungsten', 'lithium')") == where(
        deposits, lambda r: r.commodities[0] not in ("tungsten", "lithium")
    )
    assert run("depth_top_m BETWEEN 50 AND 300") == where(
        deposits, lambda r: r.depth_top_m is not None and 50 <= r.depth_top_m <= 300
    )
    assert run("depth_top_m NOT BETWEEN 50 AND 300") == where(
        deposits, lambda r: r.depth_top_m is not None and not 50 <= r.depth_top_m <= 300
    )


def _like(pattern: str):
    """CQL2 LIKE as a regular expression: % any run, _ one character."""
    return re.compile(
        "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern), re.DOTALL
    )


@pytest.mark.parametrize(
    "pattern", ["Synthetic gold%", "%(Villablino)", "%Cu-Co-Ni%", "Las M_dulas"]
)
def test_like_matches_like_a_regular_expression(run, deposits, pattern):
    regex = _like(pattern)
    expected = where(deposits, lambda r: regex.fullmatch(r["name"]) is not None)
    assert run(f"name LIKE '{pattern}'") == expected
    assert expected


def test_casei_and_accenti_ignore_case_and_accents(run, deposits):
    expected = where(deposits, lambda r: "medulas" in unidecode(r["name"]).lower())
    assert expected
    assert run("name LIKE '%médulas%'") == set()  # case matters without CASEI
    assert run("CASEI(name) LIKE CASEI('%MÉDULAS%')") == expected
    assert run("ACCENTI(CASEI(name)) LIKE ACCENTI(CASEI('%MEDULAS%'))") == expected
    assert run("ACCENTI('Ça, déjà, Ñandú, Łódź') = 'Ca, deja, Nandu, Łodz'") == set(deposits["id"])
    assert run("ACCENTI(name) = ACCENTI('Las Medulas')") == where(
        deposits, lambda r: r["name"] == "Las Médulas"
    )


def test_arithmetic_and_division_by_zero(run, deposits):
    assert run("depth_bottom_m - depth_top_m > 100") == where(
        deposits, lambda r: r.depth_top_m is not None and r.depth_bottom_m - r.depth_top_m > 100
    )
    assert run("depth_top_m * 2 + 10 >= 210") == where(
        deposits, lambda r: r.depth_top_m is not None and r.depth_top_m * 2 + 10 >= 210
    )
    assert run("depth_top_m / 0 > 1") == set()
    assert run("depth_top_m ^ 2 > 40000") == where(
        deposits, lambda r: r.depth_top_m is not None and r.depth_top_m**2 > 40000
    )
    for impossible in ("-2.5 ^ 0.5", "0 ^ -1", "10 ^ 400", "10 ^ -400"):
        assert run(f"{impossible} > 0 OR {impossible} <= 0") == set()
    assert run("depth_top_m div 100 = 1") == where(
        deposits, lambda r: r.depth_top_m is not None and math.trunc(r.depth_top_m / 100) == 1
    )


# -- lists: commodities -------------------------------------------------------------------------


def test_a_list_property_compares_element_wise(run, deposits):
    assert run("commodity = 'tungsten'") == where(deposits, lambda r: "tungsten" in r.commodities)
    assert run("commodity <> 'tungsten'") == where(
        deposits, lambda r: "tungsten" not in r.commodities
    )
    assert run("commodity IN ('tungsten', 'lithium')") == where(
        deposits, lambda r: {"tungsten", "lithium"} & set(r.commodities)
    )
    assert run("commodity LIKE 'li%'") == where(
        deposits, lambda r: any(c.startswith("li") for c in r.commodities)
    )
    assert run("commodity IN ('tungsten', 'lithium')")


@pytest.mark.parametrize(
    "function, holds",
    [
        ("A_CONTAINS", lambda s, q: s >= q),
        ("A_CONTAINEDBY", lambda s, q: s <= q),
        ("A_OVERLAPS", lambda s, q: bool(s & q)),
        ("A_EQUALS", lambda s, q: s == q),
    ],
)
def test_array_functions_compare_as_sets(run, deposits, function, holds):
    query = {"tungsten", "tin"}
    expected = where(deposits, lambda r: holds(set(r.commodities), query))
    assert run(f"{function}(commodity, ('tungsten', 'tin'))") == expected
    assert (
        run(
            json.dumps(
                {"op": function.lower(), "args": [{"property": "commodity"}, ["tin", "tungsten"]]}
            ),
            "cql2-json",
        )
        == expected
    )


# -- spatial ------------------------------------------------------------------------------------


def _swap_axes(geometry):
    return shapely.transform(geometry, lambda xy: xy[:, ::-1])


def _wkt(geometry) -> str:
    return shapely.to_wkt(geometry, rounding_precision=9)


@pytest.mark.parametrize(
    "function, holds",
    [
        ("S_INTERSECTS", lambda g, q: g.intersects(q)),
        ("S_WITHIN", lambda g, q: g.within(q)),
        ("S_DISJOINT", lambda g, q: g.disjoint(q)),
        ("S_OVERLAPS", lambda g, q: g.overlaps(q)),
        ("S_TOUCHES", lambda g, q: g.touches(q)),
        ("S_CROSSES", lambda g, q: g.crosses(q)),
    ],
)
def test_spatial_functions_match_shapely(run, deposits, function, holds):
    query = box(*LEON_BOX)
    expected = where(deposits, lambda r: holds(r.geom, query))
    assert run(f"{function}(geometry, {_wkt(query)})") == expected
    if function == "S_INTERSECTS":
        assert 0 < len(expected) < len(deposits)
        assert run(f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, LEON_BOX))}))") == expected


def test_contains_and_equals_with_points(run, deposits):
    outline = deposits[deposits.geom_type == "MultiPolygon"].iloc[0]
    inside = outline.geom.representative_point()
    assert run(f"S_CONTAINS(geometry, {_wkt(inside)})") == where(
        deposits, lambda r: r.geom.contains(inside)
    )
    assert outline.id in run(f"S_CONTAINS(geometry, {_wkt(inside)})")
    point = deposits[deposits.geom_type == "Point"].iloc[0]
    assert run(f"S_EQUALS(geometry, {_wkt(point.geom)})") == where(
        deposits, lambda r: r.geom.equals(point.geom)
    )


def test_geojson_literal_in_cql2_json(run, deposits):
    query = box(*LEON_BOX).buffer(0.05)
    cql = {"op": "s_intersects", "args": [{"property": "geometry"}, mapping(query)]}
    assert run(json.dumps(cql), "cql2-json") == where(deposits, lambda r: r.geom.intersects(query))


def test_latitude_first_epsg_4326_selects_what_crs84_selects(run):
    west, south, east, north = LEON_BOX
    crs84 = run(f"S_INTERSECTS(geometry, BBOX({west}, {south}, {east}, {north}))")
    lat_first = f"S_INTERSECTS(geometry, BBOX({south}, {west}, {north}, {east}))"
    assert run(lat_first, crs="http://www.opengis.net/def/crs/EPSG/0/4326") == crs84
    assert run(lat_first, crs="EPSG:4258") == crs84
    polygon = _swap_axes(box(*LEON_BOX))
    assert run(f"S_INTERSECTS(geometry, {_wkt(polygon)})", crs="EPSG:4326") == crs84


@pytest.mark.parametrize("epsg", [25830, 25829, 3035, 3857])
def test_projected_literals_select_what_crs84_selects(run, deposits, epsg):
    # The CRS84 box, densified so its edges stay where they are, written in the projected CRS
    # in that CRS's axis order (EPSG:3035 is northing first).
    lonlat = box(*LEON_BOX).segmentize(0.001)
    # Reprojection moves an edge by millimetres; no deposit may be that close to call it.
    assert shapely.distance(deposits.geometry.values, lonlat.boundary).min() > 1e-5
    to_projected = Transformer.from_crs(4326, epsg, always_xy=False)
    projected = shapely.transform(
        lonlat, lambda xy: np.column_stack(to_projected.transform(xy[:, 1], xy[:, 0]))
    )
    got = run(
        f"S_INTERSECTS(geometry, {shapely.to_wkt(projected, rounding_precision=3)})",
        crs=f"EPSG:{epsg}",
    )
    assert got == run(f"S_INTERSECTS(geometry, {_wkt(lonlat)})")
    # And independently: the deposits moved into the projected CRS, tested there.
    moved = deposits.to_crs(epsg)
    axis_ordered = (
        moved.geometry.map(_swap_axes)
        if to_projected.target_crs.axis_info[0].direction == "north"
        else moved.geometry
    )
    assert got == {int(i) for i, g in axis_ordered.items() if g.intersects(projected)}


def test_projected_box_edges_are_straight_in_the_projected_crs(run, deposits):
    # A long UTM box edge bows in lon/lat; the filter follows the projected edge, as drawn.
    to_utm = Transformer.from_crs(4326, 25830, always_xy=True)
    x0, y0 = to_utm.transform(LEON_BOX[0], LEON_BOX[1])
    x1, y1 = to_utm.transform(LEON_BOX[2], LEON_BOX[3])
    utm_box = box(x0, y0, x1, y1)
    moved = deposits.to_crs(25830)
    expected = {int(i) for i, g in moved.geometry.items() if g.intersects(utm_box)}
    assert (
        run(f"S_INTERSECTS(geometry, BBOX({x0}, {y0}, {x1}, {y1}))", crs="EPSG:25830") == expected
    )


# -- temporal -------------------------------------------------------------------------------------

INFINITY = date.max


def _period(start, end):
    return (start or date.min, end or INFINITY)


ALLEN = {
    "T_AFTER": lambda a, b: a[0] > b[1],
    "T_BEFORE": lambda a, b: a[1] < b[0],
    "T_DURING": lambda a, b: a[0] > b[0] and a[1] < b[1],
    "T_CONTAINS": lambda a, b: a[0] < b[0] and a[1] > b[1],
    "T_EQUALS": lambda a, b: a == b,
    "T_INTERSECTS": lambda a, b: a[0] <= b[1] and a[1] >= b[0],
    "T_DISJOINT": lambda a, b: not (a[0] <= b[1] and a[1] >= b[0]),
    "T_STARTS": lambda a, b: a[0] == b[0] and a[1] < b[1],
    "T_FINISHES": lambda a, b: a[0] > b[0] and a[1] == b[1],
    "T_OVERLAPS": lambda a, b: a[0] < b[0] < a[1] < b[1],
    "T_MEETS": lambda a, b: a[1] == b[0],
}


@pytest.mark.parametrize(
    "function", ["T_AFTER", "T_BEFORE", "T_EQUALS", "T_INTERSECTS", "T_DISJOINT"]
)
def test_instant_functions_on_a_date_property(run, permits, function):
    day = sorted(permits["applied_on"])[15]
    expected = where(permits, lambda r: ALLEN[function]((r.applied_on, r.applied_on), (day, day)))
    assert run(f"{function}(applied_on, DATE('{day}'))", table="permits") == expected
    assert expected


@pytest.mark.parametrize("function", list(ALLEN))
def test_validity_intervals_with_open_ends(run, permits, function):
    # A permit is valid from its grant to its expiry; unknown ends are open.
    query = (date(2021, 1, 1), INFINITY)
    expected = where(permits, lambda r: ALLEN[function](_period(r.granted_on, r.expires_on), query))
    got = run(
        f"{function}(INTERVAL(granted_on, expires_on), INTERVAL('2021-01-01', '..'))",
        table="permits",
    )
    assert got == expected


def test_instant_during_an_interval_and_timestamps_against_dates(run, permits):
    assert run(
        "T_DURING(applied_on, INTERVAL('2020-01-01', '2024-12-31'))", table="permits"
    ) == where(permits, lambda r: date(2020, 1, 1) < r.applied_on < date(2024, 12, 31))
    # A date is midnight UTC when compared with a timestamp.
    noon = datetime(2021, 1, 31, 12, tzinfo=UTC)
    assert run("T_AFTER(applied_on, TIMESTAMP('2021-01-31T12:00:00Z'))", table="permits") == where(
        permits,
        lambda r: (
            datetime(r.applied_on.year, r.applied_on.month, r.applied_on.day, tzinfo=UTC) > noon
        ),
    )
    assert run("applied_on >= DATE('2024-01-01')", table="permits") == where(
        permits, lambda r: r.applied_on >= date(2024, 1, 1)
    )
    every = set(permits["id"])
    assert run("T_BEFORE(created_at, TIMESTAMP('2000-01-01T00:00:00Z'))", table="permits") == set()
    assert run("T_AFTER(created_at, TIMESTAMP('2000-01-01T00:00:00Z'))", table="permits") == every


def test_temporal_functions_in_cql2_json(run, permits):
    cql = {
        "op": "t_intersects",
        "args": [
            {"interval": [{"property": "granted_on"}, {"property": "expires_on"}]},
            {"interval": [{"date": "2030-01-01"}, ".."]},
        ],
    }
    assert run(json.dumps(cql), "cql2-json", table="permits") == where(
        permits,
        lambda r: ALLEN["T_INTERSECTS"](
            _period(r.granted_on, r.expires_on), (date(2030, 1, 1), INFINITY)
        ),
    )


# -- injection ------------------------------------------------------------------------------------


def test_an_injection_attempt_is_a_string_literal(run, deposits):
    nasty = "x'; DROP TABLE deposits; --"
    assert run("name = 'x''; DROP TABLE deposits; --'") == set()
    assert run(json.dumps({"op": "=", "args": [{"property": "name"}, nasty]}), "cql2-json") == set()
    # Stored under that very name, the deposit is found by it, and the table is still there.
    conn, loop = run.conn, run.loop
    transaction = conn.transaction()
    loop.run_until_complete(transaction.start())
    try:
        new_id = loop.run_until_complete(
            conn.fetchval(
                "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, location_precision,"
                " source, source_id, geom) VALUES ($1, 'occurrence', '{tin}', '{main}', 'exact', 'synthetic',"
                " 'cql2-test', ST_SetSRID(ST_MakePoint(-6, 42.5), 4326)) RETURNING id",
                nasty,
            )
        )
        assert run("name = 'x''; DROP TABLE deposits; --'") == {new_id}
    finally:
        loop.run_until_complete(transaction.rollback())
    assert len(run("TRUE")) == len(deposits)


@pytest.mark.parametrize(
    "filter, lang",
    [
        ("name = 'x'; DROP TABLE deposits; --", "cql2-text"),
        ("\"name = 'x' OR 1=1; --\" = 'x'", "cql2-text"),
        ('{"op": "=", "args": [{"property": "d.id) OR (1=1"}, 1]}', "cql2-json"),
        ('{"op": "= 1 OR 1 =", "args": [{"property": "name"}, "x"]}', "cql2-json"),
    ],
)
def test_injection_through_syntax_or_names_is_refused(run, filter, lang):
    with pytest.raises(InvalidParameter) as error:
        run(filter, lang)
    assert error.value.parameter == "filter"


# -- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filter, reason",
    [
        ("name = ", "not valid cql2-text: at line 1, column 8"),
        ("S_INTERSECTS(geometry, POINT EMPTY)", "not valid cql2-text"),
        ("", "empty"),
        ("colour = 'red'", "unknown property 'colour'"),
        ("depth_top = 1", "unknown property 'depth_top'; did you mean 'depth_top_m'?"),
        ("S_INTERSECT(geometry, POINT(1 2))", "did you mean S_INTERSECTS?"),
        ("depth_top_m = 'deep'", "compares 'depth_top_m' (number) with \"deep\" (string)"),
        ("retrieved_at > '2020-01-01'", "compares 'retrieved_at' (date)"),
        ("retrieved_at = DATE('2020-02-30')", "bad date '2020-02-30'"),
        ("name = NULL", "NULL cannot be compared"),
        ("name LIKE mine_status", "pattern must be a string literal"),
        ("depth_top_m LIKE '1%'", "LIKE needs a string"),
        ("commodity > 'tin'", "does not apply to the list property"),
        ("geometry = POINT(1 2)", "S_INTERSECTS, S_EQUALS"),
        ("S_INTERSECTS(name, POINT(1 2))", "needs geometries, 'name' is a string"),
        (
            "S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 1 0, 0 1, 0 0)))",
            "invalid geometry: Self-intersection",
        ),
        ("S_INTERSECTS(geometry, BBOX(-5, 42, -7, 43))", "minimum above its maximum"),
        ("S_INTERSECTS(geometry, POLYGON((-7 42, -5 42, -5 43, -7 43)))", "ring is not closed"),
        ("S_INTERSECTS(geometry, POINT(200 42))", "coordinates out of range"),
        ("S_INTERSECTS(geometry, BBOX(-7, -95, -5, 43))", "coordinates out of range"),
        ("T_AFTER(name, DATE('2020-01-01'))", "needs dates or timestamps"),
        ("levenshtein(name, 'x') = 1", "unsupported operator or function 'levenshtein'"),
        ("name + 1 = 2", "arithmetic + needs numbers"),
        ("depth_top_m", "is not a condition"),
        ("A_CONTAINS(name, ('a'))", "needs lists"),
    ],
)
def test_bad_filters_are_invalid_parameters_naming_filter(run, filter, reason):
    with pytest.raises(InvalidParameter) as error:
        run(filter)
    assert error.value.parameter == "filter"
    assert reason in error.value.detail
    assert error.value.allowed


@pytest.mark.parametrize(
    "filter",
    [
        '{"op": "=", "args": [{"property": "name"}]}',
        '{"op": "isNull", "args": {"bogus": 1}}',
        "not json",
        '{"op":"s_within","args":[{"property":"geometry"},{"type":"GeometryCollection","coordinates":[],"geometries":[]}]}',
        '{"op":"s_intersects","args":[{"property":"geometry"},{"type":"Point","coordinates":[]}]}',
        '{"op":"=","args":[{"property":"retrieved_at"},{"timestamp":"yesterday"}]}',
        '{"op":"s_intersects","args":[{"property":"geometry"},{"bbox":["a",1,2,3]}]}',
    ],
)
def test_bad_cql2_json_is_an_invalid_parameter(run, filter):
    with pytest.raises(InvalidParameter) as error:
        run(filter, "cql2-json")
    assert error.value.parameter == "filter"


def test_unknown_language_and_crs_name_their_own_parameters(run):
    with pytest.raises(InvalidParameter) as error:
        run("name = 'x'", "ecql")
    assert error.value.parameter == "filter-lang"
    with pytest.raises(InvalidParameter) as error:
        run("S_INTERSECTS(geometry, POINT(1 2))", crs="EPSG:2062")
    assert error.value.parameter == "filter-crs"


# -- queryables and conformance ---------------------------------------------------------------------


def test_queryables_schema_describes_every_field():
    fields = {
        **DEPOSIT_FIELDS,
        "mine_status": Queryable(
            "mine_status", "d.mine_status", "string", "Status", enum=("operating", "closed")
        ),
    }
    schema = queryables_schema("deposits", "Mineral deposits", fields, "http://127.0.0.1:8000/")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "http://127.0.0.1:8000/collections/deposits/queryables"
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    props = schema["properties"]
    assert set(props) == set(fields)
    assert props["depth_top_m"]["type"] == "number" and props["id"]["type"] == "integer"
    assert props["retrieved_at"] == {
        "title": "retrieved_at",
        "description": "Retrieved",
        "type": "string",
        "format": "date",
    }
    assert props["geometry"]["format"] == "geometry-any" and "type" not in props["geometry"]
    assert props["commodity"]["type"] == "array"
    assert props["commodity"]["items"] == {"type": "string", "enum": list(COMMODITY_CODES)}
    assert props["mine_status"]["enum"] == ["operating", "closed"]
    json.dumps(schema)


def test_conformance_declares_what_qgis_needs_for_filter_push_down():
    qgis = {
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    }
    assert qgis <= set(CONFORMANCE_CLASSES)
    assert len(set(CONFORMANCE_CLASSES)) == len(CONFORMANCE_CLASSES)
    assert not any(
        c.endswith(("/functions", "queryables-query-parameters")) for c in CONFORMANCE_CLASSES
    )


def test_deep_parentheses_do_not_crash_the_parser(run):
    # 2,000 nested parentheses overflow an 8 MB stack inside the Rust parser; they add no
    # depth to the parsed tree, so once parsed this is an ordinary filter.
    assert run("(" * 20_000 + "name = 'x'" + ")" * 20_000) == set()


@pytest.mark.parametrize(
    "filter, reason",
    [
        ("NOT " * 5_000 + "name = 'x'", "nested too deeply"),
        ("depth_top_m = " + " + ".join(["1"] * 5_000), "nested too deeply"),
        ("name = '" + "x" * 70_000 + "'", "characters"),
    ],
)
def test_pathological_filters_are_refused_without_crashing_the_process(run, filter, reason):
    with pytest.raises(InvalidParameter) as error:
        run(filter)
    assert error.value.parameter == "filter" and reason in error.value.reason


@pytest.mark.parametrize(
    "filter, reason",
    [
        (
            "mine_status = 'operatin'",
            "'operatin' is not a value of 'mine_status'; did you mean 'operating'?",
        ),
        ("'Operating' <> mine_status", "'Operating' is not a value of 'mine_status'"),
        ("commodity = 'wolfram'", "'wolfram' is not a value of 'commodity'"),
        ("commodity IN ('tungsten', 'litium')", "did you mean 'lithium'?"),
        ("mine_status IN ('closed', 'shut')", "'shut' is not a value of 'mine_status'"),
    ],
)
def test_a_literal_outside_a_code_list_is_refused_not_silently_unmatched(run, filter, reason):
    with pytest.raises(InvalidParameter) as error:
        run(filter)
    assert reason in error.value.reason
    assert "operating" in error.value.allowed or "tungsten" in error.value.allowed


def test_codes_in_a_code_list_filter_normally(run, deposits):
    assert run("mine_status IN ('closed', 'abandoned')") == where(
        deposits, lambda r: r.mine_status in ("closed", "abandoned")
    )
    assert run("CASEI(mine_status) = CASEI('CLOSED')") == where(
        deposits, lambda r: r.mine_status == "closed"
    )


def test_arithmetic_the_database_cannot_compute_is_a_400_naming_the_filter(client):
    response = client.get(
        "/collections/deposits/items", params={"filter": "depth_top_m * 1e300 * 1e300 > 1"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["invalid_params"][0]["name"] == "filter"
