"""area= everywhere: /deposits, the OGC items of every collection, the `area` queryable,
downloads, tiles and the deposits' batch screening agree on what lies in an admin area, checked
against shapely intersections with the area's outline read from the table."""

from __future__ import annotations

import io
from collections import Counter

import mapbox_vector_tile
import morecantile
import pyogrio
import pytest
from shapely import wkb
from sqlalchemy import text

HEADLINE = {"commodity": "W,Li", "area": "leon", "protection": "outside", "limit": 1000}
FREE_W_LI = "commodity IN ('tungsten','lithium') AND protection_status = 'free'"


def _outline(engine, code: str):
    with engine.connect() as conn:
        return wkb.loads(
            bytes(
                conn.execute(
                    text("SELECT ST_AsBinary(geom) FROM admin_areas WHERE code = :c"), {"c": code}
                ).scalar()
            )
        )


def _in_area(engine, table: str, code: str) -> set:
    outline = _outline(engine, code)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, ST_AsBinary(geom) FROM {table}")).all()
    return {r[0] for r in rows if wkb.loads(bytes(r[1])).intersects(outline)}


def test_the_readme_deposit_screening_query_agrees_with_deposits(client):
    deposits = client.get("/deposits", params=HEADLINE).json()
    by_parameter = client.get(
        "/collections/deposit_screening/items",
        params={"filter": FREE_W_LI, "area": "leon", "limit": 1000},
    ).json()
    by_queryable = client.get(
        "/collections/deposit_screening/items",
        params={"filter": FREE_W_LI + " AND area = '24'", "limit": 1000},
    ).json()
    everywhere = client.get(
        "/collections/deposit_screening/items", params={"filter": FREE_W_LI, "limit": 1000}
    ).json()
    ids = {f["id"] for f in deposits["features"]}
    assert deposits["numberMatched"] == len(ids) > 0
    assert by_parameter["numberMatched"] == by_queryable["numberMatched"] == len(ids)
    assert (
        {f["id"] for f in by_parameter["features"]}
        == {f["id"] for f in by_queryable["features"]}
        == ids
    )
    # The sample has deposits outside León (Salamanca, Zamora): without the area there are more.
    assert everywhere["numberMatched"] > len(ids)


@pytest.mark.parametrize(
    "collection, table",
    [
        ("deposits", "deposits"),
        ("permits", "permits"),
        ("protection_zones", "protection_zones"),
    ],
)
def test_every_collection_takes_area_by_name_or_code(client, engine, collection, table):
    expected = _in_area(engine, table, "24115")  # Ponferrada
    assert expected
    for area in ("24115", "PONFERRADA"):
        page = client.get(
            f"/collections/{collection}/items", params={"area": area, "limit": 10000}
        ).json()
        assert {f["id"] for f in page["features"]} == expected, area
        assert page["numberMatched"] == len(expected)
    assert any(link["rel"] == "self" and "area=" in link["href"] for link in page["links"])


def test_the_area_queryable_is_listed_and_an_unknown_area_is_named(client):
    queryables = client.get("/collections/permits/queryables").json()
    assert "area" in queryables["properties"]
    response = client.get("/collections/permits/items", params={"area": "Ponferada"})
    assert response.status_code == 400
    problem = response.json()
    assert problem["invalid_params"][0]["name"] == "area" and "Ponferrada" in problem["detail"]


def test_downloads_and_the_deposit_screening_table_take_area(client, engine):
    expected = _in_area(engine, "permits", "24")
    response = client.get("/downloads/permits", params={"format": "geojson", "area": "leon"})
    assert response.status_code == 200, response.text
    frame = pyogrio.read_dataframe(io.BytesIO(response.content))
    assert set(frame["id"]) == expected

    deposits = _in_area(engine, "deposits", "24")
    rows = client.get("/screening/deposits", params={"area": "24", "f": "geojson"}).json()[
        "features"
    ]
    assert {int(r["id"]) for r in rows} == deposits


def _tile_ids(response) -> set[int]:
    if response.status_code == 204:
        return set()
    assert response.status_code == 200, response.text
    return {f["id"] for f in mapbox_vector_tile.decode(response.content)["deposits"]["features"]}


def test_tiles_take_area(client, engine):
    # At z10, where tiles carry the deposits themselves (their clusters below: see
    # tests/test_tile_clusters.py): the busiest tile of deposits in the area and the busiest of
    # deposits outside it (the same tile when one holds both).
    tms = morecantile.tms.get("WebMercatorQuad")
    with engine.connect() as conn:
        points = conn.execute(
            text("SELECT id, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM deposits")
        ).all()
    for area, code in (("leon", "24"), ("Ponferrada", "24115")):
        inside = _in_area(engine, "deposits", code)
        tiles = [
            Counter(
                tms.tile(x, y, 10) for i, x, y in points if (i in inside) == wanted
            ).most_common(1)[0][0]
            for wanted in (True, False)
        ]
        everywhere, shown = set(), set()
        for tile in set(tiles):
            url = f"/collections/deposits/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
            ids = _tile_ids(client.get(url))
            everywhere |= ids
            shown |= _tile_ids(client.get(url, params={"area": area}))
        assert shown == inside & everywhere
        assert shown and shown < everywhere, area
