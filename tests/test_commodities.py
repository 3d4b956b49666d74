"""The commodity vocabulary: every CGI concept known, real values read and said so, broader
terms finding their narrower commodities on every path, lenient imports, and an upgrade of a
populated database that loses nothing."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pyogrio
import pytest
from alembic import command
from sqlalchemy import text

from geo.core import commodities
from geo.core.settings import PROJECT_ROOT
from geo.io.export_plans import plan_export
from geo.io.exporting import write_export
from geo.io.importing.pipeline import ImportOptions, import_file
from geo.store.db import sync_engine, with_database
from geo.store.migrate import alembic_config, create_database, drop_database, upgrade

CGI_CSV = PROJECT_ROOT / "geo" / "core" / "vocab" / "cgi_commodity_codes.csv"
LEON = (-5.5671, 42.5987)


def _cgi_rows() -> list[dict]:
    with CGI_CSV.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _cgi_below(concept_id: str) -> set[str]:
    """CGI concept ids under a concept, walked from the file's own `broader` column."""
    rows = _cgi_rows()
    found, todo = set(), [concept_id]
    while todo:
        parent = todo.pop()
        for r in rows:
            if parent in [b.strip() for b in r["broader"].split(";")] and r["code"] not in found:
                found.add(r["code"])
                todo.append(r["code"])
    return found


# -- the vocabulary ----------------------------------------------------------------------------


def test_every_cgi_concept_is_a_commodity_with_its_camel_case_code_and_place():
    rows = _cgi_rows()
    assert len(rows) == 308
    by_cgi = {c.cgi_id: c for c in commodities.COMMODITIES if c.cgi_id}
    assert set(by_cgi) == {r["code"] for r in rows}
    code_of_id = {r["code"]: by_cgi[r["code"]].code for r in rows}
    for r in rows:
        c = by_cgi[r["code"]]
        assert c.name == r["label_en"]
        assert c.hierarchy_key == r["hierarchy_key"]
        assert set(c.broader) == {
            code_of_id[b.strip()] for b in r["broader"].split(";") if b.strip()
        }
    assert len(set(commodities.CODES)) == len(commodities.CODES)


@pytest.mark.parametrize(
    "cgi_id, wrong_auto_match, code",
    [
        ("granite", "graphite", "granite"),
        ("coal", "cobalt", "coal"),
        ("iridium", "rubidium", "iridium"),
        ("radium", "uranium", "radium"),
        ("zircon", "zirconia", "zircon"),
        ("sapphire", "sapphirine", "sapphire"),
        ("industrial-material", "industrialMineral", "industrialMaterial"),
        ("sand-and-gravel", "sandAndGravel", "sandAndGravel"),
    ],
)
def test_the_automatic_inspire_alignments_are_not_trusted(cgi_id, wrong_auto_match, code):
    row = next(r for r in _cgi_rows() if r["code"] == cgi_id)
    assert row["inspire_auto_match"] == wrong_auto_match
    assert next(c for c in commodities.COMMODITIES if c.cgi_id == cgi_id).code == code


def test_labels_symbols_and_the_spanish_cgi_spelt_wrongly():
    tin, arsenic = commodities.BY_CODE["tin"], commodities.BY_CODE["arsenic"]
    assert (tin.name_es, tin.symbol) == ("estaño", "Sn")
    assert arsenic.name_es == "arsénico"
    assert commodities.BY_CODE["lithiumOxide"].symbol == "Li2O"  # CGI writes LiO2
    assert commodities.BY_CODE["granite"].name_es == "granito"


def test_eu_critical_and_strategic_flags_cover_the_narrower_concepts():
    for code in (
        "platinum",
        "palladium",
        "dysprosium",
        "lanthanum",
        "tungsten",
        "cokingCoal",
        "fluorite",
        "copper",
        "phosphorous",
        "helium",
    ):
        assert commodities.is_critical(code), code
    for code in ("gold", "silver", "coal", "slate", "granite", "zinc", "tin"):
        assert not commodities.is_critical(code), code
    assert commodities.is_strategic("neodymium") and commodities.is_strategic("platinum")
    assert not commodities.is_strategic("lanthanum")  # a rare earth, but not one for magnets
    assert not commodities.is_critical("no such commodity")


