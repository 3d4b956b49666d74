"""veta import: every file is validated before anything is written, lands where pyproj says,
and loading the same file again changes nothing. Each test uses its own `source`."""

from __future__ import annotations

import json
import zipfile
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from pyproj.transformer import TransformerGroup
from shapely.geometry import Point, box
from sqlalchemy import text

from geo.core.errors import InvalidParameter
from geo.io.importing.pipeline import ImportOptions, import_file

DATA = Path(__file__).parent / "data"
MUNICIPALITIES = DATA / "cyl_municipalities_unrepaired.geojson"
GEOD = Geod(ellps="GRS80")
# Known places of León and Castilla y León (approximate positions), lon/lat ETRS89.
PLACES = {
    "medulas": (-6.7708, 42.4694),  # Las Médulas, in UTM zone 29
    "leon": (-5.5671, 42.5987),  # León city, zone 30
    "ponferrada": (-6.5983, 42.5461),
    "penadelseo": (-6.8400, 42.5600),  # Peña del Seo tungsten (Corullón)
    "villablino": (-6.3190, 42.9390),
}

MUNICIPALITY_ZONES = """
layer = "protection_zones"
[fields]
source_id = "id"
name = "name"
[constants]
designation_scheme = "other"
designation = "municipality (import test)"
legal_effect = "informative"
"""

DEPOSIT_CSV_MAPPING = """
layer = "deposits"
[geometry]
x = "easting"
y = "northing"
[fields]
source_id = "ref"
name = "site"
commodities = "metals"
occurrence_type = "kind"
[constants]
location_precision = "approximate"
"""


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def stored(engine, table: str, source: str) -> dict[str, shapely.Geometry]:
    """source_id -> the geometry exactly as PostGIS holds it."""
    return {
        k: shapely.from_wkb(bytes(g))
        for k, g in rows(
            engine, f"SELECT source_id, ST_AsBinary(geom) FROM {table} WHERE source = :s", s=source
        )
    }


# Every source here starts with 't-'; the records go when the module ends (see conftest.py).
pytestmark = pytest.mark.usefixtures("remove_test_records")


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


def invalid_municipalities() -> dict[str, str]:
    """The fixture's invalid features, found independently with shapely: id -> reason."""
    frame = gpd.read_file(MUNICIPALITIES)
    bad = frame[~frame.is_valid]
    return dict(zip(bad["id"], shapely.is_valid_reason(bad.geometry.values), strict=True))


# --- invalid geometries -------------------------------------------------------------------


def test_unrepaired_municipalities_are_refused_with_one_report_line_per_invalid_feature(
    cli, engine, tmp_path
):
    mapping = write(tmp_path / "m.toml", MUNICIPALITY_ZONES)
    report_path = tmp_path / "report.json"
    code, output = cli(
        "import",
        MUNICIPALITIES,
        "--mapping",
        mapping,
        "--source",
        "t-muni-refused",
        "--report",
        report_path,
    )
    assert code == 1, output
    report = json.loads(report_path.read_text())
    expected = invalid_municipalities()
    assert len(expected) == 14
    assert report["outcome"] == "refused"
    assert {p["source_id"] for p in report["problems"]} == set(expected)
    assert len(report["problems"]) == 14
    for problem in report["problems"]:
        assert problem["field"] == "geometry"
        assert expected[problem["source_id"]] in problem["reason"]
        assert isinstance(problem["row"], int)
    assert "prov_id" in report["ignored_columns"]
    assert (
        rows(engine, "SELECT count(*) FROM protection_zones WHERE source = 't-muni-refused'")[0][0]
        == 0
    )
    ((outcome, rejected),) = rows(
        engine, "SELECT outcome, rejected FROM import_runs WHERE source = 't-muni-refused'"
    )
    assert (outcome, rejected) == ("refused", 14)


def test_repair_loads_every_municipality_and_reports_what_it_did(engine, tmp_path):
    mapping = write(tmp_path / "m.toml", MUNICIPALITY_ZONES)
    report = import_file(
        engine,
        ImportOptions(MUNICIPALITIES, mapping=str(mapping), source="t-muni-repaired", repair=True),
    )
    assert report.outcome == "written" and report.inserted == 50 and not report.problems
    assert {r.source_id for r in report.repairs} == set(invalid_municipalities())
    source = gpd.read_file(MUNICIPALITIES).set_index("id")
    db = stored(engine, "protection_zones", "t-muni-repaired")
    assert len(db) == 50
    for code, geom in db.items():
        assert geom.is_valid and geom.geom_type == "MultiPolygon"
        # The stored outline covers what shapely's make_valid makes of the original, exactly.
        expected = shapely.make_valid(source.loc[code, "geometry"])
        assert shapely.symmetric_difference(geom, expected).area < 1e-12, code
        assert abs(GEOD.geometry_area_perimeter(geom)[0]) == pytest.approx(
            abs(GEOD.geometry_area_perimeter(expected)[0]), rel=1e-9
        )


