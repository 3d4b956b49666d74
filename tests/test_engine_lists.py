"""The REST lists are the engine's items queries: the same features as the collections' items,
keyset paging with opaque cursors (a bare id from an old link still read), and items pages
streamed by the same writer, whole with an ETag when they fit in one chunk."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from shapely.geometry import shape

from api.streaming import CHUNK_ROWS


def _next_cursor(body: dict) -> str | None:
    hrefs = [link["href"] for link in body["links"] if link["rel"] == "next"]
    return parse_qs(urlsplit(hrefs[0]).query)["cursor"][0] if hrefs else None


def test_a_deposit_reads_alike_in_the_search_and_in_the_collection_items(client):
    search = client.get("/deposits", params={"limit": 20}).json()
    items = client.get("/collections/deposits/items", params={"limit": 20}).json()
    assert [f["id"] for f in search["features"]] == [f["id"] for f in items["features"]]
    assert search["numberMatched"] == items["numberMatched"]
    for a, b in zip(search["features"], items["features"]):
        assert a["properties"] == b["properties"]
        assert shape(a["geometry"]).equals_exact(shape(b["geometry"]), 1e-9)


def test_a_bare_id_from_an_old_next_link_reads_the_same_page_as_the_opaque_cursor(client):
    first = client.get("/deposits", params={"limit": 5}).json()
    cursor = _next_cursor(first)
    assert cursor is not None and cursor != str(first["features"][-1]["id"])
    by_cursor = client.get("/deposits", params={"limit": 5, "cursor": cursor}).json()
    by_id = client.get(
        "/deposits", params={"limit": 5, "cursor": str(first["features"][-1]["id"])}
    ).json()
    assert by_cursor["features"] == by_id["features"]
    assert [f["id"] for f in by_cursor["features"]] == sorted(
        f["id"] for f in by_cursor["features"]
    )
    assert by_cursor["features"][0]["id"] > first["features"][-1]["id"]


@pytest.mark.parametrize("path", ["/deposits", "/permits"])
def test_a_cursor_of_another_sort_order_is_refused_naming_cursor(client, path):
    sorted_page = client.get(
        "/collections/deposits/items", params={"limit": 1, "sortby": "name"}
    ).json()
    answer = client.get(path, params={"cursor": _next_cursor(sorted_page)})
    assert answer.status_code == 400
    assert answer.json()["invalid_params"][0]["name"] == "cursor"


def test_following_permit_pages_returns_every_right_once(client):
    every = client.get("/permits", params={"limit": 10_000}).json()
    seen, cursor = [], None
    while True:
        params = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = client.get("/permits", params=params).json()
        assert page["numberMatched"] == every["numberMatched"]
        seen += [f["id"] for f in page["features"]]
        cursor = _next_cursor(page)
        if cursor is None:
            break
    assert seen == [f["id"] for f in every["features"]]


def test_a_page_longer_than_a_chunk_streams_without_an_etag_and_has_every_feature(client):
    url = "/collections/grid_cells/items"
    limit = CHUNK_ROWS + 100
    whole = client.get(url, params={"limit": limit})
    assert whole.status_code == 200
    assert "ETag" not in whole.headers and "max-age" in whole.headers["Cache-Control"]
    body = whole.json()
    assert body["numberReturned"] == limit == len(body["features"])
    # The same features as two shorter pages, each of which fits in a chunk and is hashed.
    first = client.get(url, params={"limit": limit // 2})
    second = client.get(
        url, params={"limit": limit - limit // 2, "cursor": _next_cursor(first.json())}
    )
    assert "ETag" in first.headers and "ETag" in second.headers
    ids = [f["id"] for f in first.json()["features"] + second.json()["features"]]
    assert ids == [f["id"] for f in body["features"]]
    assert body["numberMatched"] == first.json()["numberMatched"]


def test_a_page_of_one_chunk_keeps_its_etag_and_answers_304(client):
    url = "/collections/deposits/items?limit=50"
    etag = client.get(url).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
