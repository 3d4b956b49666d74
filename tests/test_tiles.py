"""Vector tiles: decoded with mapbox_vector_tile and checked against the database.

Tile bounds, positions and the zone rule are computed independently here (morecantile for the
tile grid, pyproj for Web Mercator, shapely for the zone rule), never taken from the server.
"""

from __future__ import annotations

from collections import Counter

import mapbox_vector_tile
import morecantile
import pytest
import shapely
from oracle import effects_on, verdict
from pyproj import Transformer
from shapely import wkb
from sqlalchemy import text

from geo.features.collections import all_collections

TMS = morecantile.tms.get("WebMercatorQuad")
TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
EXTENT, BUFFER = 4096, 64
MVT = "application/vnd.mapbox-vector-tile"
PROBLEM = "application/problem+json"


def tile_url(collection: str, tile: morecantile.Tile) -> str:
    return f"/collections/{collection}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"


def get_layer(client, collection: str, tile: morecantile.Tile) -> list[dict]:
    """The features of the tile's one layer (y down, as in the MVT grid)."""
    response = client.get(tile_url(collection, tile))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MVT
    layers = mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})
    assert list(layers) == [collection]
    assert layers[collection]["extent"] == EXTENT
    return layers[collection]["features"]


def mercator_box(tile: morecantile.Tile, buffer_px: float = 0) -> shapely.Polygon:
    """The tile's Web Mercator bounds, grown by `buffer_px` pixels of the 4096 grid."""
    left, bottom, right, top = TMS.xy_bounds(tile)
    grow = (right - left) * buffer_px / EXTENT
    return shapely.box(left - grow, bottom - grow, right + grow, top + grow)


def to_mercator(geom):
    return shapely.transform(geom, lambda xy: list(zip(*TO_MERCATOR.transform(xy[:, 0], xy[:, 1]))))


def rows(engine, sql: str) -> list[dict]:
    with engine.connect() as conn:
        found = conn.execute(text(sql)).mappings().all()
    return [{**r, "geom": to_mercator(wkb.loads(bytes(r["geom"])))} for r in found]


def expected_status(deposit: dict, zones: list[dict]) -> str:
    """The zone rule (docs/domain.md), in shapely: the strictest restricting zone in force that meets
    the deposit's footprint and depth interval."""
    return verdict(
        effects_on(deposit["geom"], zones, deposit["depth_top_m"], deposit["depth_bottom_m"])
    )


@pytest.fixture(scope="module")
def deposits(engine) -> dict[int, dict]:
    found = rows(
        engine,
        "SELECT id, name, commodities, mine_status, depth_top_m, depth_bottom_m, "
        "ST_AsBinary(geom) AS geom FROM deposits",
    )
    return {d["id"]: d for d in found}


@pytest.fixture(scope="module")
def zones(engine) -> list[dict]:
    return rows(
        engine,
        "SELECT id, name, designation, legal_effect, valid_from, valid_to, depth_top_m, "
        "depth_bottom_m, ST_AsBinary(geom) AS geom FROM protection_zones",
    )


@pytest.fixture(scope="module")
def busy_tiles(deposits) -> list[morecantile.Tile]:
    """At z10, z11 and z14, the tile holding the most point deposits (a sample-independent
    choice). Below z10 deposit tiles carry clusters (tests/test_tile_clusters.py)."""
    chosen = []
    for z in (10, 11, 14):
        counts = Counter()
        for d in deposits.values():
            if d["geom"].geom_type == "Point":
                lon, lat = TO_MERCATOR.transform(d["geom"].x, d["geom"].y, direction="INVERSE")
                counts[TMS.tile(lon, lat, z)] += 1
        chosen.append(counts.most_common(1)[0][0])
    return chosen


def pixel_to_mercator(tile: morecantile.Tile, px: float, py: float) -> tuple[float, float]:
    left, bottom, right, top = TMS.xy_bounds(tile)
    return left + px / EXTENT * (right - left), top - py / EXTENT * (top - bottom)