def test_skip_invalid_writes_the_good_rows_and_every_row_is_accounted_for(engine, tmp_path):
    mapping = write(tmp_path / "m.toml", MUNICIPALITY_ZONES)
    report = import_file(
        engine,
        ImportOptions(
            MUNICIPALITIES, mapping=str(mapping), source="t-muni-skip", skip_invalid=True
        ),
    )
    assert report.outcome == "written"
    assert report.rows_read == report.loaded + report.rejected == 50
    assert (report.inserted, report.rejected) == (36, 14)
    assert set(stored(engine, "protection_zones", "t-muni-skip")).isdisjoint(
        invalid_municipalities()
    )


# --- coordinate systems ---------------------------------------------------------------------


def test_geopackage_in_utm30_lands_where_pyproj_says(engine, tmp_path):
    to_utm = Transformer.from_crs(4258, 25830, always_xy=True)
    names = list(PLACES)
    xy = [to_utm.transform(*PLACES[n]) for n in names]
    frame = gpd.GeoDataFrame(
        {
            "source_id": names,
            "name": names,
            "commodities": ["W", "Au;Ag", "coal", "wolfram", "Sn, Li"],
            "occurrence_type": "occurrence",
            "location_precision": "approximate",
        },
        geometry=[Point(x, y) for x, y in xy],
        crs="EPSG:25830",
    )
    path = tmp_path / "deposits.gpkg"
    frame.to_file(path, layer="deposits")
    report = import_file(engine, ImportOptions(path, layer="deposits", source="t-gpkg-25830"))
    assert report.outcome == "written" and report.inserted == 5, report.problems
    assert report.crs["crs"] == "EPSG:25830" and report.crs["from"] == "file"
    db = stored(engine, "deposits", "t-gpkg-25830")
    for name in names:
        lon, lat = PLACES[name]
        assert db[name].x == pytest.approx(lon, abs=1e-9) and db[name].y == pytest.approx(
            lat, abs=1e-9
        )
    commodities = dict(
        rows(engine, "SELECT source_id, commodities FROM deposits WHERE source = 't-gpkg-25830'")
    )
    assert commodities["penadelseo"] == ["tungsten"]  # 'wolfram' is tungsten
    assert commodities["leon"] == ["gold", "silver"]
    assert commodities["villablino"] == ["tin", "lithium"]


def test_zipped_natura2000_shapefile_in_laea_lands_where_pyproj_says(engine, tmp_path):
    """The EEA preset: SITECODE/SITENAME/SITETYPE in EPSG:3035, conditional zones."""
    to_laea = Transformer.from_crs(4258, 3035, always_xy=True)
    sites = []
    for i, (name, (lon, lat)) in enumerate(PLACES.items()):
        x, y = to_laea.transform(lon, lat)
        sites.append(
            {
                "SITECODE": f"ES41{i:05d}",
                "SITENAME": name.title(),
                "SITETYPE": "ABC"[i % 3],
                "geometry": box(x - 2000, y - 1500, x + 2500, y + 1000),
            }
        )
    frame = gpd.GeoDataFrame(sites, crs="EPSG:3035")
    folder = tmp_path / "natura"
    folder.mkdir()
    frame.to_file(folder / "Natura2000_end2021.shp")
    archive = tmp_path / "natura.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in folder.iterdir():
            z.write(part, part.name)
    report = import_file(
        engine, ImportOptions(archive, mapping="preset:natura2000", source="t-n2k")
    )
    assert report.outcome == "written" and report.inserted == 5, report.problems
    to_lonlat = Transformer.from_crs(3035, 4258, always_xy=True)
    db = stored(engine, "protection_zones", "t-n2k")
    for site in sites:
        expected = shapely.transform(
            site["geometry"], lambda c: np.column_stack(to_lonlat.transform(c[:, 0], c[:, 1]))
        )
        assert shapely.hausdorff_distance(db[site["SITECODE"]], expected) < 1e-9
    # The unzipped folder is read the same way.
    again = import_file(
        engine, ImportOptions(folder, mapping="preset:natura2000", source="t-n2k", dry_run=True)
    )
    assert again.rows_read == 5 and not again.problems
    zones = {
        r[0]: r[1:]
        for r in rows(
            engine,
            "SELECT source_id, designation, designation_scheme, legal_effect "
            "FROM protection_zones WHERE source = 't-n2k'",
        )
    }
    assert zones["ES4100000"] == ("SPA", "natura2000", "conditional")
    assert zones["ES4100001"] == ("SCI/SAC", "natura2000", "conditional")
    assert zones["ES4100002"] == ("SPA and SCI/SAC", "natura2000", "conditional")


