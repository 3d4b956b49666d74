"""Hostile input: each finding of the probe (issue 18) reproduced, with its neighbours.

Every answer must be a fast 4xx problem+json naming the parameter (or the right answer),
never a 500 or a driver's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import http.client
import io
import json
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

import httpx
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from pyproj import CRS, Transformer

from api.app import create_app
from geo.core.settings import Settings, get_settings

PROBLEM = "application/problem+json"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


def refused(response, status: int, parameter: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    if parameter:
        assert [p["name"] for p in body["invalid_params"]] == [parameter], body
    return body


# -- finding 1: a huge projected BBOX in a filter -------------------------------------------


@pytest.mark.parametrize("extent", [1e9, 4e9, 1e12])
def test_a_giant_projected_bbox_in_a_filter_is_refused_before_any_sql(client, extent):
    response = client.get(
        "/collections/deposits/items",
        params={
            "filter": f"S_INTERSECTS(geometry,BBOX({-extent},{-extent},{extent},{extent}))",
            "filter-crs": EPSG.format(3857),
        },
    )
    body = refused(response, 400, "filter")
    assert "area of use" in body["detail"] and "filter-crs" in body["detail"]


def test_a_whole_world_mercator_bbox_in_a_filter_is_answered(client):
    # The largest box the CRS's area of use allows: densified coarsely, not at 1 km.
    response = client.get(
        "/collections/deposits/items",
        params={
            "filter": "S_INTERSECTS(geometry,BBOX(-20037508,-20037508,20037508,20037508))",
            "filter-crs": EPSG.format(3857),
            "limit": 1,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["numberMatched"] > 0


@pytest.mark.parametrize("lang", ["cql2-text", "cql2-json"])
def test_a_filter_polygon_with_too_many_vertices_is_refused(client, monkeypatch, lang):
    # A 64 KB URL holds about 4,000 vertices: the limit is lowered to show it is checked.
    monkeypatch.setattr(get_settings(), "geometry_max_vertices", 100)
    ring = [[-6.0 + i * 1e-5, 42.0] for i in range(101)] + [[-6.0, 42.5], [-6.0, 42.0]]
    if lang == "cql2-text":
        text = "S_INTERSECTS(geometry,POLYGON((" + ",".join(f"{x} {y}" for x, y in ring) + ")))"
    else:
        text = json.dumps(
            {
                "op": "s_intersects",
                "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [ring]}],
            }
        )
    body = refused(
        client.get("/collections/deposits/items", params={"filter": text, "filter-lang": lang}),
        400,
        "filter",
    )
    assert "100 vertices" in body["detail"]
    monkeypatch.setattr(get_settings(), "geometry_max_vertices", 103)
    assert (
        client.get(
            "/collections/deposits/items", params={"filter": text, "filter-lang": lang}
        ).status_code
        == 200
    )


# -- finding 2: a bbox outside the projection's domain -------------------------------------


def test_a_bbox_far_outside_its_projected_crs_is_refused_naming_bbox(client):
    body = refused(
        client.get(
            "/collections/deposits/items",
            params={"bbox": "0,0,1e8,1e8", "bbox-crs": EPSG.format(25830)},
        ),
        400,
        "bbox",
    )
    assert "bbox-crs" in body["detail"]


def test_the_same_box_in_a_filter_is_refused_naming_filter(client):
    refused(
        client.get(
            "/collections/deposits/items",
            params={
                "filter": "S_INTERSECTS(geometry,BBOX(0,0,1e8,1e8))",
                "filter-crs": EPSG.format(25830),
            },
        ),
        400,
        "filter",
    )


def test_a_bbox_of_leon_in_utm_30_still_selects_what_a_lonlat_bbox_does(client):
    # León's west reaches 7.1°W, a degree beyond zone 30's area of use: within the margin.
    to_utm = Transformer.from_crs(4326, 25830, always_xy=True)
    lonlat = (-7.1, 42.0, -4.7, 43.3)
    xs, ys = to_utm.transform([lonlat[0], lonlat[2]], [lonlat[1], lonlat[3]])
    utm = client.get(
        "/collections/deposits/items",
        params={
            "bbox": f"{min(xs)},{min(ys)},{max(xs)},{max(ys)}",
            "bbox-crs": EPSG.format(25830),
            "limit": 1,
        },
    )
    assert utm.status_code == 200, utm.text
    assert utm.json()["numberMatched"] > 0


def test_a_site_far_outside_its_projected_crs_is_refused(client):
    body = refused(
        client.post(
            "/screening",
            json={"type": "Point", "coordinates": [1e8, 1e8], "buffer_m": 10},
            headers={"Content-Crs": f"<{EPSG.format(25830)}>"},
        ),
        400,
        "coordinates",
    )
    assert "area of use" in body["detail"]


# -- finding 5: sites across the antimeridian ----------------------------------------------


def test_a_site_across_the_antimeridian_is_refused_not_screened_as_a_strip(client):
    site = {
        "type": "Polygon",
        "coordinates": [[[179.99, 0], [-179.99, 0], [-179.99, 0.01], [179.99, 0.01], [179.99, 0]]],
    }
    body = refused(client.post("/screening", json=site), 400, "coordinates")
    assert "antimeridian" in body["detail"]


def test_a_site_touching_the_antimeridian_from_one_side_is_screened(client):
    site = {
        "type": "Polygon",
        "coordinates": [[[179.9, 0], [180, 0], [180, 0.1], [179.9, 0.1], [179.9, 0]]],
    }
    response = client.post("/screening", json=site)
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "free"


def test_a_batch_site_across_the_antimeridian_is_refused_naming_the_feature(client):
    crossing = {
        "type": "Polygon",
        "coordinates": [[[179.99, 0], [-179.99, 0], [-179.99, 0.01], [179.99, 0.01], [179.99, 0]]],
    }
    batch = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-6.77, 42.47]},
                "properties": {},
            },
            {"type": "Feature", "geometry": crossing, "properties": {}},
        ],
    }
    refused(client.post("/screening/batch", json=batch), 400, "features[1].geometry.coordinates")


# -- finding 6: ids beyond the integer range -----------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/deposits/2147483648",
        "/permits/2147483648",
        "/permits/99999999999/history",
        "/permits/2147483648/conflicts",
        "/collections/deposits/items/2147483648",
    ],
)
def test_a_path_id_beyond_the_id_range_is_not_found(client, path):
    refused(client.get(path), 404, "")


def test_the_largest_id_is_simply_not_found(client):
    refused(client.get("/deposits/2147483647"), 404, "")


@pytest.mark.parametrize("path", ["/deposits", "/permits"])
def test_a_cursor_beyond_the_id_range_is_refused_naming_cursor(client, path):
    refused(client.get(path, params={"cursor": "99999999999"}), 400, "cursor")


@pytest.mark.parametrize("kind", ["deposit", "permit"])
def test_a_reference_beyond_the_id_range_is_refused_naming_it(client, kind):
    refused(client.post("/screening", json={kind: 2147483648}), 400, kind)


def test_a_property_filter_beyond_bigint_is_refused_naming_the_property(client):
    refused(
        client.get("/collections/deposit_screening/items", params={"nearest_zone_id": str(2**63)}),
        400,
        "nearest_zone_id",
    )


# -- geometry limits on sites --------------------------------------------------------------


def test_a_site_with_too_many_vertices_is_refused_before_it_is_parsed(client):
    n = 10_001
    ring = [[-6.0 + 0.1 * i / n, 42.0] for i in range(n)] + [[-5.9, 42.1], [-6.0, 42.0]]
    body = refused(
        client.post("/screening", json={"type": "Polygon", "coordinates": [ring]}),
        400,
        "coordinates",
    )
    assert "10,000 vertices" in body["detail"]


def test_a_site_at_the_vertex_limit_is_screened(client):
    n = 9_990
    ring = [[-6.0 + 0.01 * i / n, 42.0] for i in range(n)] + [[-5.99, 42.01], [-6.0, 42.0]]
    response = client.post("/screening", json={"type": "Polygon", "coordinates": [ring]})
    assert response.status_code == 200, response.text


def test_the_projected_area_of_use_is_the_epsg_one_widened_by_the_margin():
    from geo.core.crs import _projected_extent

    west, south, east, north = CRS.from_epsg(25830).area_of_use.bounds
    x_min, y_min, x_max, y_max = _projected_extent(25830, 5.0)
    to_utm = Transformer.from_crs(4326, 25830, always_xy=True)
    # Its corners (and the margin beyond them, on the equator side) lie inside the extent.
    for lon, lat in (
        (west - 4.9, south - 4.9),
        (east + 4.9, south - 4.9),
        (west, north),
        (east, north),
    ):
        x, y = to_utm.transform(lon, lat)
        assert x_min <= x <= x_max and y_min <= y <= y_max
    x, _ = to_utm.transform(west - 6, south)
    assert x < x_min


# -- findings 3, 4 and 8: exports, NUL bytes, URL length, CSV --------------------------------


@pytest.mark.parametrize("crs", ["EPSG:9707", "EPSG:4326+5773"])
def test_an_export_crs_postgis_lacks_is_refused_naming_crs(client, crs):
    body = refused(
        client.get("/downloads/deposits", params={"format": "csv", "crs": crs}), 400, "crs"
    )
    assert "spatial_ref_sys" in body["detail"]


@pytest.mark.parametrize(
    ("target", "parameter"),
    [
        ("/downloads/deposits?format=csv&filter=name%20%3D%20%27a%00b%27", "filter"),
        ("/collections/deposits/items?filter=name%00", "filter"),
        ("/deposits?area=le%00on", "area"),
    ],
)
def test_a_nul_in_a_query_parameter_is_refused_naming_it(client, target, parameter):
    refused(client.get(target), 400, parameter)


def test_a_url_over_the_limit_is_refused_414_by_the_live_server(live_server):
    # Beyond 64 KB the HTTP parser itself would answer a text/plain 400: the guard must speak first.
    for size in (40_000, 70_000, 200_000):
        status, headers, body = raw_get(live_server, "/deposits?area=" + "a" * size)
        assert status == 414, body[:200]
        assert headers["content-type"].startswith(PROBLEM)
        assert json.loads(body)["invalid_params"][0]["name"] == "url"


def test_a_url_just_under_the_limit_is_read(live_server):
    status, _, body = raw_get(live_server, "/deposits?area=" + "a" * 32_000)
    assert status == 400 and json.loads(body)["invalid_params"][0]["name"] == "area"


def raw_get(base: str, target: str) -> tuple[int, dict, bytes]:
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("GET", target, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_a_body_announced_over_the_limit_is_refused_413_unread(live_server):
    # Only the headers and 1 kB of the announced 60 MB are sent: the answer cannot wait for more.
    host, port = live_server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            b"POST /screening HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 62914560\r\n\r\n" + b"[" * 1000
        )
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413"), answer
    assert PROBLEM in answer and '"name":"body"' in answer


def test_a_chunked_body_growing_over_the_limit_is_refused_413(live_server):
    def chunks():
        for _ in range(20):
            yield b" " * 2**20

    response = httpx.post(
        live_server + "/screening", content=chunks(), headers={"Content-Type": "application/json"}
    )
    refused(response, 413, "body")


def test_a_body_under_the_limit_is_read(client):
    site = {
        "type": "Point",
        "coordinates": [-6.7708, 42.4694],
        "buffer_m": 10,
        "padding": "x" * 2**20,
    }
    refused(client.post("/screening", json=site), 400, "padding")


def test_csv_cells_that_would_be_formulas_are_quoted_for_spreadsheets(client):
    batch = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": name,
                "geometry": {"type": "Point", "coordinates": [-6.77, 42.47]},
                "properties": {"name": name},
            }
            for name in ('=HYPERLINK("x")', "+1", "-1", "@SUM(A1)", "Calamocos")
        ],
    }
    response = client.post("/screening/batch", params={"f": "csv"}, json=batch)
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["name"] for r in rows] == [
        '\'=HYPERLINK("x")',
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "Calamocos",
    ]


def test_the_spreadsheet_rule_keeps_numbers_and_quotes_text_columns():
    from geo.io.spreadsheet import safe_column, safe_row

    assert safe_row(["=1", -1.5, None, "a-b"]) == ["'=1", -1.5, None, "a-b"]
    assert safe_column(pa.array(["-x", None, "y"])).to_pylist() == ["'-x", None, "y"]
    assert safe_column(pa.array([-1, 2])).to_pylist() == [-1, 2]


# -- statement timeouts and an unreachable database ----------------------------------------


class Proxy:
    """A TCP relay to the test database that can be cut (every connection dropped, new ones
    refused at once) and restored, as a database restart or a network fault looks to Veta."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.sockets = []

    def restore(self) -> None:
        self.up = True