def test_every_deposit_inside_a_tile_is_in_it_with_its_attributes_and_position(
    client, deposits, zones, busy_tiles
):
    for tile in busy_tiles:
        features = {f["id"]: f for f in get_layer(client, "deposits", tile)}
        box = mercator_box(tile)
        inside = [d for d in deposits.values() if box.contains(d["geom"])]
        assert inside, f"the sample should have deposits in {tile}"
        for d in inside:
            assert d["id"] in features, (
                f"deposit {d['id']} lies in {tile} but is missing from the tile"
            )
            props = features[d["id"]]["properties"]
            assert props["id"] == d["id"]
            assert props["name"] == d["name"]
            assert props["main_commodity"] == d["commodities"][0]
            assert props["commodities"] == ", ".join(d["commodities"])
            assert props.get("mine_status") == d["mine_status"]  # MVT has no NULL: absent
            assert props["protection_status"] == expected_status(d, zones)
            if d["geom"].geom_type == "Point":
                px, py = features[d["id"]]["geometry"]["coordinates"]
                x, y = pixel_to_mercator(tile, px, py)
                pixel = (box.bounds[2] - box.bounds[0]) / EXTENT
                assert abs(x - d["geom"].x) <= pixel and abs(y - d["geom"].y) <= pixel


def test_no_deposit_from_outside_the_tile_buffer(client, deposits, busy_tiles):
    for tile in busy_tiles:
        buffered = mercator_box(tile, BUFFER)
        for feature in get_layer(client, "deposits", tile):
            assert buffered.intersects(deposits[feature["id"]]["geom"]), (
                f"deposit {feature['id']} is outside {tile}"
            )


def test_deposits_in_the_buffer_are_kept_for_symbols_at_the_edge(client, deposits, busy_tiles):
    tile = busy_tiles[0]
    ids = {f["id"] for f in get_layer(client, "deposits", tile)}
    ring = mercator_box(tile, BUFFER).difference(mercator_box(tile))
    assert {d["id"] for d in deposits.values() if ring.contains(d["geom"])} <= ids


def test_zone_tiles_hold_exactly_the_zones_meeting_the_tile_with_their_legal_effect(
    client, zones, busy_tiles
):
    for tile in busy_tiles[:2]:
        box, buffered = mercator_box(tile), mercator_box(tile, BUFFER)
        response = client.get(tile_url("protection_zones", tile))
        features = (
            [] if response.status_code == 204 else get_layer(client, "protection_zones", tile)
        )
        found = {f["id"]: f["properties"] for f in features}
        for z in zones:
            if z["geom"].intersects(box):
                assert z["id"] in found
                assert found[z["id"]]["legal_effect"] == z["legal_effect"]
                assert found[z["id"]]["name"] == z["name"]
            elif z["id"] in found:
                assert z["geom"].intersects(buffered)


def test_admin_area_tiles_carry_ine_codes_without_integer_feature_ids(client, engine):
    leon = TMS.tile(-5.57, 42.6, 6)
    features = get_layer(client, "admin_areas", leon)
    with engine.connect() as conn:
        names = dict(conn.execute(text("SELECT code, name FROM admin_areas")).all())
    codes = {f["properties"]["code"] for f in features}
    assert "24" in codes  # the province of León
    for f in features:
        assert f["properties"]["id"] == f["properties"]["code"]
        assert f["properties"]["name"] == names[f["properties"]["code"]]


def test_every_registered_collection_has_tiles(client):
    leon = TMS.tile(-5.57, 42.6, 7)
    for collection in all_collections():
        response = client.get(tile_url(collection.id, leon))
        assert response.status_code in (200, 204), (collection.id, response.text)
        tilejson = client.get(f"/collections/{collection.id}/tiles/WebMercatorQuad/tilejson.json")
        assert tilejson.status_code == 200
        assert tilejson.json()["vector_layers"][0]["id"] == collection.id