def test_csv_with_utm_coordinates_loads_with_a_mapping_and_crs(cli, engine, tmp_path):
    to_utm29 = Transformer.from_crs(4258, 25829, always_xy=True)
    lines = ["ref;site;metals;kind;easting;northing"]
    for name in ("medulas", "penadelseo", "ponferrada"):
        x, y = to_utm29.transform(*PLACES[name])
        lines.append(f"{name};{name.title()};Au, W;prospect;{x!r};{y!r}")
    csv = write(tmp_path / "company.csv", "\n".join(lines) + "\n")
    mapping = write(tmp_path / "company.toml", DEPOSIT_CSV_MAPPING)
    code, output = cli(
        "import", csv, "--mapping", mapping, "--crs", "EPSG:25829", "--source", "t-csv-utm"
    )
    assert code == 0, output
    db = stored(engine, "deposits", "t-csv-utm")
    for name in ("medulas", "penadelseo", "ponferrada"):
        lon, lat = PLACES[name]
        assert (db[name].x, db[name].y) == pytest.approx((lon, lat), abs=1e-9)


def test_a_file_without_crs_whose_coordinates_are_not_lonlat_is_refused(cli, engine, tmp_path):
    csv = write(
        tmp_path / "utm.csv",
        "ref;site;metals;kind;easting;northing\na;A;Au;prospect;700000;4700000\n",
    )
    mapping = write(tmp_path / "m.toml", DEPOSIT_CSV_MAPPING)
    code, output = cli("import", csv, "--mapping", mapping, "--source", "t-no-crs")
    assert code == 2
    assert "--crs" in output and "not lon/lat" in output
    assert rows(engine, "SELECT count(*) FROM deposits WHERE source = 't-no-crs'")[0][0] == 0


def test_ed50_lands_within_a_metre_of_its_etrs89_position(engine, tmp_path):
    """ED50 / UTM 30N coordinates made from known ETRS89 positions with PROJ's ED50→ETRS89
    transformation for León; the import must undo the datum shift (~100+ m), not ignore it."""
    # EPSG's Helmert for north-west Spain (León lies north of 41°30'N and west of 4°30'W),
    # picked here by its area of use; the official IGN grid is not installed offline.
    group = TransformerGroup(4258, 23030, always_xy=True)
    to_ed50 = next(
        t
        for t in group.transformers
        if t.area_of_use and t.area_of_use.name.startswith("Spain - onshore mainland north of")
    )
    names = ["leon", "villablino", "ponferrada"]
    xy = [to_ed50.transform(*PLACES[n]) for n in names]
    frame = gpd.GeoDataFrame(
        {
            "source_id": names,
            "name": names,
            "commodities": "coal",
            "occurrence_type": "occurrence",
            "location_precision": "exact",
        },
        geometry=[Point(p) for p in xy],
        crs="EPSG:23030",
    )
    path = tmp_path / "old.gpkg"
    frame.to_file(path)
    report = import_file(engine, ImportOptions(path, layer="deposits", source="t-ed50"))
    assert report.outcome == "written", report.problems
    assert "ED50 to ETRS89" in report.crs["transformation"]
    db = stored(engine, "deposits", "t-ed50")
    naive = Transformer.from_crs(
        "+proj=utm +zone=30 +ellps=intl", "+proj=longlat +ellps=intl", always_xy=True
    )
    for name, (x, y) in zip(names, xy, strict=True):
        lon, lat = PLACES[name]
        _, _, error = GEOD.inv(lon, lat, db[name].x, db[name].y)
        assert error < 1.0, (name, error, report.crs)
        # Without a datum shift the point would be this far off: the test can tell.
        _, _, unshifted = GEOD.inv(lon, lat, *naive.transform(x, y))
        assert unshifted > 100