@pytest.fixture(scope="module")
def proxied(db_url):
    parts = urlsplit(db_url)
    proxy = Proxy(parts.hostname, parts.port)
    url = urlunsplit(
        parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{proxy.port}"))
    )
    with TestClient(create_app(Settings(database_url=url))) as client:
        yield proxy, client
    proxy.restore()


def test_an_unreachable_database_is_503_with_retry_after_and_recovers(proxied):
    proxy, client = proxied
    assert client.get("/deposits/1").status_code in (200, 404)
    proxy.cut()
    try:
        for _ in range(3):  # the broken pooled connection, then fresh attempts refused
            response = client.get("/deposits", params={"limit": 1})
            body = refused(response, 503, "")
            assert body["type"].endswith("database-unavailable")
            assert response.headers["Retry-After"] == "10"
    finally:
        proxy.restore()
    assert client.get("/deposits", params={"limit": 1}).status_code == 200


@pytest.fixture(scope="module")
def impatient(settings):
    """An app whose batch requests may run one millisecond: every batch query is cancelled."""
    with TestClient(
        create_app(settings.model_copy(update={"statement_timeout_batch_s": 0.001}))
    ) as client:
        yield client


def test_a_statement_past_its_kinds_timeout_is_503_with_retry_after(impatient):
    response = impatient.get("/screening/deposits", params={"area": "leon", "f": "csv"})
    body = refused(response, 503, "")
    assert body["type"].endswith("statement-timeout") and "0.001 s" in body["detail"]
    assert response.headers["Retry-After"] == "10"


