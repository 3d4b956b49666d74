"""Deposit clusters below zoom 10: decoded with mapbox_vector_tile and checked against an
independent count.

Over 20,000 synthetic deposits made here with generate_series, a z8 deposits tile carries one
point per occupied cell of a 16 x 16 grid over the tile (and the ring of cells around it). The
expected cells are computed here: each deposit's bounding-box centre (shapely) projected to Web
Mercator with pyproj and binned against morecantile's tile bounds; filters are applied by
shapely (areas), by the CGI commodity file (broader terms) and by the deposit_screening items
(protection status, itself checked against the zone rule elsewhere).
"""

from __future__ import annotations

import csv
import math
from collections import Counter

import mapbox_vector_tile
import morecantile
import pytest
import shapely
from pyproj import Transformer
from shapely import wkb
from sqlalchemy import text

from geo.core.settings import PROJECT_ROOT

TMS = morecantile.tms.get("WebMercatorQuad")
TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
EXTENT, CELL = 4096, 256
SOURCE = "t-clusters"
SYNTHETIC = 20_000
# A z8 tile over the centre of León; the synthetic deposits cover its western three quarters
# and spill over its northern, southern and western edges into the neighbours.
TILE = TMS.tile(-5.9, 42.6, 8)
# Crafted cells in the eastern quarter, where no synthetic deposit falls (nor any of the
# sample's): five deposits in one cell whose most frequent commodities are known, and one
# deposit alone in another.
CRAFTED = [
    ["tin", "tungsten"],
    ["tin"],
    ["tin", "gold"],
    ["gold"],
    ["tungsten", "lithium", "tin"],
]
LONELY = "Lonely lode"
PALETTE = ["coal", "slate", "gold", "tungsten", "lithium", "copper", "zinc", "tin"]


def _lonlat(tile: morecantile.Tile, px: float, py: float) -> tuple[float, float]:
    """The lon/lat of tile units (px, py) of `tile` (y down)."""
    left, bottom, right, top = TMS.xy_bounds(tile)
    x = left + px / EXTENT * (right - left)
    y = top - py / EXTENT * (top - bottom)
    return TO_MERCATOR.transform(x, y, direction="INVERSE")


def _cell_of(geom) -> tuple[int, int]:
    """The cell (i, j) of TILE's grid the centre of the geometry's bounding box falls in."""
    left, bottom, right, top = TMS.xy_bounds(TILE)
    minx, miny, maxx, maxy = geom.bounds
    x, y = TO_MERCATOR.transform((minx + maxx) / 2, (miny + maxy) / 2)
    px, py = (x - left) / (right - left) * EXTENT, (top - y) / (top - bottom) * EXTENT
    return math.floor(px / CELL), math.floor(py / CELL)


def _geometries(engine) -> list[dict]:
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT id, name, commodities, ST_AsBinary(geom) AS geom FROM deposits")
        ).mappings()
        return [{**r, "geom": wkb.loads(bytes(r["geom"]))} for r in found]


@pytest.fixture(scope="module")
def synthetic(engine):
    west, north = _lonlat(TILE, -300, -300)
    east, south = _lonlat(TILE, 0.75 * EXTENT, EXTENT + 300)
    # Two cells of the eastern quarter that no deposit of the sample falls in.
    taken = {_cell_of(d["geom"]) for d in _geometries(engine)}
    crafted_cell, lonely_cell = [
        (i, j) for i in range(12, 16) for j in range(16) if (i, j) not in taken
    ][:2]
    with engine.begin() as conn:
        conn.execute(text("SELECT setseed(0.16)"))
        conn.execute(
            text(
                "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
                "location_precision, geom, source, source_id) "
                "SELECT 'Synthetic ' || g, 'occurrence', "
                "CASE WHEN g % 3 = 0 THEN ARRAY[p[1 + g % 8], p[1 + (g / 8) % 8]] "
                "ELSE ARRAY[p[1 + g % 8]] END, "
                "CASE WHEN g % 3 = 0 THEN ARRAY['main', 'by_product'] ELSE ARRAY['main'] END, "
                "'exact', "
                # One in twenty an outline (a small square), the rest points.
                "CASE WHEN g % 20 = 0 THEN ST_Multi(ST_Expand(pt, 0.004)) ELSE pt END, "
                ":source, 's-' || g "
                "FROM generate_series(1, :n) g, CAST(:palette AS text[]) p, "
                "LATERAL (SELECT ST_SetSRID(ST_MakePoint(:w + random() * (:e - :w), "
                ":s + random() * (:nn - :s)), 4326) AS pt) r"
            ),
            {
                "n": SYNTHETIC,
                "palette": PALETTE,
                "source": SOURCE,
                "w": west,
                "e": east,
                "s": south,
                "nn": north,
            },
        )
        i, j = crafted_cell
        for k, commodities in enumerate(CRAFTED):
            lon, lat = _lonlat(TILE, i * CELL + 40 + 30 * k, j * CELL + 60 + 20 * k)
            _insert(conn, f"Crafted {k}", commodities, lon, lat, f"c-{k}")
        i, j = lonely_cell
        lon, lat = _lonlat(TILE, i * CELL + 100, j * CELL + 100)
        lonely = _insert(conn, LONELY, ["graphite"], lon, lat, "lonely")
    yield {"lonely": lonely, "crafted_cell": crafted_cell, "lonely_cell": lonely_cell}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})