def test_swapped_and_far_away_positions_are_reported_per_row(engine, tmp_path):
    lon, lat = PLACES["leon"]
    csv = write(
        tmp_path / "bad_positions.csv",
        "ref;site;metals;kind;lon;lat\n"
        f"ok;Fine;Au;prospect;{lon};{lat}\n"
        f"swapped;Swapped;Au;prospect;{lat};{lon}\n"
        "berlin;Far;Au;prospect;13.40;52.52\n",
    )
    mapping = write(
        tmp_path / "m.toml",
        DEPOSIT_CSV_MAPPING.replace('"easting"', '"lon"').replace('"northing"', '"lat"'),
    )
    report = import_file(engine, ImportOptions(csv, mapping=str(mapping), source="t-positions"))
    assert report.outcome == "refused"
    by_id = {p.source_id: p for p in report.problems}
    assert set(by_id) == {"swapped", "berlin"}
    assert "swapped" in by_id["swapped"].reason and by_id["swapped"].row == 2
    assert "far outside" in by_id["berlin"].reason and by_id["berlin"].row == 3


def test_a_point_in_lisbon_is_far_outside_spain_though_inside_its_box(engine, tmp_path):
    csv = write(
        tmp_path / "lisbon.csv",
        "ref;site;metals;kind;lon;lat\n"
        "lisbon;Lisboa;Au;prospect;-9.1393;38.7223\n"
        "tenerife;Tenerife;Au;prospect;-16.55;28.30\n",
    )
    mapping = write(
        tmp_path / "m.toml",
        DEPOSIT_CSV_MAPPING.replace('"easting"', '"lon"').replace('"northing"', '"lat"'),
    )
    report = import_file(
        engine, ImportOptions(csv, mapping=str(mapping), source="t-lisbon", dry_run=True)
    )
    assert [(p.source_id, "far outside Spain" in p.reason) for p in report.problems] == [
        ("lisbon", True)
    ]


@pytest.mark.parametrize(
    "content, reason",
    [
        ("", "is empty"),
        ("ref;site;metals;kind;lon;lat\n", "has no rows to import"),
    ],
)
def test_empty_and_header_only_files_are_refused_with_a_clear_message(
    cli, engine, tmp_path, content, reason
):
    csv = write(tmp_path / "nothing.csv", content)
    code, output = cli("import", csv, "--layer", "deposits", "--source", "t-nothing")
    assert code == 2 and reason in " ".join(output.split()) and "Traceback" not in output, output
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM import_runs WHERE source = 't-nothing'")
            ).scalar()
            == 0
        )


# --- all or nothing, and the report ---------------------------------------------------------


def test_a_file_with_one_bad_row_writes_nothing_and_the_report_names_the_row(cli, engine, tmp_path):
    to_utm = Transformer.from_crs(4258, 25830, always_xy=True)
    x, y = to_utm.transform(*PLACES["leon"])
    good = [f"d{i};Deposit {i};W;prospect;{x + 100 * i};{y}" for i in range(5)]
    bad = f"d5;Deposit 5;tungstne;prospect;{x};{y}"
    csv = write(
        tmp_path / "one_bad.csv",
        "\n".join(["ref;site;metals;kind;easting;northing", *good, bad]) + "\n",
    )
    mapping = write(tmp_path / "m.toml", DEPOSIT_CSV_MAPPING)
    report_path = tmp_path / "r.json"
    code, output = cli(
        "import",
        csv,
        "--mapping",
        mapping,
        "--crs",
        "EPSG:25830",
        "--source",
        "t-one-bad",
        "--report",
        report_path,
    )
    assert code == 1
    (problem,) = json.loads(report_path.read_text())["problems"]
    assert (problem["row"], problem["source_id"], problem["field"]) == (6, "d5", "commodities")
    assert "did you mean 'tungsten'" in problem["reason"]
    assert "d5" in output and "tungstne" in output
    assert rows(engine, "SELECT count(*) FROM deposits WHERE source = 't-one-bad'")[0][0] == 0