def test_other_kinds_keep_their_own_timeout_on_the_same_pool(impatient):
    for _ in range(3):  # connections returned by the cancelled batch are reset to the default
        assert impatient.get("/screening/deposits", params={"area": "leon"}).status_code == 503
        assert impatient.get("/deposits", params={"area": "leon", "limit": 5}).status_code == 200
        assert impatient.post("/screening", json={"deposit": 1}).status_code in (200, 404)


# -- finding 7: large bodies -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/screening", "/screening/batch"])
def test_bodies_are_decoded_and_checked_off_the_event_loop(client, monkeypatch, path):
    import api.routes.screening as route

    threads = []

    def off_loop(parse):
        def parse_and_tell(*args):
            try:
                asyncio.get_running_loop()
                threads.append("event loop")
            except RuntimeError:
                threads.append("worker")
            return parse(*args)

        return parse_and_tell

    monkeypatch.setattr(route, "parse_site", off_loop(route.parse_site))
    monkeypatch.setattr(route, "parse_sites", off_loop(route.parse_sites))
    site = {"type": "Point", "coordinates": [-6.77, 42.47], "buffer_m": 10}
    body = (
        site
        if path == "/screening"
        else {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": site, "properties": {}}],
        }
    )
    assert client.post(path, json=body).status_code == 200
    assert threads == ["worker"]


