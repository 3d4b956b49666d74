"""The deposit cells the database keeps (migration 0016) make the same cluster tiles as the
deposits themselves, byte for byte, for every viewer, after inserts, updates and deletes.

Over a few thousand synthetic deposits spread across a z7 tile of León (points and small
outlines, public and confidential to two organisations, with lone deposits of each in cells
of their own), every cluster tile from z5 to z9 over them is made twice as the service's
database role would make it for an anonymous viewer, for each organisation's editor and for
an admin: from the summary and from the deposits (the query that filtered tiles use). The
summary's own rows are also checked against the cell counts of the deposits computed here
with pyproj, and against a summary made afresh after every kind of write.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter

import asyncpg
import mapbox_vector_tile
import morecantile
import pytest
from pyproj import Transformer
from records import insert_deposit
from shapely import wkb
from sqlalchemy import text

from geo.access.keys import create_organisation
from geo.features.clusters import cluster_query
from geo.features.tiles import tile_layer
from geo.store.db import libpq_url, with_user
from geo.store.viewer import SERVICE_ROLE

SOURCE = "t-cluster-cells"
TMS = morecantile.tms.get("WebMercatorQuad")
TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
# A z7 tile over León; the synthetic deposits fill its middle and spill over no edge.
AREA = TMS.tile(-5.9, 42.6, 7)
SYNTHETIC = 3000
PALETTE = ["coal", "slate", "gold", "tungsten", "lithium", "copper", "zinc", "tin"]
# Every cluster tile over the area at z5–z9 that holds a deposit, with its neighbours.
ZOOMS = range(5, 10)
LAYERS = ("deposits", "deposit_screening")
# The cells' extent in EPSG:3857 metres: the Mercator square, 2^13 cells across at z13.
HALF_WORLD = 20037508.342789244


def _in_area(fraction: float, edge: str) -> float:
    west, south, east, north = TMS.bounds(AREA)
    low, high = (west, east) if edge == "x" else (south, north)
    return low + fraction * (high - low)


@pytest.fixture(scope="module")
def orgs(engine):
    with engine.begin() as conn:
        org_a = create_organisation(conn, "t-cells-a", "Exploraciones A")
        org_b = create_organisation(conn, "t-cells-b", "Minera B")
    yield org_a, org_b
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM organisations WHERE code LIKE 't-cells-%'"))


def _insert_synthetic(conn, orgs, first: int, count: int, seed: float) -> None:
    """`count` deposits numbered from `first`: one in five confidential to A, one in seven to B,
    one in twenty an outline; lists of one to three commodities."""
    org_a, org_b = orgs
    conn.execute(text("SELECT setseed(:s)"), {"s": seed})
    conn.execute(
        text(
            "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
            "location_precision, geom, source, source_id, confidential, owner_org) "
            "SELECT 'Cell test ' || g, 'occurrence', "
            "(ARRAY[p[1 + g % 8], p[1 + (g / 8) % 8], p[1 + (g / 64) % 8]])[1:1 + g % 3], "
            "(ARRAY['main', 'by_product', 'by_product'])[1:1 + g % 3], 'exact', "
            "CASE WHEN g % 20 = 0 THEN ST_Multi(ST_Expand(pt, 0.01)) ELSE pt END, :source, "
            "'s-' || g, g % 5 = 0 OR g % 7 = 0, "
            "CASE WHEN g % 5 = 0 THEN CAST(:a AS int) WHEN g % 7 = 0 THEN CAST(:b AS int) END "
            "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g, CAST(:palette AS text[]) p, "
            "LATERAL (SELECT ST_SetSRID(ST_MakePoint(:w + random() * (:e - :w), "
            ":s + random() * (:n - :s)), 4326) AS pt) r"
        ),
        {
            "first": first,
            "last": first + count - 1,
            "palette": PALETTE,
            "source": SOURCE,
            "a": org_a,
            "b": org_b,
            "w": _in_area(0.15, "x"),
            "e": _in_area(0.85, "x"),
            "s": _in_area(0.15, "y"),
            "n": _in_area(0.85, "y"),
        },
    )


def _insert_lonely(conn, orgs) -> None:
    """A deposit alone in its cell at every zoom, public and of each organisation: near the
    area's corners, where no synthetic deposit falls."""
    org_a, org_b = orgs
    for k, (owner, fx, fy) in enumerate(
        ((None, 0.03, 0.03), (org_a, 0.97, 0.03), (org_b, 0.03, 0.97))
    ):
        at = (_in_area(fx, "x"), _in_area(fy, "y"))
        insert_deposit(conn, f"Lonely {k}", at, SOURCE, f"lonely-{k}", owner, "graphite")