def _insert(conn, name: str, commodities: list[str], lon: float, lat: float, key: str) -> int:
    return conn.execute(
        text(
            "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
            "location_precision, geom, source, source_id) VALUES (:n, 'occurrence', :c, :i, "
            "'exact', ST_SetSRID(ST_MakePoint(:x, :y), 4326), :s, :k) RETURNING id"
        ),
        {
            "n": name,
            "c": commodities,
            "i": ["main"] + ["by_product"] * (len(commodities) - 1),
            "x": lon,
            "y": lat,
            "s": SOURCE,
            "k": key,
        },
    ).scalar_one()


@pytest.fixture(scope="module")
def deposits(engine, synthetic) -> list[dict]:
    """Every deposit with its geometry and the tile cell (i, j) of TILE its bbox centre is in."""
    rows = _geometries(engine)
    for d in rows:
        d["cell"] = _cell_of(d["geom"])
    return rows


def _clusters(client, params: dict | None = None) -> list[dict]:
    url = f"/collections/deposits/tiles/WebMercatorQuad/{TILE.z}/{TILE.x}/{TILE.y}"
    response = client.get(url, params=params or {})
    assert response.status_code == 200, response.text
    assert len(response.content) < 500 * 1024
    layers = mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})
    assert list(layers) == ["deposits_clusters"]
    return layers["deposits_clusters"]["features"]


def _counts_by_cell(features: list[dict]) -> dict[tuple[int, int], int]:
    cells = Counter()
    for f in features:
        px, py = f["geometry"]["coordinates"]
        cells[(math.floor(px / CELL), math.floor(py / CELL))] += f["properties"]["count"]
    return dict(cells)


def _expected(deposits: list[dict]) -> dict[tuple[int, int], int]:
    """Deposits per cell of the tile and of the ring of cells around it."""
    return dict(Counter(d["cell"] for d in deposits if all(-1 <= c <= 16 for c in d["cell"])))


def test_a_z8_tile_over_20000_deposits_holds_their_counts_per_cell(client, deposits):
    features = _clusters(client)
    by_cell = _counts_by_cell(features)
    assert len(by_cell) == len(features)  # one cluster per cell
    assert by_cell == _expected(deposits)
    inside = sum(n for (i, j), n in by_cell.items() if 0 <= i < 16 and 0 <= j < 16)
    in_tile = [d for d in deposits if all(0 <= c < 16 for c in d["cell"])]
    assert inside == len(in_tile) > SYNTHETIC / 2


def test_the_crafted_cell_names_its_most_frequent_commodities(client, deposits, synthetic):
    features = {
        (
            math.floor(f["geometry"]["coordinates"][0] / CELL),
            math.floor(f["geometry"]["coordinates"][1] / CELL),
        ): f["properties"]
        for f in _clusters(client)
    }
    crafted = features[synthetic["crafted_cell"]]
    assert crafted["count"] == len(CRAFTED)
    # tin in 4, gold and tungsten in 2 each (ties alphabetically), lithium in 1.
    held = Counter(c for commodities in CRAFTED for c in commodities)
    ranked = sorted(held, key=lambda c: (-held[c], c))
    assert crafted["commodities"] == ", ".join(ranked[:3]) == "tin, gold, tungsten"
    assert "id" not in crafted and "name" not in crafted
    lonely = features[synthetic["lonely_cell"]]
    assert lonely == {
        "count": 1,
        "commodities": "graphite",
        "id": synthetic["lonely"],
        "name": LONELY,
    }