def test_a_right_with_too_many_vertices_is_refused_before_it_is_validated(client):
    ring = [[-6.3 + 0.02 * i / 10_001, 42.93] for i in range(10_001)] + [
        [-6.28, 42.95],
        [-6.3, 42.93],
    ]
    body = refused(
        client.post(
            "/permits/validate",
            params={"right_type": "investigation"},
            json={"type": "Polygon", "coordinates": [ring]},
        ),
        400,
        "body",
    )
    assert "10,000 vertices" in body["detail"]


# -- the API definition declares the problem answers -----------------------------------------


def test_every_operation_declares_its_problem_answers(client):
    document = client.get("/api").json()
    assert "Problem" in document["components"]["schemas"]
    operations = [(path, op) for path, item in document["paths"].items() for op in item.values()]
    assert len(operations) >= 30
    for path, op in operations:
        expected = (
            {"400", "414"}
            | ({"404"} if "{" in path else set())
            | ({"413"} if "requestBody" in op else set())
        )
        expected |= set() if path in ("/api", "/api.html") else {"503"}
        assert expected <= set(op["responses"]), (path, sorted(op["responses"]))
        assert "422" not in op["responses"]
        for code in expected:
            assert "application/problem+json" in op["responses"][code]["content"], (path, code)
    assert "Retry-After" in document["paths"]["/screening"]["post"]["responses"]["503"]["headers"]