# -- reading real values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, code, how",
    [
        # grades and units around a symbol
        ("% Cu", "copper", "grade"),
        ("%Cu", "copper", "grade"),
        ("g/t Au", "gold", "grade"),
        ("ppm Li", "lithium", "grade"),
        ("0,8 % Sn", "tin", "grade"),
        ("WO3 (%)", "tungsten", "grade"),
        # oxides and compounds
        ("WO3", "tungsten", "oxide"),
        ("Li2O", "lithium", "oxide"),
        ("SnO2", "tin", "oxide"),
        ("U3O8", "uranium", "oxide"),
        ("P2O5", "phosphateRock", "formula"),
        ("K2O", "potash", "formula"),
        # minerals that stand for their commodity
        ("scheelite", "tungsten", "alias"),
        ("wolframite", "tungsten", "alias"),
        ("cassiterite", "tin", "alias"),
        ("spodumene", "lithium", "alias"),
        ("lepidolite", "lithium", "alias"),
        ("chromite", "chromium", "alias"),
        ("halite", "salt", "alias"),
        # Spanish names, case and accent variants
        ("estaño", "tin", "Spanish name"),
        ("ESTANO", "tin", "Spanish name"),
        ("Wolframio", "tungsten", "alias"),
        ("pizarra", "slate", "Spanish name"),
        ("áridos", "aggregate", "alias"),
        ("Tungsten", "tungsten", "name"),
        # symbols the old list refused, and Castilla y León's quarrying
        ("Cr", "chromium", "symbol"),
        ("Pt", "platinum", "symbol"),
        ("Pd", "palladium", "symbol"),
        ("P", "phosphorous", "symbol"),
        ("Hg", "mercury", "symbol"),
        ("potash", "potash", None),
        ("sepiolite", "sepiolite", None),
        ("granite", "granite", None),
        ("marble", "marble", None),
        ("limestone", "limestone", None),
        ("sand and gravel", "sandAndGravel", "alias"),
        ("clay", "clay", None),
        ("gypsum", "gypsum", None),
        ("fluorine", "fluorine", None),
    ],
)
def test_each_value_class_maps_to_the_right_code(value, code, how):
    assert commodities.read(value) == commodities.Reading(code, how)


def test_suggestions_come_from_the_whole_list_and_are_never_another_element():
    assert commodities.suggest("paladium") == "palladium"
    assert commodities.suggest("tungstne") == "tungsten"
    assert (
        commodities.suggest("sepiolita x") is None
        or commodities.suggest("sepiolita x") == "sepiolite"
    )
    for near_symbol in ("Pdd", "Cx", "Wo"):  # a wrong symbol gets no other element's name
        assert commodities.suggest(near_symbol) is None
    assert commodities.read("palladium").code == "palladium"  # once suggested as 'gallium'


# -- broader terms on every path -----------------------------------------------------------------

SEARCH_SOURCE = "t-vocab-search"
SEARCH_ROWS = {
    "v-pt": ["platinum"],
    "v-pd": ["palladium", "nickel"],
    "v-dy": ["dysprosium"],
    "v-lree": ["LREE"],
    "v-sg": ["sandAndGravel"],
    "v-au": ["gold"],
}
# The search term, and the CGI concept it names (expected matches walk the CGI file itself).
TERMS = {"PGM": "platinum-group", "REE": "rare-earth-element", "aggregate": "aggregate"}