def test_every_kind_of_row_problem_is_reported_with_field_and_reason(engine, tmp_path):
    lon, lat = PLACES["leon"]
    csv = write(
        tmp_path / "problems.csv",
        "ref;site;metals;kind;lon;lat\n"
        f"a;Good;Au;prospect;{lon};{lat}\n"
        f"a;Duplicate id;Au;prospect;{lon};{lat}\n"
        f"b;;Au;prospect;{lon};{lat}\n"  # no name: allowed (INSPIRE voidable)
        f"c;Bad kind;Au;prospeckt;{lon};{lat}\n"  # code list near miss
        f"d;No place;Au;prospect;;\n"  # null geometry
        f"e;Bad number;Au;prospect;abc;{lat}\n",
    )
    mapping = write(
        tmp_path / "m.toml",
        DEPOSIT_CSV_MAPPING.replace('"easting"', '"lon"').replace('"northing"', '"lat"'),
    )
    report = import_file(
        engine, ImportOptions(csv, mapping=str(mapping), source="t-problems", skip_invalid=True)
    )
    problems = {(p.row, p.field): p.reason for p in report.problems}
    assert "duplicate id: row 1" in problems[(2, "source_id")]
    assert not [p for p in report.problems if p.row == 3]
    assert "did you mean 'prospect'" in problems[(4, "occurrence_type")]
    assert "no geometry" in problems[(5, "geometry")]
    assert "not a coordinate pair" in problems[(6, "lon/lat")]
    assert (6, "geometry") not in problems  # the bad cell is said once
    assert report.rows_read == 6 == report.loaded + report.rejected
    assert report.inserted == 2


def test_importing_the_same_file_twice_changes_nothing_and_a_changed_row_updates(engine, tmp_path):
    to_utm = Transformer.from_crs(4258, 25830, always_xy=True)
    x, y = to_utm.transform(*PLACES["leon"])
    mapping = write(tmp_path / "m.toml", DEPOSIT_CSV_MAPPING)

    def csv(rows_: list[str]) -> Path:
        return write(
            tmp_path / "d.csv", "\n".join(["ref;site;metals;kind;easting;northing", *rows_]) + "\n"
        )

    original = [f"r{i};Deposit {i};W;prospect;{x + 250 * i};{y}" for i in range(4)]
    options = ImportOptions(csv(original), mapping=str(mapping), crs="EPSG:25830", source="t-twice")
    first = import_file(engine, options)
    assert (first.inserted, first.updated, first.unchanged) == (4, 0, 0)
    before = dict(
        rows(engine, "SELECT source_id, updated_at FROM deposits WHERE source = 't-twice'")
    )

    again = import_file(engine, options)
    assert (again.inserted, again.updated, again.unchanged, again.deleted) == (0, 0, 4, 0)
    assert (
        dict(rows(engine, "SELECT source_id, updated_at FROM deposits WHERE source = 't-twice'"))
        == before
    )

    changed = [*original[:3], f"r3;Deposit 3 renamed;W;prospect;{x + 750};{y}"]
    third = import_file(
        engine,
        ImportOptions(csv(changed), mapping=str(mapping), crs="EPSG:25830", source="t-twice"),
    )
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, 3)
    after = dict(
        rows(engine, "SELECT source_id, updated_at FROM deposits WHERE source = 't-twice'")
    )
    assert after["r3"] > before["r3"] and all(after[k] == before[k] for k in ("r0", "r1", "r2"))

    fourth = import_file(
        engine,
        ImportOptions(
            csv(changed[:2]),
            mapping=str(mapping),
            crs="EPSG:25830",
            source="t-twice",
            replace_source=True,
        ),
    )
    assert (fourth.unchanged, fourth.deleted) == (2, 2)
    assert sorted(stored(engine, "deposits", "t-twice")) == ["r0", "r1"]
    runs = rows(
        engine, "SELECT outcome, checksum FROM import_runs WHERE source = 't-twice' ORDER BY id"
    )
    assert [r[0] for r in runs] == ["written"] * 4
    assert runs[0][1] == runs[1][1] != runs[2][1]


def test_dry_run_validates_and_writes_nothing(engine, tmp_path):
    mapping = write(tmp_path / "m.toml", MUNICIPALITY_ZONES)
    report = import_file(
        engine,
        ImportOptions(
            MUNICIPALITIES, mapping=str(mapping), source="t-dry", repair=True, dry_run=True
        ),
    )
    assert report.outcome == "dry_run" and len(report.repairs) == 14
    assert rows(engine, "SELECT count(*) FROM protection_zones WHERE source = 't-dry'")[0][0] == 0


# --- presets --------------------------------------------------------------------------------