@pytest.fixture(scope="module")
def deposits(engine, orgs):
    with engine.begin() as conn:
        _insert_synthetic(conn, orgs, 1, SYNTHETIC, 0.25)
        _insert_lonely(conn, orgs)
    return orgs


def _viewers(orgs) -> dict[str, tuple[str, str]]:
    """veta.org and veta.role of each viewer."""
    org_a, org_b = orgs
    return {
        "anonymous": ("", ""),
        "a_editor": (str(org_a), "editor"),
        "b_editor": (str(org_b), "editor"),
        "admin": (str(org_a), "admin"),
    }


def _tiles() -> list[morecantile.Tile]:
    west, south, east, north = TMS.bounds(AREA)
    tiles = []
    for z in ZOOMS:
        grown = (east - west) / 4
        tiles += TMS.tiles(west - grown, south - grown, east + grown, north + grown, [z])
    return tiles


async def _both_sources(db_url: str, viewer: tuple[str, str]) -> dict:
    """Per layer (deposits, deposit_screening) and tile: (from the summary, from the deposits),
    as the service role for this viewer."""
    conn = await asyncpg.connect(libpq_url(with_user(db_url, SERVICE_ROLE)))
    layers = [tile_layer(layer) for layer in LAYERS]
    made = {}
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('veta.org', $1, true), set_config('veta.role', $2, true)",
                *viewer,
            )
            for tile in _tiles():
                for layer in layers:
                    pair = []
                    for from_summary in (True, False):
                        query = cluster_query(layer, tile, None, None, from_summary=from_summary)
                        pair.append(await conn.fetchval(query.text, *query.values) or b"")
                    made[(layer.id, tile)] = tuple(pair)
    finally:
        await conn.close()
    return made


def _assert_same_tiles(db_url: str, orgs) -> dict[str, dict]:
    made = {}
    for name, viewer in _viewers(orgs).items():
        made[name] = asyncio.run(_both_sources(db_url, viewer))
        differing = [t for t, (summary, rows) in made[name].items() if summary != rows]
        assert differing == [], f"{name}: {differing}"
        assert sum(1 for summary, _ in made[name].values() if summary) > 20
    return made


def _summary(engine) -> tuple[set, set]:
    """The summary's rows (without their surrogate ids), as the owner sees them: all."""
    with engine.connect() as conn:
        cells = conn.execute(
            text("SELECT cx, cy, confidential_to, members, x_sum, y_sum, id_sum FROM deposit_cells")
        ).all()
        values = conn.execute(
            text("SELECT cx, cy, confidential_to, commodity, members FROM deposit_cell_commodities")
        ).all()
    return set(map(tuple, cells)), set(map(tuple, values))


def _summary_afresh(engine) -> tuple[set, set]:
    """The summary made again from every deposit at once, as it should stand."""
    positions = (
        "SELECT (wx >> 27)::int AS cx, (wy >> 27)::int AS cy, confidential_to, wx, wy, id, "
        "commodities FROM (SELECT veta_world_x(ST_XMin(geom), ST_XMax(geom)) AS wx, "
        "veta_world_y(ST_YMin(geom), ST_YMax(geom)) AS wy, "
        "CASE WHEN confidential THEN owner_org END AS confidential_to, id, commodities "
        "FROM deposits) d"
    )
    with engine.connect() as conn:
        cells = conn.execute(
            text(
                "SELECT cx, cy, confidential_to, count(*), sum(wx), sum(wy), sum(id) "
                f"FROM ({positions}) p GROUP BY 1, 2, 3"
            )
        ).all()
        values = conn.execute(
            text(
                "SELECT cx, cy, confidential_to, v, count(*) "
                f"FROM ({positions}) p, unnest(p.commodities) v GROUP BY 1, 2, 3, 4"
            )
        ).all()
    return set(map(tuple, cells)), set(map(tuple, values))