@pytest.fixture(scope="module")
def searchable(engine):
    with engine.begin() as conn:
        for i, (source_id, codes) in enumerate(SEARCH_ROWS.items()):
            conn.execute(
                text(
                    "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
                    "location_precision, geom, source, source_id) VALUES (:n, 'occurrence', :c, :imp, 'exact', "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4326), :s, :sid)"
                ),
                dict(
                    n=f"Vocab {source_id}",
                    c=codes,
                    imp=["main"] + ["by_product"] * (len(codes) - 1),
                    x=LEON[0] + 0.01 * i,
                    y=LEON[1],
                    s=SEARCH_SOURCE,
                    sid=source_id,
                ),
            )
        ids = dict(
            conn.execute(
                text("SELECT source_id, id FROM deposits WHERE source = :s"), {"s": SEARCH_SOURCE}
            ).all()
        )
    yield ids
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SEARCH_SOURCE})


def _expected(term: str) -> set[str]:
    by_cgi = {c.cgi_id: c.code for c in commodities.COMMODITIES if c.cgi_id}
    codes = {by_cgi[x] for x in _cgi_below(TERMS[term]) | {TERMS[term]}}
    return {sid for sid, listed in SEARCH_ROWS.items() if codes & set(listed)}


def _source_ids(features: list[dict], ids: dict[str, int]) -> set[str]:
    by_id = {str(v): k for k, v in ids.items()}
    return {by_id[str(f["id"])] for f in features if str(f["id"]) in by_id}


@pytest.mark.parametrize("term", TERMS)
def test_deposits_search_finds_the_narrower_commodities(client, searchable, term):
    response = client.get(f"/deposits?commodity={term}&limit=10000")
    assert response.status_code == 200, response.text
    found = _source_ids(response.json()["features"], searchable)
    assert found == _expected(term) and found


@pytest.mark.parametrize("term", TERMS)
def test_screening_finds_the_narrower_commodities(client, searchable, term):
    response = client.get(f"/screening/deposits?commodity={term}")
    assert response.status_code == 200, response.text
    assert _source_ids(response.json()["features"], searchable) == _expected(term)


@pytest.mark.parametrize("term", TERMS)
@pytest.mark.parametrize("as_code", [False, True])
def test_cql2_filter_finds_the_narrower_commodities(client, searchable, term, as_code):
    value = commodities.code_of(term) if as_code else term
    cql = f"commodity = '{value}' AND source = '{SEARCH_SOURCE}'"
    response = client.get("/collections/deposits/items", params={"filter": cql, "limit": 1000})
    assert response.status_code == 200, response.text
    assert _source_ids(response.json()["features"], searchable) == _expected(term)
    listed = client.get(
        "/collections/deposits/items",
        params={"filter": f"commodity IN ('{value}') AND source = '{SEARCH_SOURCE}'"},
    )
    assert _source_ids(listed.json()["features"], searchable) == _expected(term)


@pytest.mark.parametrize("term", TERMS)
def test_export_filter_finds_the_narrower_commodities(db_url, searchable, term, tmp_path):
    out = tmp_path / "found.gpkg"
    write_export(
        db_url,
        plan_export(
            "deposits", "gpkg", filter=f"commodity = '{term}' AND source = '{SEARCH_SOURCE}'"
        ),
        out,
    )
    frame = pyogrio.read_dataframe(out, layer="deposits")
    assert set(frame["source_id"]) == _expected(term)


def test_an_unknown_commodity_is_refused_with_a_suggestion(client):
    response = client.get("/deposits?commodity=paladium")
    assert response.status_code == 400
    assert "did you mean 'palladium'" in response.json()["detail"]


# -- lenient import ------------------------------------------------------------------------------

MINIMAL_MAPPING = """
layer = "deposits"
[geometry]
x = "lon"
y = "lat"
[fields]
source_id = "record_id"
name = "name"
commodities = "commodities"
"""