def test_mrds_preset_maps_commodity_columns_to_importance_and_development_status(engine, tmp_path):
    (lon1, lat1), (lon2, lat2) = PLACES["penadelseo"], PLACES["medulas"]
    csv = write(
        tmp_path / "mrds.csv",
        "dep_id,url,site_name,latitude,longitude,commod1,commod2,commod3,dev_stat\n"
        f'10001,https://mrdata.usgs.gov/mrds/10001,Pena del Seo,{lat1},{lon1},Tungsten,"Tin, Bismuth",Gold,Past Producer\n'
        f"10002,https://mrdata.usgs.gov/mrds/10002,Las Medulas,{lat2},{lon2},Gold,,,Occurrence\n",
    )
    report = import_file(engine, ImportOptions(csv, mapping="preset:mrds", source="t-mrds"))
    assert report.outcome == "written" and report.inserted == 2, report.problems
    found = {
        r[0]: r[1:]
        for r in rows(
            engine,
            "SELECT source_id, commodities, commodity_importance, occurrence_type, "
            "mine_status, location_precision FROM deposits WHERE source = 't-mrds'",
        )
    }
    assert found["10001"] == (
        ["tungsten", "tin", "bismuth", "gold"],
        ["main", "by_product", "by_product", "trace"],
        "mineralDeposit",
        "closed",
        "approximate",
    )
    assert found["10002"] == (["gold"], ["main"], "occurrence", None, "approximate")
    db = stored(engine, "deposits", "t-mrds")
    assert (db["10001"].x, db["10001"].y) == (lon1, lat1)


def test_miteco_preset_reads_the_catastro_minero_export(engine):
    report = import_file(
        engine,
        ImportOptions(
            DATA / "catastro_minero_sample.csv",
            mapping="preset:miteco",
            source="t-miteco",
            dry_run=True,
        ),
    )
    assert report.outcome == "dry_run" and report.layer == "permits"
    assert report.rows_read == 4 and not report.problems


def test_an_unknown_preset_or_mapping_field_is_refused_naming_what_is_allowed(engine, tmp_path):
    with pytest.raises(InvalidParameter, match="preset:natura2000"):
        import_file(engine, ImportOptions(MUNICIPALITIES, mapping="preset:natura", source="t-x"))
    mapping = write(
        tmp_path / "m.toml", MUNICIPALITY_ZONES.replace('name = "name"', 'nmae = "name"')
    )
    with pytest.raises(InvalidParameter, match="not a field of protection_zones"):
        import_file(engine, ImportOptions(MUNICIPALITIES, mapping=str(mapping), source="t-x"))


def test_a_missing_or_unknown_layer_is_refused_saying_which(engine):
    with pytest.raises(InvalidParameter) as missing:
        import_file(engine, ImportOptions(MUNICIPALITIES, source="t-x"))
    assert missing.value.detail == (
        "--layer: no layer given (allowed: deposits, permits, protection_zones, admin_areas, "
        "or layer in the mapping)"
    )
    with pytest.raises(InvalidParameter) as unknown:
        import_file(engine, ImportOptions(MUNICIPALITIES, layer="zones", source="t-x"))
    assert unknown.value.detail.startswith("--layer: unknown layer 'zones' (allowed: deposits")


def test_admin_areas_with_an_unknown_parent_are_reported_per_row(engine, tmp_path):
    """Municipalities as admin areas under a province code that does not exist; dry run, so the
    sample's areas are untouched."""
    mapping = write(
        tmp_path / "areas.toml",
        """
layer = "admin_areas"
[fields]
code = "id"
name = "name"
parent_code = "prov_id"
[constants]
level = "municipality"
""",
    )
    frame = gpd.read_file(MUNICIPALITIES)
    frame.loc[frame["id"] == "24073", "prov_id"] = "99"
    frame["id"] = "T" + frame["id"]
    path = tmp_path / "areas.gpkg"
    frame.to_file(path)
    report = import_file(
        engine,
        ImportOptions(path, mapping=str(mapping), source="t-areas", repair=True, dry_run=True),
    )
    parents = [p for p in report.problems if p.field == "parent_code"]
    known = {r[0] for r in rows(engine, "SELECT code FROM admin_areas")}
    expected = {
        f"T{i}"
        for i, prov in zip(gpd.read_file(MUNICIPALITIES)["id"], frame["prov_id"], strict=True)
        if prov not in known
    }
    assert {p.source_id for p in parents} == expected and "T24073" in expected