def _cell_counts_by_pyproj(engine) -> Counter:
    """Deposits per (z13 cell, whom confidential to), binned here: the centre of each one's
    bounding box (shapely) projected with pyproj."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ST_AsBinary(geom), CASE WHEN confidential THEN owner_org END FROM deposits"
            )
        ).all()
    counts = Counter()
    size = 2 * HALF_WORLD / 2**13
    for geom, owner in rows:
        minx, miny, maxx, maxy = wkb.loads(bytes(geom)).bounds
        x, y = TO_MERCATOR.transform((minx + maxx) / 2, (miny + maxy) / 2)
        counts[
            (math.floor((x + HALF_WORLD) / size), math.floor((HALF_WORLD - y) / size), owner)
        ] += 1
    return counts


def test_the_summary_counts_every_deposit_in_its_cell(engine, deposits):
    cells, values = _summary(engine)
    assert Counter(
        {(cx, cy, owner): n for cx, cy, owner, n, *_ in cells}
    ) == _cell_counts_by_pyproj(engine)
    with engine.connect() as conn:
        held = conn.execute(text("SELECT sum(cardinality(commodities)) FROM deposits")).scalar()
    assert sum(n for *_, n in values) == held


def test_summary_and_deposits_make_the_same_tiles_for_every_viewer(db_url, deposits):
    made = _assert_same_tiles(db_url, deposits)
    # The viewers do see different tiles: B's deposits count for B and the admin only.
    assert made["a_editor"] != made["anonymous"] != made["b_editor"]
    # deposit_screening's clusters are the same but for their layer's name.
    for tile in _tiles():
        deposits_layer, screening = (
            mapbox_vector_tile.decode(made["b_editor"][(layer, tile)][0]) for layer in LAYERS
        )
        assert [list(layer) for layer in (deposits_layer, screening)] in (
            [[], []],
            [["deposits_clusters"], ["deposit_screening_clusters"]],
        )
        assert [layer["features"] for layer in deposits_layer.values()] == [
            layer["features"] for layer in screening.values()
        ]
    lonely_tile = TMS.tile(_in_area(0.03, "x"), _in_area(0.97, "y"), 9)

    def names(who: str) -> set:
        content = made[who][("deposits", lonely_tile)][0]
        layers = mapbox_vector_tile.decode(content) if content else {}
        return {f["properties"].get("name") for layer in layers.values() for f in layer["features"]}

    assert "Lonely 2" in names("b_editor") and "Lonely 2" in names("admin")
    assert "Lonely 2" not in names("a_editor") and "Lonely 2" not in names("anonymous")


def test_after_inserts_updates_and_deletes_the_sources_still_agree(engine, db_url, deposits):
    org_a, org_b = deposits
    with engine.begin() as conn:
        _insert_synthetic(conn, deposits, SYNTHETIC + 1, 500, 0.5)
        # Moved (to another cell, or a little within their own), given other commodities, made
        # public or handed to the other organisation, and renamed only (which changes no cell).
        conn.execute(
            text(
                "UPDATE deposits SET geom = ST_Translate(geom, 0.0004, 0.0003) "
                "WHERE source = :s AND id % 19 = 0"
            ),
            {"s": SOURCE},
        )
        conn.execute(
            text(
                "UPDATE deposits SET geom = ST_Translate(geom, 0.05, -0.03) "
                "WHERE source = :s AND source_id LIKE 's-%' AND id % 11 = 0"
            ),
            {"s": SOURCE},
        )
        conn.execute(
            text(
                "UPDATE deposits SET commodities = '{lithium,tin}', "
                "commodity_importance = '{main,by_product}' "
                "WHERE source = :s AND id % 13 = 0"
            ),
            {"s": SOURCE},
        )
        conn.execute(
            text(
                "UPDATE deposits SET confidential = NOT confidential, "
                "owner_org = CASE WHEN confidential THEN owner_org ELSE :b END "
                "WHERE source = :s AND id % 17 = 0"
            ),
            {"s": SOURCE, "b": org_b},
        )
        conn.execute(
            text(
                "UPDATE deposits SET owner_org = :a WHERE source = :s AND owner_org = :b AND id % 3 = 0"
            ),
            {"s": SOURCE, "a": org_a, "b": org_b},
        )
        conn.execute(
            text("UPDATE deposits SET name = name || '.' WHERE source = :s"), {"s": SOURCE}
        )
        conn.execute(text("DELETE FROM deposits WHERE source = :s AND id % 4 = 0"), {"s": SOURCE})
    assert _summary(engine) == _summary_afresh(engine)
    _assert_same_tiles(db_url, deposits)
    # Everything deleted: no cell left behind.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
    assert _summary(engine) == _summary_afresh(engine)


def test_a_rolled_back_write_leaves_the_summary_as_it_was(engine, deposits):
    before = _summary(engine)
    with engine.connect() as conn:
        with conn.begin() as transaction:
            _insert_synthetic(conn, deposits, 10_000, 50, 0.75)
            assert _summary(engine) == before  # not seen outside the writing transaction
            transaction.rollback()
    assert _summary(engine) == before