def test_an_empty_tile_is_204_not_an_error(client):
    atlantic = TMS.tile(-30.0, 40.0, 9)
    response = client.get(tile_url("deposits", atlantic))
    assert response.status_code == 204
    assert response.content == b""
    assert "max-age" in response.headers["cache-control"]


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("25/0/0", "z"),
        ("-1/0/0", "z"),
        ("3/8/0", "x"),
        ("3/0/8", "y"),
        ("3/-1/0", "x"),
        ("0/0/1", "y"),
        ("3/a/0", "x"),
    ],
)
def test_out_of_range_tile_coordinates_are_a_400_problem_naming_them(client, path, parameter):
    response = client.get(f"/collections/deposits/tiles/WebMercatorQuad/{path}")
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert [p["name"] for p in response.json()["invalid_params"]] == [parameter]


def test_unknown_collection_is_a_404_problem(client):
    response = client.get("/collections/gold_mines/tiles/WebMercatorQuad/0/0/0")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "gold_mines" in response.json()["detail"]


def test_tiles_are_cacheable_and_revalidate_with_their_etag(client, busy_tiles):
    url = tile_url("deposits", busy_tiles[0])
    first = client.get(url)
    assert "max-age" in first.headers["cache-control"]
    etag = first.headers["etag"]
    assert client.get(url).headers["etag"] == etag
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.content == first.content