def test_kml_placemarks_load_as_zones(engine, tmp_path):
    lon, lat = PLACES["leon"]
    frame = gpd.GeoDataFrame(
        {"Name": ["Zona A", "Zona B"], "Description": ["first", "second"]},
        geometry=[
            box(lon, lat, lon + 0.01, lat + 0.01),
            box(lon - 0.02, lat, lon - 0.01, lat + 0.01),
        ],
        crs="EPSG:4326",
    )
    path = tmp_path / "zones.kml"
    frame.to_file(path, driver="KML")
    mapping = write(
        tmp_path / "kml.toml",
        """
layer = "protection_zones"
[fields]
source_id = "Name"
name = "Name"
remarks = "description"
[constants]
designation_scheme = "other"
designation = "KML import test"
legal_effect = "informative"
""",
    )
    report = import_file(engine, ImportOptions(path, mapping=str(mapping), source="t-kml"))
    assert report.inserted == 2, report.problems
    assert dict(
        rows(engine, "SELECT source_id, remarks FROM protection_zones WHERE source = 't-kml'")
    ) == {"Zona A": "first", "Zona B": "second"}
    db = stored(engine, "protection_zones", "t-kml")
    assert shapely.hausdorff_distance(db["Zona A"], box(lon, lat, lon + 0.01, lat + 0.01)) < 1e-9


def test_wdpa_preset_turns_iucn_categories_into_legal_effects_and_years_into_dates(
    engine, tmp_path
):
    lon, lat = PLACES["villablino"]
    frame = gpd.GeoDataFrame(
        {
            "WDPAID": [555001, 555002],
            "NAME": ["Core", "Landscape"],
            "DESIG_ENG": ["National Park", "Biosphere Reserve"],
            "IUCN_CAT": ["II", "Not Reported"],
            "STATUS_YR": [1918, 2003],
        },
        geometry=[
            box(lon, lat, lon + 0.05, lat + 0.05),
            box(lon - 0.1, lat - 0.1, lon + 0.1, lat + 0.1),
        ],
        crs="EPSG:4326",
    )
    path = tmp_path / "wdpa.gpkg"
    frame.to_file(path)
    report = import_file(engine, ImportOptions(path, mapping="preset:wdpa", source="t-wdpa"))
    assert report.inserted == 2, report.problems
    found = {
        r[0]: r[1:]
        for r in rows(
            engine,
            "SELECT source_id, name, designation, legal_effect, valid_from "
            "FROM protection_zones WHERE source = 't-wdpa'",
        )
    }
    assert found["555001"] == ("Core", "National Park", "exclusion", date(1918, 1, 1))
    assert found["555002"] == ("Landscape", "Biosphere Reserve", "informative", date(2003, 1, 1))


def test_numeric_geojson_feature_ids_are_read_as_the_fid_column(engine, tmp_path):
    """GDAL turns a Feature's numeric "id" into the feature id: it must not vanish."""
    lon, lat = PLACES["leon"]
    path = write(
        tmp_path / "ids.geojson",
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": 41,
                        "properties": {"n": "a"},
                        "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    },
                    {
                        "type": "Feature",
                        "id": 42,
                        "properties": {"n": "b"},
                        "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    },
                ],
            }
        ),
    )
    mapping = write(
        tmp_path / "m.toml",
        """
layer = "deposits"
[fields]
source_id = "fid"
name = "n"
[constants]
commodities = "W"
occurrence_type = "occurrence"
location_precision = "exact"
""",
    )
    report = import_file(engine, ImportOptions(path, mapping=str(mapping), source="t-fid"))
    assert report.inserted == 2, report.problems
    assert sorted(stored(engine, "deposits", "t-fid")) == ["41", "42"]