def test_a_csv_with_only_id_name_commodities_and_lonlat_imports_and_says_what_it_read(
    engine, client, tmp_path
):
    lon, lat = LEON
    source = "t-vocab-minimal"
    rows = [
        ("m1", "Mina Uno", "% Cu; Au"),
        ("m2", "", "WO3, scheelite"),
        ("m3", "Cantera", "granito"),
        ("m4", "Salina", "halite; Pt"),
        ("m5", "Sin ley", "tungsten"),
    ]
    data = tmp_path / "usgs.csv"
    data.write_text(
        "record_id,name,commodities,lon,lat\n"
        + "".join(f'{i},{n},"{c}",{lon + 0.001 * k},{lat}\n' for k, (i, n, c) in enumerate(rows)),
        encoding="utf-8",
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(MINIMAL_MAPPING)
    report = import_file(engine, ImportOptions(data, mapping=str(mapping), source=source))
    assert report.problems == [] and report.inserted == 5
    notes = "\n".join(report.notes)
    for value, code in (
        ("% Cu", "copper"),
        ("Au", "gold"),
        ("WO3", "tungsten"),
        ("scheelite", "tungsten"),
        ("granito", "granite"),
        ("halite", "salt"),
        ("Pt", "platinum"),
    ):
        assert f"commodity {value!r} read as {code!r}" in notes, notes
    assert "'tungsten' read as" not in notes  # a code is no normalisation
    assert (
        "occurrence_type: no column in the file, every row takes the default 'occurrence'" in notes
    )
    assert (
        "location_precision: no column in the file, every row takes the default 'unknown'" in notes
    )
    with engine.connect() as conn:
        stored = {
            r.source_id: r
            for r in conn.execute(
                text(
                    "SELECT source_id, name, commodities, occurrence_type, location_precision FROM deposits "
                    "WHERE source = :s"
                ),
                {"s": source},
            )
        }
    assert stored["m1"].commodities == ["copper", "gold"]
    assert stored["m2"].commodities == ["tungsten"] and stored["m2"].name is None
    assert {r.occurrence_type for r in stored.values()} == {"occurrence"}
    assert {r.location_precision for r in stored.values()} == {"unknown"}
    # A nameless deposit is shown by its source id.
    response = client.get(
        "/collections/deposits/items",
        params={"filter": f"source = '{source}' AND source_id = 'm2'"},
    )
    assert [f["properties"]["name"] for f in response.json()["features"]] == ["m2"]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": source})


def test_the_database_refuses_a_code_it_does_not_know(engine):
    with pytest.raises(Exception, match="unknown commodity code"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, location_precision, "
                "geom, source, source_id) VALUES ('x', 'occurrence', ARRAY['unobtainium'], ARRAY['main'], 'exact', "
                "ST_SetSRID(ST_MakePoint(-5.5, 42.6), 4326), 't-vocab-bad', 'x')"
            )
        )


def test_a_new_commodity_is_a_row_of_the_commodities_table_not_a_schema_change(engine):
    insert = text(
        "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, location_precision, "
        "geom, source, source_id) VALUES ('x', 'occurrence', ARRAY['testOnlyCommodity'], ARRAY['main'], "
        "'exact', ST_SetSRID(ST_MakePoint(-5.5, 42.6), 4326), 't-vocab-new', 'x')"
    )
    with pytest.raises(Exception, match="unknown commodity code"), engine.begin() as conn:
        conn.execute(insert)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO commodities (code, name, broader, critical, strategic) "
                    "VALUES ('testOnlyCommodity', 'test only', '{}', false, false)"
                )
            )
            conn.execute(insert)
            assert (
                conn.execute(
                    text("SELECT count(*) FROM deposits WHERE source = 't-vocab-new'")
                ).scalar()
                == 1
            )
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM deposits WHERE source = 't-vocab-new'"))
            conn.execute(text("DELETE FROM commodities WHERE code = 'testOnlyCommodity'"))


# -- upgrading a populated database ------------------------------------------------------------