def test_a_commodity_filter_counts_only_the_deposits_holding_it(client, deposits):
    by_cell = _counts_by_cell(_clusters(client, {"filter": "commodity = 'tungsten'"}))
    holding = [d for d in deposits if "tungsten" in d["commodities"]]
    assert by_cell == _expected(holding)
    assert sum(by_cell.values()) < sum(_expected(deposits).values())


def test_a_broader_commodity_counts_the_deposits_of_its_narrower_ones(client, deposits):
    # Base metals in CGI's own file, not from Veta's code.
    with (PROJECT_ROOT / "geo" / "core" / "vocab" / "cgi_commodity_codes.csv").open(
        encoding="utf-8"
    ) as f:
        base_metals = {r["code"] for r in csv.DictReader(f) if r["broader"] == "base-metal"}
    by_cell = _counts_by_cell(_clusters(client, {"filter": "commodity = 'baseMetal'"}))
    holding = [d for d in deposits if base_metals & set(d["commodities"])]
    assert {c for d in holding for c in d["commodities"]} >= {"copper", "zinc"}
    assert by_cell == _expected(holding)


def test_an_area_counts_only_the_deposits_meeting_it(client, engine, deposits):
    left, bottom, right, top = TMS.bounds(TILE)
    tile_box = shapely.box(left, bottom, right, top)
    with engine.connect() as conn:
        areas = conn.execute(
            text("SELECT code, ST_AsBinary(geom) FROM admin_areas WHERE level = 'municipality'")
        ).all()
    # The municipality covering the largest part of the tile, but not all of it.
    code, outline = max(
        ((c, wkb.loads(bytes(g))) for c, g in areas), key=lambda a: a[1].intersection(tile_box).area
    )
    by_cell = _counts_by_cell(_clusters(client, {"area": code}))
    meeting = [d for d in deposits if d["geom"].intersects(outline)]
    assert 0 < sum(by_cell.values()) < sum(_expected(deposits).values())
    assert by_cell == _expected(meeting)


def test_a_protection_filter_counts_the_deposits_of_that_status(client, deposits):
    status = "protection_status = 'free' AND commodity = 'lithium'"
    by_cell = _counts_by_cell(_clusters(client, {"filter": status}))
    left, bottom, right, top = TMS.bounds(TILE)
    # The items of deposit_screening with that status, over the tile and its ring of cells.
    grow = (right - left) * 1.5 * CELL / EXTENT
    page = client.get(
        "/collections/deposit_screening/items",
        params={
            "filter": status,
            "bbox": f"{left - grow},{bottom - grow},{right + grow},{top + grow}",
            "limit": 10000,
            "properties": "name",
        },
    ).json()
    free = {f["id"] for f in page["features"]}
    lithium = [d for d in deposits if "lithium" in d["commodities"]]
    assert by_cell == _expected([d for d in lithium if d["id"] in free])
    assert sum(by_cell.values()) < sum(_expected(lithium).values())


def test_from_zoom_10_the_tiles_carry_the_deposits_themselves(client, deposits):
    child = TMS.children(TILE, zoom=10)[0]
    url = f"/collections/deposits/tiles/WebMercatorQuad/{child.z}/{child.x}/{child.y}"
    layers = mapbox_vector_tile.decode(client.get(url).content)
    assert list(layers) == ["deposits"]