def large_batch(sites: int, last: dict | None = None) -> dict:
    """Over the in-process threshold: 300-vertex squares across León, and maybe a last feature."""
    features = []
    for i in range(sites):
        lon, lat = -6.9 + (i % 50) * 0.04, 42.3 + (i // 50) * 0.02
        ring = [[lon + 0.01 * k / 300, lat] for k in range(300)] + [
            [lon + 0.01, lat + 0.01],
            [lon, lat + 0.01],
            [lon, lat],
        ]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"name": f"s{i}"},
            }
        )
    return {"type": "FeatureCollection", "features": features + ([last] if last else [])}


def test_a_large_batch_is_parsed_in_a_worker_process_and_screened(client):
    from api.body_parsing import IN_PROCESS_BYTES

    body = large_batch(40)
    assert len(json.dumps(body)) > IN_PROCESS_BYTES
    response = client.post("/screening/batch", params={"f": "csv"}, json=body)
    assert response.status_code == 200, response.text
    assert [r["name"] for r in csv.DictReader(io.StringIO(response.text))] == [
        f"s{i}" for i in range(40)
    ]


def test_a_mistake_in_a_large_batch_comes_back_from_the_worker_naming_its_field(client):
    last = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [-6, 42]},
        "properties": {},
        "oops": 1,
    }
    refused(client.post("/screening/batch", json=large_batch(40, last)), 400, "features[40].oops")


@pytest.mark.parametrize(
    ("feature", "field"),
    [
        ({"id": "a\u0000b", "properties": {}}, "features[0].id"),
        ({"properties": {"name": "x\u0000y"}}, "features[0].properties.name"),
    ],
)
def test_a_nul_in_a_batch_sites_text_is_refused_naming_it(client, feature, field):
    batch = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-6.77, 42.47]},
                **feature,
            }
        ],
    }
    refused(client.post("/screening/batch", json=batch), 400, field)


def test_the_command_line_export_refuses_a_crs_postgis_lacks_too(cli, tmp_path):
    code, output = cli(
        "export",
        "--layer",
        "deposits",
        "--format",
        "csv",
        "-o",
        tmp_path / "d.csv",
        "--crs",
        "EPSG:9707",
    )
    assert code == 2 and "spatial_ref_sys" in output
    assert not (tmp_path / "d.csv").exists()