def test_a_geopackage_of_points_with_a_missing_and_an_empty_one_is_checked_row_by_row(
    engine, tmp_path
):
    """Plain 2D points are read as coordinates; one odd row sends the whole file through the
    per-geometry checks, which must report it by row and load the rest where pyproj says.
    Depths held as numbers: an infinite one is reported, a missing one stays NULL."""
    to_utm = Transformer.from_crs(4258, 25830, always_xy=True)
    names = list(PLACES)
    points = [Point(to_utm.transform(*PLACES[n])) for n in names]
    odd = {"ponferrada": None, "penadelseo": Point()}
    frame = gpd.GeoDataFrame(
        {
            "source_id": names,
            "name": names,
            "commodities": "W",
            "occurrence_type": "occurrence",
            "location_precision": "exact",
            "depth_top_m": [np.inf, np.nan, 1.0, 2.0, 3.0],
            "fid": [11, 12, 13, 14, 15],
        },
        geometry=[odd.get(n, p) for n, p in zip(names, points, strict=True)],
        crs="EPSG:25830",
    )
    path = tmp_path / "odd.gpkg"
    frame.to_file(path, layer="deposits")
    report = import_file(
        engine, ImportOptions(path, layer="deposits", source="t-odd-points", skip_invalid=True)
    )
    problems = {(p.row, p.source_id, p.field): p.reason for p in report.problems}
    assert problems == {
        (1, "medulas", "depth_top_m"): "not a finite number: inf",
        (3, "ponferrada", "geometry"): "no geometry (null)",
        (4, "penadelseo", "geometry"): "empty geometry",
    }
    assert report.inserted == 2 and report.ignored_columns == ["fid"]
    db = stored(engine, "deposits", "t-odd-points")
    for name in ("leon", "villablino"):
        lon, lat = PLACES[name]
        assert db[name].x == pytest.approx(lon, abs=1e-9) and db[name].y == pytest.approx(
            lat, abs=1e-9
        )
    depths = dict(
        rows(engine, "SELECT source_id, depth_top_m FROM deposits WHERE source = 't-odd-points'")
    )
    assert depths == {"leon": None, "villablino": 3.0}


def test_csv_cells_are_read_as_written_decimal_commas_wkt_and_bad_cells_per_row(engine, tmp_path):
    """x/y cells with a decimal comma or spaces are numbers; a cell that is not one, or a lone
    blank, is a problem of its row; WKT that GEOS cannot parse is reported with GEOS's reason."""
    lon, lat = PLACES["leon"]
    comma = f"{lon}".replace(".", ",")
    xy = write(
        tmp_path / "xy.csv",
        "ref;site;metals;kind;lon;lat\n"
        f"a;Comma;Au;prospect;{comma};{lat}\n"
        f"b;Spaces;Au;prospect;  {lon} ; {lat} \n"
        f"c;Lone blank;Au;prospect;{lon};\n"
        f"d;Infinite;Au;prospect;inf;{lat}\n",
    )
    mapping = write(
        tmp_path / "m.toml",
        DEPOSIT_CSV_MAPPING.replace('"easting"', '"lon"').replace('"northing"', '"lat"'),
    )
    report = import_file(
        engine, ImportOptions(xy, mapping=str(mapping), source="t-csv-cells", skip_invalid=True)
    )
    # One problem a bad cell: the pair it spoils, not also the geometry it leaves out.
    assert [(p.row, p.field, p.reason) for p in report.problems] == [
        (3, "lon/lat", f"not a coordinate pair: '{lon}', ''"),
        (4, "lon/lat", f"not a coordinate pair: 'inf', '{lat}'"),
    ]
    db = stored(engine, "deposits", "t-csv-cells")
    assert db["a"].equals_exact(Point(lon, lat), 0) and db["b"].equals_exact(Point(lon, lat), 0)

    wkt = write(
        tmp_path / "wkt.csv",
        "ref;site;metals;kind;wkt\n"
        f"a;Point;Au;prospect;POINT ({lon} {lat})\n"
        "b;Broken;Au;prospect;POINT (1\n"
        "c;No place;Au;prospect;\n",
    )
    wkt_mapping = write(
        tmp_path / "w.toml",
        DEPOSIT_CSV_MAPPING.replace('x = "easting"\ny = "northing"', 'wkt = "wkt"'),
    )
    report = import_file(
        engine, ImportOptions(wkt, mapping=str(wkt_mapping), source="t-csv-wkt", skip_invalid=True)
    )
    problems = {(p.row, p.field): p.reason for p in report.problems}
    assert problems[(2, "wkt")].startswith("not WKT: ParseException")
    assert problems[(3, "geometry")] == "no geometry (null)"  # a blank cell: nothing to read
    assert sorted(problems) == [(2, "wkt"), (3, "geometry")]
    assert stored(engine, "deposits", "t-csv-wkt")["a"].equals_exact(Point(lon, lat), 0)


def test_a_csv_that_is_not_utf8_is_refused_before_any_row_is_read(engine, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "ref;site;metals;kind;lon;lat\na;Peña;Au;prospect;-5.5;42.6\n".encode("latin-1")
    )
    mapping = write(
        tmp_path / "m.toml",
        DEPOSIT_CSV_MAPPING.replace('"easting"', '"lon"').replace('"northing"', '"lat"'),
    )
    with pytest.raises(InvalidParameter, match="UTF-8"):
        import_file(engine, ImportOptions(path, mapping=str(mapping), source="t-latin1"))