def test_tileset_metadata_describes_the_layer_and_a_working_tile_template(
    client, engine, busy_tiles
):
    listing = client.get("/collections/deposits/tiles").json()
    [tileset_ref] = listing["tilesets"]
    assert (
        tileset_ref["tileMatrixSetURI"]
        == "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    )
    assert tileset_ref["dataType"] == "vector"
    self_href = next(link["href"] for link in tileset_ref["links"] if link["rel"] == "self")
    tileset = client.get(self_href).json()
    # The deposits themselves, and below zoom 10 their clusters (tests/test_tile_clusters.py).
    layer, clusters = tileset["layers"]
    assert (layer["id"], clusters["id"]) == ("deposits", "deposits_clusters")
    assert {
        "id",
        "name",
        "main_commodity",
        "commodities",
        "mine_status",
        "protection_status",
    } <= set(layer["propertiesSchema"]["properties"])
    template = next(link["href"] for link in tileset["links"] if link["rel"] == "item")
    tile = busy_tiles[1]
    filled = template.format(tileMatrix=tile.z, tileRow=tile.y, tileCol=tile.x)
    assert client.get(filled).content == client.get(tile_url("deposits", tile)).content
    with engine.connect() as conn:
        lonlat = [
            wkb.loads(bytes(g))
            for (g,) in conn.execute(text("SELECT ST_AsBinary(geom) FROM deposits"))
        ]
    expected = shapely.GeometryCollection(lonlat).bounds
    bbox = tileset["boundingBox"]
    assert bbox["lowerLeft"] + bbox["upperRight"] == pytest.approx(list(expected), abs=1e-9)


def test_tilejson_points_at_the_tiles_and_credits_ign_for_boundaries(client, busy_tiles):
    tilejson = client.get("/collections/admin_areas/tiles/WebMercatorQuad/tilejson.json").json()
    assert tilejson["tilejson"] == "3.0.0"
    assert "Instituto Geográfico Nacional" in tilejson["attribution"]
    deposits = client.get("/collections/deposits/tiles/WebMercatorQuad/tilejson.json").json()
    tile = busy_tiles[2]
    url = (
        deposits["tiles"][0]
        .replace("{z}", str(tile.z))
        .replace("{x}", str(tile.x))
        .replace("{y}", str(tile.y))
    )
    assert client.get(url).content == client.get(tile_url("deposits", tile)).content
    assert set(deposits["vector_layers"][0]["fields"]) >= {"id", "name", "protection_status"}


def test_the_tile_statement_can_use_the_spatial_index(engine, busy_tiles):
    from geo.features.tiles import tile_layer, tile_query

    query = tile_query(tile_layer("deposits"), busy_tiles[1])
    sql = query.text
    for n in range(len(query.values), 0, -1):  # $10 before $1
        value = query.values[n - 1]
        literal = (
            f"'{value}'"
            if isinstance(value, str)
            else (
                "ARRAY[" + ",".join(f"'{v}'" for v in value) + "]"
                if isinstance(value, list)
                else str(value)
            )
        )
        sql = sql.replace(f"${n}", literal)
    with engine.connect() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
    assert "ix_deposits_geom" in plan


def test_an_edit_shows_in_the_next_tile_and_changes_its_etag(client, engine, busy_tiles):
    tile = busy_tiles[2]
    url = tile_url("deposits", tile)
    before = client.get(url)
    assert client.get(url, headers={"If-None-Match": before.headers["etag"]}).status_code == 304
    # A new deposit at the tile's centre, through SQL as any other writer would.
    lon, lat = TO_MERCATOR.transform(*mercator_box(tile).centroid.coords[0], direction="INVERSE")
    with engine.begin() as conn:
        new_id = conn.execute(
            text(
                "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
                "location_precision, source, source_id, geom) VALUES ('Tile test lode', 'prospect', "
                "ARRAY['lithium'], ARRAY['main'], 'exact', 'test_tiles', 'edit-1', "
                "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"
            ),
            {"lon": lon, "lat": lat},
        ).scalar_one()
    try:
        after = client.get(url, headers={"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200
        assert after.headers["etag"] != before.headers["etag"]
        layer = mapbox_vector_tile.decode(after.content)["deposits"]
        assert new_id in {f["id"] for f in layer["features"]}
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM deposits WHERE id = :id"), {"id": new_id})
    assert client.get(url).content == before.content


def test_the_tiling_scheme_is_served_as_the_tileset_links_to_it(client):
    tileset = client.get("/collections/protection_zones/tiles/WebMercatorQuad").json()
    scheme_url = next(
        link["href"]
        for link in tileset["links"]
        if link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
    )
    scheme = client.get(scheme_url).json()
    assert scheme["id"] == "WebMercatorQuad"
    assert [m["id"] for m in scheme["tileMatrices"]] == [str(z) for z in range(25)]
    assert scheme["tileMatrices"][3]["matrixWidth"] == 8
    listing = client.get("/tileMatrixSets").json()
    assert [s["id"] for s in listing["tileMatrixSets"]] == ["WebMercatorQuad"]


def test_the_tile_cache_keeps_the_most_recently_used_tiles_within_its_budget():
    from api.tile_cache import TileCache

    cache = TileCache(budget=10)
    cache.put("a", b"1234")
    cache.put("b", b"5678")
    assert cache.get("a") == b"1234"  # now the most recently used
    cache.put("c", b"90ab")  # 12 bytes > 10: the least recently used ("b") goes
    assert cache.get("b") is None
    assert cache.get("a") == b"1234" and cache.get("c") == b"90ab"
    assert cache.used == 8
    cache.put("huge", b"x" * 11)  # larger than the whole budget: not kept, nothing evicted
    assert cache.get("huge") is None and cache.used == 8
    nothing = TileCache(budget=0)
    nothing.put("empty", b"")
    assert nothing.get("empty") is None


def test_collections_and_landing_page_link_to_tiles_and_the_map(client):
    landing = {link["rel"]: link["href"] for link in client.get("/").json()["links"]}
    assert client.get(landing["related"]).status_code == 200
    assert (
        client.get(landing["http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"]).status_code
        == 200
    )
    for collection in client.get("/collections").json()["collections"]:
        tilesets = [
            link["href"]
            for link in collection["links"]
            if link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
        ]
        assert tilesets and client.get(tilesets[0]).status_code == 200