def test_a_populated_database_upgrades_with_nothing_lost(db_url):
    url = with_database(db_url, f"veta_upgrade_{uuid.uuid4().hex[:8]}")
    create_database(url)
    try:
        upgrade(url, "0008")
        engine = sync_engine(url)
        square = "ST_GeomFromText('MULTIPOLYGON(((-5.6 42.5,-5.5 42.5,-5.5 42.6,-5.6 42.6,-5.6 42.5)))', 4326)"
        before = {
            "d1": ["fluorspar", "baryte"],
            "d2": ["platinumGroupMetals"],
            "d3": ["tungsten", "tin"],
            "d4": ["heavyRareEarthElements", "lightRareEarthElements"],
        }
        with engine.begin() as conn:
            for sid, codes in before.items():
                conn.execute(
                    text(
                        "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
                        "location_precision, geom, source, source_id) VALUES (:name, 'prospect', :c, :imp, 'exact', "
                        "ST_SetSRID(ST_MakePoint(-5.55, 42.55), 4326), 'old', :sid)"
                    ),
                    dict(
                        name=f"Deposit {sid}",
                        sid=sid,
                        c=codes,
                        imp=["main"] + ["by_product"] * (len(codes) - 1),
                    ),
                )
            conn.execute(
                text(
                    f"INSERT INTO permits (registry_number, name, right_type, status, commodities, source, geom) "
                    f"VALUES ('24-1', 'Old right', 'exploration', 'granted', ARRAY['siliconMetal','quartz'], 'old', {square})"
                )
            )
            deposit = conn.execute(text("SELECT id FROM deposits WHERE source_id = 'd2'")).scalar()
            conn.execute(
                text(
                    "INSERT INTO resource_estimates (deposit_id, commodity, classification, category) "
                    "VALUES (:d, 'platinumGroupMetals', 'JORC', 'inferred')"
                ),
                {"d": deposit},
            )
            snapshot = conn.execute(
                text("SELECT id, name, ST_AsText(geom) FROM deposits ORDER BY id")
            ).all()
        engine.dispose()

        upgrade(url, "0011")

        engine = sync_engine(url)
        with engine.connect() as conn:
            after = dict(conn.execute(text("SELECT source_id, commodities FROM deposits")).all())
            assert (
                conn.execute(
                    text("SELECT id, name, ST_AsText(geom) FROM deposits ORDER BY id")
                ).all()
                == snapshot
            )
            permit = conn.execute(text("SELECT commodities FROM permits")).scalar()
            estimate = conn.execute(text("SELECT commodity FROM resource_estimates")).scalar()
            table_codes = set(conn.execute(text("SELECT code FROM commodities")).scalars())
        engine.dispose()
        renamed = commodities.RENAMED
        assert after == {sid: [renamed.get(c, c) for c in codes] for sid, codes in before.items()}
        assert after["d1"] == ["fluorite", "baryte"] and after["d4"] == ["HREE", "LREE"]
        assert permit == ["silicon", "quartz"] and estimate == "platinumGroupMetal"
        assert table_codes == set(commodities.CODES)

        upgrade(url)  # 0012 drops resource_estimates, which nothing reads
        engine = sync_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('resource_estimates')")).scalar() is None
        engine.dispose()
        command.downgrade(alembic_config(url), "0008")  # and back, the old codes restored
        engine = sync_engine(url)
        with engine.connect() as conn:
            assert (
                dict(conn.execute(text("SELECT source_id, commodities FROM deposits")).all())
                == before
            )
        engine.dispose()
    finally:
        drop_database(url)


def test_the_vocabulary_files_travel_with_the_package():
    vocab = Path(commodities.__file__).parent / "vocab"
    assert {p.name for p in vocab.iterdir()} >= {
        "cgi_commodity_codes.csv",
        "commodities.toml",
        "crma_2024_1252.toml",
        "README.md",
    }
    assert "CC BY 4.0" in (vocab / "README.md").read_text(encoding="utf-8")


def test_the_vocabulary_endpoint_gives_each_commodity_its_narrower_ones(client):
    response = client.get("/vocabularies/commodities")
    assert response.status_code == 200
    by_code = {c["code"]: c for c in response.json()}
    assert set(by_code) == set(commodities.CODES)
    pgm = by_code["platinumGroupMetal"]
    assert (
        {"platinum", "palladium"} <= set(pgm["narrower"]) and pgm["critical"] and pgm["strategic"]
    )
    assert by_code["tin"]["name_es"] == "estaño" and by_code["tin"]["narrower"] == []
