"""OGC API – Features: documents, paging, CRSs, sorting, formats, caching and errors, checked
against the database's own rows and independent shapely/pyproj computations."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import geopandas
import pandas
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box, shape
from sqlalchemy import text

FEATURES_1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
QGIS_FILTER_CLASSES = {
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
}
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
COLLECTIONS = ("deposits", "deposit_screening", "permits", "protection_zones", "admin_areas")
TABLES = {
    "deposits": "deposits",
    "deposit_screening": "deposits",
    "permits": "permits",
    "protection_zones": "protection_zones",
    "admin_areas": "admin_areas",
}


@pytest.fixture(scope="module")
def deposits(engine) -> geopandas.GeoDataFrame:
    """Every stored deposit with its lon/lat geometry, read straight from the table."""
    return geopandas.read_postgis(
        "SELECT id, name, main_commodity, size_class, depth_top_m, geom FROM "
        "(SELECT *, commodities[1] AS main_commodity FROM deposits) d ORDER BY id",
        engine,
        geom_col="geom",
    )


def count_rows(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()


def assert_problem(response, parameter: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["invalid_params"][0]["name"] == parameter


def all_pages(client, url: str) -> list[dict]:
    features = []
    while url:
        page = client.get(url).json()
        features += page["features"]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    return features


# --- The service documents ------------------------------------------------------------------


def test_landing_page_links_what_qgis_and_gdal_look_for(client):
    links = {link["rel"]: link for link in client.get("/").json()["links"]}
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert links["service-desc"]["href"].endswith("/api")
    assert links["service-doc"]["href"].endswith("/api.html")
    assert links["conformance"]["href"].endswith("/conformance")
    assert links["data"]["href"].endswith("/collections")
    assert links["data"]["type"] == "application/json"


def test_conformance_declares_what_qgis_needs_for_filter_push_down_and_crs(client):
    classes = set(client.get("/conformance").json()["conformsTo"])
    assert classes >= QGIS_FILTER_CLASSES
    assert {FEATURES_1 + c for c in ("core", "geojson", "html", "oas30")} <= classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes


def test_openapi_declares_limit_default_and_maximum(client):
    api = client.get("/api").json()
    parameters = api["paths"]["/collections/{collectionId}/items"]["get"]["parameters"]
    limit = next(p for p in parameters if p["name"] == "limit")["schema"]
    assert limit["default"] == 100 and limit["maximum"] == 10_000


def test_the_api_definition_is_openapi_3_0_as_declared(client):
    # Conformance says oas30 and the landing page's service-desc type says version=3.0.
    api = client.get("/api").json()
    assert api["openapi"].startswith("3.0.")

    def nodes(node):
        if isinstance(node, dict):
            yield node
            for value in node.values():
                yield from nodes(value)
        elif isinstance(node, list):
            for value in node:
                yield from nodes(value)

    # OpenAPI 3.1's way of saying "optional"; 3.0 says nullable.
    assert not any(n.get("type") == "null" for n in nodes(api))


def test_every_collection_is_listed_with_crs_list_storage_crs_and_items_link(client):
    collections = {c["id"]: c for c in client.get("/collections").json()["collections"]}
    assert set(COLLECTIONS) <= set(collections)
    for collection_id in COLLECTIONS:
        doc = collections[collection_id]
        assert "." not in collection_id
        assert doc["storageCrs"] == CRS84
        assert {CRS84, EPSG.format(4326), EPSG.format(25830), EPSG.format(3035)} <= set(doc["crs"])
        items = [
            link
            for link in doc["links"]
            if link["rel"] == "items" and link["type"] == "application/geo+json"
        ]
        assert items and items[0]["href"].endswith(f"/collections/{collection_id}/items")


def test_collection_extent_is_the_bounding_box_of_its_features(client, deposits):
    west, south, east, north = client.get("/collections/deposits").json()["extent"]["spatial"][
        "bbox"
    ][0]
    assert (west, south, east, north) == pytest.approx(tuple(deposits.total_bounds), abs=1e-6)


def test_temporal_extent_is_open_where_a_validity_is_open(client, engine):
    with engine.connect() as conn:
        starts, ends = conn.execute(
            text("SELECT array_agg(valid_from), array_agg(valid_to) FROM protection_zones")
        ).one()
    first, last = client.get("/collections/protection_zones").json()["extent"]["temporal"][
        "interval"
    ][0]
    assert first == (None if None in starts else min(starts).isoformat())
    assert last == (None if None in ends else max(ends).isoformat())


def test_queryables_are_a_json_schema_of_the_properties_and_geometry(client):
    response = client.get("/collections/deposit_screening/queryables")
    assert response.headers["content-type"] == "application/schema+json"
    schema = response.json()
    assert schema["type"] == "object"
    assert schema["properties"]["protection_status"]["enum"] == ["free", "conditional", "excluded"]
    assert schema["properties"]["nearest_zone_distance_m"]["type"] == "number"
    assert "geometry" in schema["properties"]


def test_collection_schema_types_every_property(client):
    schema = client.get("/collections/deposits/schema").json()
    properties = schema["properties"]["properties"]["properties"]
    assert properties["depth_top_m"]["type"] == "number"
    assert properties["retrieved_at"]["format"] == "date"
    assert properties["critical_raw_material"]["type"] == "boolean"
    links = client.get("/collections/deposits").json()["links"]
    assert any(
        link["rel"] == "describedby" and link["href"].endswith("/collections/deposits/schema")
        for link in links
    )


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/conformance",
        "/collections",
        "/collections/permits",
        "/collections/permits/items",
        "/collections/admin_areas/items/24",
    ],
)
def test_html_pages_render_for_browsers(client, path):
    response = client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>" in response.text and "Veta" in response.text


def test_an_items_page_in_html_lists_its_features_with_links(client):
    page = client.get("/collections/protection_zones/items?f=html&limit=5").text
    assert "Las Médulas" in page or "Picos de Europa" in page
    assert "/collections/protection_zones/items/1?f=html" in page


@pytest.mark.parametrize(
    "accept,f",
    [
        ("application/json", None),
        ("application/geo+json", None),
        (None, "json"),
        (None, "geojson"),
        ("*/*", None),
    ],
)
def test_json_and_geojson_requests_all_get_geojson(client, accept, f):
    response = client.get(
        "/collections/deposits/items",
        params={"f": f} if f else {},
        headers={"Accept": accept} if accept else {},
    )
    assert response.headers["content-type"] == "application/geo+json"
    assert response.json()["type"] == "FeatureCollection"


# --- Counts, paging -------------------------------------------------------------------------


@pytest.mark.parametrize("collection_id", COLLECTIONS)
def test_number_matched_is_the_exact_count_of_the_table(client, engine, collection_id):
    page = client.get(f"/collections/{collection_id}/items?limit=10").json()
    assert page["numberMatched"] == count_rows(engine, TABLES[collection_id])
    assert page["numberReturned"] == len(page["features"]) == 10


def test_following_next_returns_every_feature_exactly_once(client, deposits):
    features = all_pages(client, "/collections/deposits/items?limit=50&properties=name")
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids)) == len(deposits)
    assert set(ids) == set(deposits["id"])


def test_next_links_keep_every_query_parameter_and_are_geojson(client):
    page = client.get(
        "/collections/deposits/items?limit=5&bbox=-7.5,42,-5,43.5&properties=name&sortby=-name"
    ).json()
    next_link = next(link for link in page["links"] if link["rel"] == "next")
    assert next_link["type"] == "application/geo+json"
    query = parse_qs(urlsplit(next_link["href"]).query)
    assert query["limit"] == ["5"] and query["bbox"] == ["-7.5,42,-5,43.5"]
    assert query["properties"] == ["name"] and query["sortby"] == ["-name"] and query["cursor"]


def test_sorted_paging_with_nulls_and_ties_visits_every_feature_once(client, deposits):
    # size_class has many ties and NULLs; depth_top_m too: the keyset must still be total.
    features = all_pages(
        client, "/collections/deposits/items?limit=40&sortby=-size_class,depth_top_m"
    )
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids)) == len(deposits)
    # NULLs last, then the size classes in descending order (ties broken by depth, then id).
    classes = [f["properties"]["size_class"] for f in features]
    non_null = [c for c in classes if c is not None]
    assert classes[: len(non_null)] == non_null
    assert non_null == sorted(non_null, reverse=True)


def test_prev_returns_the_page_before(client):
    first = client.get("/collections/permits/items?limit=7").json()
    second = client.get(
        next(link["href"] for link in first["links"] if link["rel"] == "next")
    ).json()
    third = client.get(
        next(link["href"] for link in second["links"] if link["rel"] == "next")
    ).json()
    back = client.get(next(link["href"] for link in third["links"] if link["rel"] == "prev")).json()
    assert [f["id"] for f in back["features"]] == [f["id"] for f in second["features"]]
    assert not any(link["rel"] == "prev" for link in first["links"])


def test_a_limit_of_ten_thousand_is_accepted(client, deposits):
    page = client.get("/collections/deposits/items?limit=10000&properties=").json()
    assert page["numberReturned"] == len(deposits)
    assert not any(link["rel"] == "next" for link in page["links"])


# --- Filters: bbox, datetime, property=value --------------------------------------------------


def test_bbox_selects_the_features_shapely_says_intersect_it(client, deposits):
    area = (-6.9, 42.3, -5.8, 42.9)
    expected = set(deposits[deposits.intersects(box(*area))]["id"])
    page = client.get(
        "/collections/deposits/items", params={"bbox": ",".join(map(str, area)), "limit": 10000}
    ).json()
    assert {f["id"] for f in page["features"]} == expected
    assert page["numberMatched"] == len(expected) > 0


def test_bbox_in_utm_30n_selects_what_lies_in_that_box_in_utm(client, deposits):
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:25830", always_xy=True)
    utm = deposits.to_crs(25830)
    area = (230_000, 4_700_000, 320_000, 4_780_000)
    expected = set(utm[utm.intersects(box(*area))]["id"])
    page = client.get(
        "/collections/deposits/items",
        params={"bbox": ",".join(map(str, area)), "bbox-crs": EPSG.format(25830), "limit": 10000},
    ).json()
    assert {f["id"] for f in page["features"]} == expected and expected
    assert to_utm.transform(-6, 42.5)[0] > 0  # the transform itself is sane


def test_bbox_in_epsg_4326_is_latitude_first_and_selects_the_same_as_crs84(client):
    lonlat = client.get("/collections/deposits/items?bbox=-6.9,42.3,-5.8,42.9&limit=10000").json()
    latlon = client.get(
        "/collections/deposits/items",
        params={"bbox": "42.3,-6.9,42.9,-5.8", "bbox-crs": EPSG.format(4326), "limit": 10000},
    ).json()
    assert {f["id"] for f in latlon["features"]} == {f["id"] for f in lonlat["features"]}


def test_datetime_selects_rights_whose_validity_meets_the_interval(client, engine):
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, granted_on, expires_on FROM permits")).all()
    start, end = date(2020, 1, 1), date(2020, 12, 31)
    expected = {
        r.id
        for r in rows
        if (r.expires_on is None or r.expires_on >= start)
        and (r.granted_on is None or r.granted_on <= end)
    }
    page = client.get("/collections/permits/items?datetime=2020-01-01/2020-12-31&limit=1000").json()
    assert {f["id"] for f in page["features"]} == expected
    open_end = client.get("/collections/permits/items?datetime=2020-01-01/..&limit=1000").json()
    assert {f["id"] for f in open_end["features"]} == {
        r.id for r in rows if r.expires_on is None or r.expires_on >= start
    }


def test_a_filter_geometry_in_utm_selects_what_lies_in_it_in_utm(client, deposits):
    west, south, east, north = 230_000, 4_700_000, 320_000, 4_780_000
    polygon = (
        f"POLYGON(({west} {south},{east} {south},{east} {north},{west} {north},{west} {south}))"
    )
    utm = deposits.to_crs(25830)
    expected = set(utm[utm.intersects(box(west, south, east, north))]["id"])
    page = client.get(
        "/collections/deposits/items",
        params={
            "filter": f"S_INTERSECTS(geometry, {polygon})",
            "filter-crs": EPSG.format(25830),
            "limit": 10000,
        },
    ).json()
    assert {f["id"] for f in page["features"]} == expected and expected


def test_cql2_json_and_cql2_text_select_the_same(client, deposits):
    text = client.get(
        "/collections/deposits/items",
        params={"filter": "main_commodity = 'tungsten' OR depth_top_m > 300", "limit": 10000},
    ).json()
    as_json = client.get(
        "/collections/deposits/items",
        params={
            "filter-lang": "cql2-json",
            "limit": 10000,
            "filter": '{"op":"or","args":[{"op":"=","args":[{"property":"main_commodity"},"tungsten"]},'
            '{"op":">","args":[{"property":"depth_top_m"},300]}]}',
        },
    ).json()
    expected = set(
        deposits[(deposits["main_commodity"] == "tungsten") | (deposits["depth_top_m"] > 300)]["id"]
    )
    assert {f["id"] for f in text["features"]} == {f["id"] for f in as_json["features"]} == expected


def test_a_temporal_cql2_filter_agrees_with_the_datetime_parameter(client):
    by_datetime = client.get(
        "/collections/permits/items?datetime=2020-01-01/2020-12-31&limit=1000"
    ).json()
    by_filter = client.get(
        "/collections/permits/items",
        params={
            "limit": 1000,
            "filter": "T_INTERSECTS(INTERVAL(granted_on, expires_on), INTERVAL('2020-01-01', '2020-12-31'))",
        },
    ).json()
    assert {f["id"] for f in by_filter["features"]} == {f["id"] for f in by_datetime["features"]}


def test_a_property_as_query_parameter_filters_by_equality(client, deposits):
    page = client.get("/collections/deposits/items?main_commodity=tungsten&limit=1000").json()
    assert {f["id"] for f in page["features"]} == set(
        deposits[deposits["main_commodity"] == "tungsten"]["id"]
    )


def test_properties_returns_only_the_named_properties(client):
    page = client.get("/collections/deposits/items?properties=name,size_class&limit=3").json()
    assert all(set(f["properties"]) == {"name", "size_class"} for f in page["features"])


# --- CRS (Part 2) -----------------------------------------------------------------------------


@pytest.mark.parametrize("srid", [4326, 4258, 25829, 25830, 3035, 3857])
def test_coordinates_in_a_requested_crs_match_pyproj_in_that_crs_axis_order(client, deposits, srid):
    # always_xy=False: pyproj answers in the CRS's own axis order (lat first for 4326 and 4258,
    # northing first for 3035), which is what the standard requires of the server.
    transformer = Transformer.from_crs("OGC:CRS84", f"EPSG:{srid}", always_xy=False)
    response = client.get(f"/collections/deposits/items?crs={EPSG.format(srid)}&limit=10000")
    assert response.headers["Content-Crs"] == f"<{EPSG.format(srid)}>"
    stored = dict(zip(deposits["id"], deposits["geom"]))
    tolerance = 1e-8 if srid in (4326, 4258) else 0.01  # 1 cm
    for feature in response.json()["features"]:
        if feature["geometry"]["type"] != "Point":
            continue
        point = stored[feature["id"]]
        expected = transformer.transform(point.x, point.y)
        assert feature["geometry"]["coordinates"] == pytest.approx(expected, abs=tolerance)


def test_epsg_4326_is_latitude_first(client, deposits):
    first = deposits.iloc[0]
    feature = client.get(
        f"/collections/deposits/items/{first['id']}?crs={EPSG.format(4326)}"
    ).json()
    assert feature["geometry"]["coordinates"] == pytest.approx([first["geom"].y, first["geom"].x])


def test_default_crs_is_crs84_lon_lat(client, deposits):
    response = client.get("/collections/deposits/items?limit=1")
    assert response.headers["Content-Crs"] == f"<{CRS84}>"
    feature = response.json()["features"][0]
    stored = deposits.set_index("id").loc[feature["id"], "geom"]
    assert shape(feature["geometry"]).equals_exact(stored, 1e-9)


# --- Formats -------------------------------------------------------------------------------


def test_csv_has_a_row_per_feature_with_wkt_in_the_requested_crs(client, deposits):
    response = client.get(f"/collections/deposits/items?f=csv&limit=10000&crs={EPSG.format(25830)}")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(deposits)
    utm = deposits.to_crs(25830).set_index("id")
    for row in rows[:50]:
        assert shapely.from_wkt(row["wkt"]).equals_exact(utm.loc[int(row["id"]), "geom"], 0.01)


def test_flatgeobuf_download_round_trips_count_crs_and_geometry(client, deposits):
    response = client.get(f"/collections/deposits/items?f=fgb&limit=10000&crs={EPSG.format(25830)}")
    assert response.headers["content-type"] == "application/flatgeobuf"
    frame = pyogrio.read_dataframe(io.BytesIO(response.content))
    assert len(frame) == len(deposits)
    assert frame.crs.to_epsg() == 25830
    utm = deposits.to_crs(25830).set_index("id")
    for row in frame.head(50).itertuples():
        assert row.geometry.equals_exact(utm.loc[int(row.id), "geom"], 0.01)


def test_flatgeobuf_keeps_dates_typed(client, engine):
    response = client.get("/collections/permits/items?f=fgb&limit=1000")
    frame = pyogrio.read_dataframe(io.BytesIO(response.content))
    assert str(frame["granted_on"].dtype).startswith("datetime64")
    with engine.connect() as conn:
        granted = dict(conn.execute(text("SELECT id, granted_on FROM permits")).all())
    assert len(frame) == len(granted)
    for row in frame.itertuples():
        if granted[row.id] is None:
            assert pandas.isna(row.granted_on)
        else:
            assert row.granted_on.date() == granted[row.id]


def test_csv_pages_link_to_the_next_page_in_the_link_header(client):
    response = client.get("/collections/permits/items?f=csv&limit=10")
    assert 'rel="next"' in response.headers["Link"]


# --- Caching -------------------------------------------------------------------------------


def test_etag_answers_304_until_the_data_changes(client, engine):
    url = "/collections/protection_zones/items?limit=5"
    first = client.get(url)
    etag = first.headers["ETag"]
    assert "max-age" in first.headers["Cache-Control"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    rename = (
        "UPDATE protection_zones SET name = :name WHERE id = (SELECT min(id) FROM protection_zones)"
    )
    with engine.begin() as conn:
        before = conn.execute(
            text("SELECT name FROM protection_zones ORDER BY id LIMIT 1")
        ).scalar()
        conn.execute(text(rename), {"name": before + " (renamed)"})
    try:
        changed = client.get(url, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag
    finally:
        with engine.begin() as conn:
            conn.execute(text(rename), {"name": before})
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_every_document_has_an_etag_and_answers_304(client):
    for path in (
        "/",
        "/conformance",
        "/collections",
        "/collections/deposits",
        "/collections/deposits/queryables",
        "/collections/deposits/items/1",
        "/collections/deposits/items?f=csv&limit=3",
    ):
        etag = client.get(path).headers["ETag"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304, path


def test_a_different_query_has_a_different_etag(client):
    a = client.get("/collections/deposits/items?limit=5").headers["ETag"]
    b = client.get("/collections/deposits/items?limit=6").headers["ETag"]
    assert a != b


# --- Errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query,parameter",
    [
        ("crs=EPSG:9999", "crs"),
        ("bbox=1,2,3&bbox-crs=EPSG:1234", "bbox-crs"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("bbox=5,42,4,43", "bbox"),
        ("bbox-crs=EPSG:25830", "bbox-crs"),
        ("sortby=nonexistent", "sortby"),
        ("sortby=licence", "sortby"),
        ("properties=name,nonexistent", "properties"),
        ("datetime=yesterday", "datetime"),
        ("datetime=2020-02-01/2020-01-01", "datetime"),
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=many", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        # A cursor of the default order (by id) used with another sort order, and one with a key
        # that is not of the id's type.
        ("cursor=W1siNTAiXSwiIixmYWxzZV0&sortby=name", "cursor"),
        ("cursor=W1siYWJjIl0sIiIsZmFsc2Vd", "cursor"),
        ("f=xml", "f"),
        ("colour=red", "colour"),
        ("size_class=gigantic", "size_class"),
        ("depth_top_m=deep", "depth_top_m"),
        ("filter=name%20%3D", "filter"),
        ("filter=colour%20%3D%20'red'", "filter"),
        ("filter=depth_top_m%20%3D%20'deep'", "filter"),
        ("filter=name%3D'x'&filter-lang=sql", "filter-lang"),
        ("filter-lang=cql2-text", "filter-lang"),
    ],
)
def test_each_malformed_parameter_is_a_400_problem_naming_it(client, query, parameter):
    assert_problem(client.get(f"/collections/deposits/items?{query}"), parameter)


def test_datetime_on_a_collection_without_time_is_refused(client):
    assert_problem(client.get("/collections/admin_areas/items?datetime=2020-01-01"), "datetime")


def test_unknown_collection_and_item_are_404_problems(client):
    for path in (
        "/collections/nope",
        "/collections/nope/items",
        "/collections/deposits/items/999999",
        "/collections/deposits/items/abc",
        "/collections/admin_areas/items/XX",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


def test_an_unacceptable_media_type_is_406(client):
    response = client.get("/collections/deposits/items", headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["title"] == "Not acceptable"
    assert "application/geo+json" in body["detail"]
    spanish = client.get(
        "/collections/deposits/items", headers={"Accept": "image/png", "Accept-Language": "es"}
    )
    assert spanish.json()["title"] == "Formato no aceptable"


def test_a_method_or_path_not_served_says_what_is(client):
    wrong_method = client.get("/screening", params={"lon": -6.5, "lat": 42.5})
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.json()["detail"] == "GET is not allowed on /screening (allowed: POST)"
    nowhere = client.get("/depositos")
    assert nowhere.status_code == 404
    assert nowhere.headers["content-type"] == "application/problem+json"
    assert (
        nowhere.json()["detail"]
        == "nothing is served at /depositos; http://testserver/ lists what is"
    )


def test_cql2_crafted_as_sql_injection_is_a_literal_or_refused(client, engine, deposits):
    literal = "name = 'x''; DROP TABLE deposits; --'"
    page = client.get("/collections/deposits/items", params={"filter": literal}).json()
    assert page["numberMatched"] == 0
    broken_out = "name = 'x'; DROP TABLE deposits; --"
    assert_problem(
        client.get("/collections/deposits/items", params={"filter": broken_out}), "filter"
    )
    assert count_rows(engine, "deposits") == len(deposits)


def test_a_right_past_its_expiry_reads_as_lapsed_in_the_permits_collection(client, engine):
    expired = date.today() - timedelta(days=1)
    with engine.begin() as conn:
        permit_id = conn.execute(
            text(
                "INSERT INTO permits (registry_number, name, right_type, status, applied_on, granted_on, "
                "expires_on, commodities, source, geom) VALUES ('T-OGC-LAPSE', 'Expired test right', 'investigation', "
                "'granted', :applied, :granted, :expires, ARRAY['tin'], 'test', ST_GeomFromText("
                "'MULTIPOLYGON(((-6 42.5,-5.99444444444444 42.5,-5.99444444444444 42.5055555555556,"
                "-6 42.5055555555556,-6 42.5)))', 4326)) RETURNING id"
            ),
            {
                "applied": expired - timedelta(days=800),
                "granted": expired - timedelta(days=700),
                "expires": expired,
            },
        ).scalar()
    try:
        properties = client.get(f"/collections/permits/items/{permit_id}").json()["properties"]
        assert properties["status"] == "lapsed"
        assert properties["registry_status"] == "granted"
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM permits WHERE id = :id"), {"id": permit_id})