def test_tilejson_and_the_tileset_describe_the_cluster_layer_and_its_zooms(client):
    base = "/collections/deposits/tiles/WebMercatorQuad"
    tilejson = client.get(f"{base}/tilejson.json").json()
    layers = {layer["id"]: layer for layer in tilejson["vector_layers"]}
    assert (layers["deposits"]["minzoom"], layers["deposits"]["maxzoom"]) == (10, 24)
    clusters = layers["deposits_clusters"]
    assert (clusters["minzoom"], clusters["maxzoom"]) == (0, 9)
    assert clusters["fields"] == {
        "count": "Number",
        "commodities": "String",
        "id": "Number",
        "name": "String",
    }
    tileset = client.get(base).json()
    described = {layer["id"]: layer for layer in tileset["layers"]}
    assert described["deposits_clusters"]["maxTileMatrix"] == "9"
    assert set(described["deposits_clusters"]["propertiesSchema"]["properties"]) == {
        "count",
        "commodities",
        "id",
        "name",
    }
    # A filtered TileJSON hands out tile URLs that carry the filter.
    filtered = client.get(
        f"{base}/tilejson.json", params={"filter": "commodity = 'tungsten'", "area": "24"}
    ).json()
    url = filtered["tiles"][0].replace("{z}", "8").replace("{x}", str(TILE.x))
    url = url.replace("{y}", str(TILE.y))
    direct = client.get(
        f"{base}/8/{TILE.x}/{TILE.y}", params={"filter": "commodity = 'tungsten'", "area": "24"}
    )
    assert client.get(url).content == direct.content


def test_a_bad_tile_filter_is_a_400_problem_naming_it(client):
    url = f"/collections/deposits/tiles/WebMercatorQuad/8/{TILE.x}/{TILE.y}"
    for params, name in (
        ({"filter": "commodity = 'unobtainium'"}, "filter"),
        ({"filter": "colour = 'red'"}, "filter"),
        ({"filter-lang": "cql2-json"}, "filter-lang"),
    ):
        response = client.get(url, params=params)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert name in [p["name"] for p in response.json()["invalid_params"]]


def test_an_uncached_tile_costs_two_round_trips_and_a_credential_one_more_before_it(
    settings, monkeypatch
):
    """The fixed cost of a tile on loopback is its round trips: the change counters (for the
    ETag) and the tile, and no reset after them; a remembered credential adds the viewer's
    transaction: BEGIN READ ONLY with the key's confirmation and the settings before, and the
    COMMIT with the reset once the answer is out (tests/test_after_answer.py shows the order)."""
    import asyncpg
    from fastapi.testclient import TestClient

    from api.app import create_app
    from geo.access.keys import create_key, create_organisation
    from geo.store.db import sync_engine

    sent: list[str] = []
    real = asyncpg.create_pool

    def recording_pool(*args, **kwargs):
        async def record(conn):
            conn.add_query_logger(lambda record: sent.append(record.query))

        return real(*args, **{**kwargs, "init": record})

    engine = sync_engine(settings.database_url)
    with engine.begin() as conn:
        create_organisation(conn, "t-trips", "Round trips")
        key = create_key(conn, "t-trips", "reader", "rita@trips.example", None)[0]
    monkeypatch.setattr(asyncpg, "create_pool", recording_pool)
    url = f"/collections/deposits/tiles/WebMercatorQuad/{TILE.z}/{TILE.x}/{TILE.y}"
    try:
        with TestClient(create_app(settings.model_copy(update={"tile_cache_mb": 0}))) as client:
            for headers, expected in (({}, 2), ({"Authorization": f"Bearer {key}"}, 4)):
                # The first use prepares the statements and looks the key up.
                client.get(url, headers=headers)
                sent.clear()
                assert client.get(url, headers=headers).status_code in (200, 204)
                tile_statements = [q for q in sent if "ST_AsMVT" in q or "table_changes" in q]
                assert len(tile_statements) == 2, sent
                assert len(sent) == expected, sent
                if headers:
                    assert sent[0].startswith("BEGIN READ ONLY; SELECT veta_confirm_api_key(")
                    assert sent[-1].startswith("COMMIT; SELECT pg_advisory_unlock_all()")
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM organisations WHERE code = 't-trips'"))
        engine.dispose()


def test_deposit_screening_tiles_below_zoom_10_carry_the_same_clusters(client, deposits):
    url = f"/collections/deposit_screening/tiles/WebMercatorQuad/{TILE.z}/{TILE.x}/{TILE.y}"
    for params in ({}, {"filter": "protection_status = 'free' AND commodity = 'lithium'"}):
        response = client.get(url, params=params)
        assert response.status_code == 200 and len(response.content) < 500 * 1024
        layers = mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})
        assert list(layers) == ["deposit_screening_clusters"]
        features = layers["deposit_screening_clusters"]["features"]
        # The deposits' clusters, themselves checked against the cells computed here.
        assert features == _clusters(client, params)
