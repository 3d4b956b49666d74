"""Confidential records under row-level security: no read path shows, counts or betrays
organisation B's confidential prospect and application to organisation A, to a reader of
another organisation or to anyone anonymous; B sees them everywhere. And the credentials:
API keys (unknown, revoked, expired) and where they may be sent from.

Each leak test asks the same question three ways — anonymously, as A's editor and as B's
editor — and requires A's answer to equal the anonymous one exactly (so nothing can be
inferred from a count, a distance or a tile byte) while B's shows the record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mapbox_vector_tile
import morecantile
import psycopg
import pytest
from records import insert_deposit
from shapely.geometry import box, shape
from sqlalchemy import text

from geo.access.keys import create_key, create_organisation
from geo.store.db import libpq_url, with_user
from geo.store.viewer import SERVICE_ROLE

SOURCE = "t-access"
# B's prospect: a lithium occurrence in León, named so that a filter on the name could find it.
SECRET_AT = (-5.8712, 42.7311)
SECRET_NAME = "Prospecto confidencial B"
# B's draft application for the ground around it: a block of whole cuadrículas (20″ cells).
APPLICATION = box(-5.8833333333, 42.7222222222, -5.8611111111, 42.7388888889)
SITE = box(-5.89, 42.72, -5.85, 42.745)  # a site around both, to screen
TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def world(engine):
    with engine.begin() as conn:
        org_a = create_organisation(conn, "t-access-a", "Exploraciones A")
        org_b = create_organisation(conn, "t-access-b", "Minera B")
        keys = {
            "a_editor": create_key(conn, "t-access-a", "editor", "ana@a.example", None)[0],
            "b_editor": create_key(conn, "t-access-b", "editor", "beto@b.example", None)[0],
            "b_reader": create_key(conn, "t-access-b", "reader", "bea@b.example", None)[0],
        }
        revoked, revoked_id = create_key(conn, "t-access-a", "editor", "old@a.example", None)
        conn.execute(
            text("UPDATE api_keys SET revoked_at = now() WHERE id = :i"), {"i": revoked_id}
        )
        expired = create_key(
            conn, "t-access-a", "editor", "late@a.example", datetime.now(UTC) - timedelta(days=1)
        )[0]
        deposit = insert_deposit(conn, SECRET_NAME, SECRET_AT, SOURCE, "b-1", org_b)
        permit = conn.execute(
            text(
                "INSERT INTO permits (registry_number, name, holder, right_type, status, "
                "applied_on, commodities, geom, source, source_id, confidential, owner_org) "
                "VALUES ('T-ACCESS-1', 'Solicitud B', 'Minera B', 'investigation', 'applied', "
                "current_date, '{lithium}', ST_Multi(ST_GeomFromText(:g, 4326)), :s, 'b-app', "
                "true, :o) RETURNING id"
            ),
            {"g": APPLICATION.wkt, "s": SOURCE, "o": org_b},
        ).scalar_one()
    yield {
        "deposit": deposit,
        "permit": permit,
        "orgs": (org_a, org_b),
        "keys": keys,
        "revoked": revoked,
        "expired": expired,
    }
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM permits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM screening_reports WHERE owner_org IS NOT NULL"))
        conn.execute(text("DELETE FROM organisations WHERE code LIKE 't-access-%'"))


def _as(world, who: str | None) -> dict:
    return {} if who is None else {"Authorization": f"Bearer {world['keys'][who]}"}


def _three(client, world, method: str, url: str, **kwargs):
    """The same request anonymously, as A's editor and as B's editor."""
    answers = []
    for who in (None, "a_editor", "b_editor"):
        headers = {**kwargs.pop("headers", {}), **_as(world, who)}
        response = client.request(method, url, headers=headers, **kwargs)
        assert response.status_code in (200, 404), response.text
        answers.append(response)
    return answers


def _ids(response) -> set:
    return {int(f["id"]) for f in response.json()["features"]}


def test_items_lists_and_counts(client, world):
    url = "/collections/deposits/items?limit=10000"
    anonymous, a, b = _three(client, world, "GET", url)
    assert world["deposit"] not in _ids(anonymous)
    assert _ids(a) == _ids(anonymous)
    assert a.json()["numberMatched"] == anonymous.json()["numberMatched"]
    assert world["deposit"] in _ids(b)
    assert b.json()["numberMatched"] == anonymous.json()["numberMatched"] + 1
    # The remembered counts are kept per audience: asked again, in the other order.
    for who, expected in (("a_editor", 0), ("b_editor", 1), (None, 0), ("a_editor", 0)):
        again = client.get(url, headers=_as(world, who)).json()["numberMatched"]
        assert again == anonymous.json()["numberMatched"] + expected


def test_item_and_its_page(client, world):
    url = f"/collections/deposits/items/{world['deposit']}"
    anonymous, a, b = _three(client, world, "GET", url)
    assert anonymous.status_code == a.status_code == 404
    assert a.json()["detail"] == anonymous.json()["detail"]
    assert b.status_code == 200 and b.json()["properties"]["name"] == SECRET_NAME
    page = client.get(url + "?f=html", headers=_as(world, "a_editor"))
    assert page.status_code == 404 and SECRET_NAME not in page.text
    assert SECRET_NAME in client.get(url + "?f=html", headers=_as(world, "b_editor")).text


def test_cql2_filters(client, world):
    url = f"/collections/deposits/items?filter=name = '{SECRET_NAME}'"
    anonymous, a, b = _three(client, world, "GET", url)
    assert anonymous.json()["numberMatched"] == a.json()["numberMatched"] == 0
    assert _ids(b) == {world["deposit"]}


def test_rest_search(client, world):
    url = "/deposits?commodity=Li&area=leon&protection=outside&limit=10000"
    anonymous, a, b = _three(client, world, "GET", url)
    assert _ids(a) == _ids(anonymous) and world["deposit"] not in _ids(a)
    assert a.json()["numberMatched"] == anonymous.json()["numberMatched"]
    assert world["deposit"] in _ids(b)


def test_deposit_screening_collection(client, world):
    url = "/collections/deposit_screening/items?limit=10000"
    anonymous, a, b = _three(client, world, "GET", url)
    assert _ids(a) == _ids(anonymous) and world["deposit"] not in _ids(a)
    assert world["deposit"] in _ids(b)


def test_batch_screening_of_deposits(client, world):
    url = "/screening/deposits?commodity=Li"
    anonymous, a, b = _three(client, world, "GET", url)
    assert _ids(a) == _ids(anonymous) and world["deposit"] not in _ids(a)
    assert world["deposit"] in _ids(b)


def test_site_screening_sees_no_other_companys_application(client, world):
    body = {"type": "Feature", "geometry": SITE.__geo_interface__, "properties": {}}
    anonymous, a, b = _three(client, world, "POST", "/screening", json=body)

    def comparable(report: dict) -> dict:
        # What differs between two identical screenings: their ids, links and time stamps.
        return {k: v for k, v in report.items() if k not in ("id", "created_at", "links")}

    assert comparable(a.json()) == comparable(anonymous.json())
    assert world["permit"] not in {p["id"] for p in a.json()["permits"]}
    assert world["permit"] in {p["id"] for p in b.json()["permits"]}
    # B's free ground leaves its own application out; A's does not know of it.
    free_a = shape(a.json()["free_ground"]["geometry"])
    free_b = shape(b.json()["free_ground"]["geometry"])
    assert free_a.intersection(APPLICATION).area > 0.99 * APPLICATION.area
    assert free_b.intersection(APPLICATION).area < 0.01 * APPLICATION.area


def test_kept_report_of_a_screening_is_its_organisations(client, world):
    body = {"type": "Feature", "geometry": SITE.__geo_interface__, "properties": {}}
    kept = client.post("/screening", json=body, headers=_as(world, "b_editor")).json()
    link = f"/screening/reports/{kept['id']}"
    assert client.get(link, headers=_as(world, "b_reader")).status_code == 200
    assert client.get(link, headers=_as(world, "a_editor")).status_code == 404
    assert client.get(link).status_code == 404


def test_permits(client, world):
    for url in ("/permits?limit=10000", "/collections/permits/items?limit=10000"):
        anonymous, a, b = _three(client, world, "GET", url)
        assert _ids(a) == _ids(anonymous) and world["permit"] not in _ids(a)
        assert world["permit"] in _ids(b)
    history = f"/permits/{world['permit']}/history"
    assert client.get(history, headers=_as(world, "a_editor")).status_code == 404
    assert client.get(history, headers=_as(world, "b_editor")).status_code == 200


def _tile_features(content: bytes) -> list[dict]:
    layers = mapbox_vector_tile.decode(content)
    return [f for layer in layers.values() for f in layer["features"]]


@pytest.mark.parametrize("collection", ["deposits", "permits"])
def test_vector_tiles_and_their_cache(client, world, collection):
    tile = TMS.tile(SECRET_AT[0], SECRET_AT[1], 12)
    url = f"/collections/{collection}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
    # B first, so a tile cache keyed on the tile alone would hand B's tile to the others.
    b = client.get(url, headers=_as(world, "b_editor"))
    anonymous = client.get(url)
    a = client.get(url, headers=_as(world, "a_editor"))
    assert a.status_code == anonymous.status_code and b.status_code == 200
    assert a.content == anonymous.content
    assert b.content != anonymous.content
    assert len(_tile_features(b.content)) == len(_tile_features(anonymous.content)) + 1
    # Each audience has its own ETag (a cache must not answer one with another's tile).
    assert b.headers.get("etag") not in (a.headers.get("etag"), anonymous.headers.get("etag"))


def test_deposit_clusters_do_not_count_anothers_confidential_deposit(client, world):
    # Below zoom 10 deposit tiles are clusters: a count one too high would betray the prospect.
    tile = TMS.tile(SECRET_AT[0], SECRET_AT[1], 8)
    url = f"/collections/deposits/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
    b = client.get(url, headers=_as(world, "b_editor"))
    anonymous = client.get(url)
    a = client.get(url, headers=_as(world, "a_editor"))
    assert a.content == anonymous.content and b.content != anonymous.content

    def counted(response) -> int:
        [layer] = mapbox_vector_tile.decode(response.content).values()
        return sum(f["properties"]["count"] for f in layer["features"])

    assert counted(b) == counted(anonymous) + 1
    # Nor does a filter naming it, nor the cluster of one deposit that would carry its name.
    named = {"filter": f"name = '{SECRET_NAME}'"}
    assert client.get(url, params=named, headers=_as(world, "a_editor")).status_code == 204
    alone = client.get(url, params=named, headers=_as(world, "b_editor"))
    [layer] = mapbox_vector_tile.decode(alone.content).values()
    assert [f["properties"]["name"] for f in layer["features"]] == [SECRET_NAME]


def test_downloads(client, world):
    url = "/downloads/deposits?format=geojson&filter=commodity = 'Li'"
    anonymous, a, b = _three(client, world, "GET", url)

    def names(response) -> set:
        return {f["properties"]["name"] for f in response.json()["features"]}

    assert names(a) == names(anonymous) and SECRET_NAME not in names(a)
    assert SECRET_NAME in names(b)


def test_veta_export(cli, world, tmp_path):
    public, own = tmp_path / "public.geojson", tmp_path / "own.geojson"
    assert cli("export", "--layer", "deposits", "--format", "geojson", "-o", public)[0] == 0
    code, output = cli(
        "export", "--layer", "deposits", "--format", "geojson", "-o", own, "--org", "t-access-b"
    )
    assert code == 0, output
    names = [
        {f["properties"]["name"] for f in json.loads(p.read_text())["features"]}
        for p in (public, own)
    ]
    assert SECRET_NAME not in names[0] and SECRET_NAME in names[1]
    assert names[1] - names[0] == {SECRET_NAME}


def test_the_service_role_sees_nothing_without_any_application_filter(db_url, world):
    """The same question put to PostgreSQL directly, as the role the service connects as."""
    org_a, org_b = world["orgs"]
    with psycopg.connect(libpq_url(with_user(db_url, SERVICE_ROLE))) as conn:
        role = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert role == (False, False)
        owned = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tableowner = current_user"
        ).fetchone()[0]
        assert owned == 0
        for org, expected in (("", 0), (str(org_a), 0), (str(org_b), 1)):
            with conn.transaction():
                conn.execute("SELECT set_config('veta.org', %s, true)", (org,))
                found = conn.execute(
                    "SELECT (SELECT count(*) FROM deposits WHERE id = %s) "
                    "+ (SELECT count(*) FROM permits WHERE id = %s)",
                    (world["deposit"], world["permit"]),
                ).fetchone()[0]
                assert found == 2 * expected
        # Trying to read as another organisation by changing role is refused by PostgreSQL.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET ROLE veta")


def test_anonymous_reads_public_data_as_before(client, engine):
    public = (
        engine.connect()
        .execute(text("SELECT count(*) FROM deposits WHERE NOT confidential"))
        .scalar()
    )
    assert client.get("/collections/deposits/items?limit=1").json()["numberMatched"] == public


# -- Credentials ------------------------------------------------------------------------------


def _refused(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


@pytest.mark.parametrize(
    "header",
    [
        "Bearer veta_not-a-key",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ],
)
def test_a_bad_credential_is_401_not_anonymous(client, header):
    problem = _refused(
        client.get("/collections/deposits/items", headers={"Authorization": header}), 401
    )
    assert problem["status"] == 401


def test_revoked_and_expired_keys_stop_working(client, world):
    for key in (world["revoked"], world["expired"]):
        response = client.get("/collections", headers={"Authorization": f"Bearer {key}"})
        _refused(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_keys_made_listed_and_revoked_from_the_command_line(cli, client, world):
    code, output = cli(
        "keys", "create", "--org", "t-access-a", "--role", "reader", "--holder", "cli@a"
    )
    assert code == 0, output
    key = output.strip().splitlines()[-1]
    assert key.startswith("veta_") and len(key) > 40
    assert client.get("/collections", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    key_id = output.split()[1]
    listed = cli("keys", "list")[1]
    assert key not in listed and key[:12] in listed
    assert cli("keys", "revoke", key_id)[0] == 0
    _refused(client.get("/collections", headers={"Authorization": f"Bearer {key}"}), 401)
    assert cli("keys", "revoke", key_id)[0] == 2  # once only
    assert cli("keys", "create", "--org", "nobody", "--role", "reader", "--holder", "x")[0] == 2
    assert cli("keys", "create", "--org", "t-access-a", "--role", "king", "--holder", "x")[0] == 2


def test_only_a_hash_of_a_key_is_stored(engine, world):
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT string_agg(digest || prefix, ' ') FROM api_keys")
        ).scalar()
    for key in world["keys"].values():
        assert key not in stored


def test_answers_vary_by_credential_and_credentialed_ones_are_private(client, world):
    anonymous = client.get("/collections/deposits/items?limit=1")
    assert "authorization" in anonymous.headers["vary"].lower()
    own = client.get("/collections/deposits/items?limit=1", headers=_as(world, "a_editor"))
    assert "authorization" in own.headers["vary"].lower()
    assert own.headers["cache-control"].startswith("private")


def test_credentials_only_from_allowed_origins(client, world):
    foreign = {"Origin": "https://competitor.example", **_as(world, "a_editor")}
    _refused(client.get("/collections", headers=foreign), 403)
    # Public data stays readable from any page; and Veta's own pages may send a key.
    assert (
        client.get("/collections", headers={"Origin": "https://competitor.example"}).status_code
        == 200
    )
    own = {"Origin": "http://testserver", **_as(world, "a_editor")}
    assert client.get("/collections", headers=own).status_code == 200


def test_no_credential_in_the_request_log(world, live_server, tmp_path):
    """The live server's log (a file the fixture keeps) never holds a key."""
    import httpx

    key = world["keys"]["a_editor"]
    httpx.get(
        f"{live_server}/collections?api_key={key}", headers={"Authorization": f"Bearer {key}"}
    )
    logs = list(Path("/tmp").glob("veta-live-*.log"))
    assert logs
    assert not any(key in log.read_text(errors="replace") for log in logs)


def test_schema_grants_the_service_no_write_on_the_audit_trail(db_url):
    with psycopg.connect(libpq_url(with_user(db_url, SERVICE_ROLE))) as conn:
        for statement in (
            "DELETE FROM audit_log",
            "UPDATE audit_log SET actor = 'x'",
            "INSERT INTO audit_log (actor, channel, table_name, record_id, action) "
            "VALUES ('x', 'api', 'deposits', 1, 'insert')",
            "SELECT * FROM api_keys",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)


@pytest.mark.parametrize(
    "condition",
    [
        "geom && ST_MakeEnvelope(-6, 42.5, -5.9, 42.6, 4326)",
        "ST_Intersects(geom, ST_MakeEnvelope(-6, 42.5, -5.9, 42.6, 4326))",
        "commodities && ARRAY['lithium']",
    ],
)
def test_row_level_security_leaves_the_indexes_usable(db_url, condition):
    """Under row-level security a condition that is not LEAKPROOF runs after the policy and
    cannot use an index: the service's searches would read whole tables (migration 0014)."""
    with psycopg.connect(libpq_url(with_user(db_url, SERVICE_ROLE))) as conn:
        conn.execute("SET enable_seqscan = off")  # an index must be possible, whatever the size
        plan = "\n".join(
            row[0]
            for row in conn.execute(f"EXPLAIN SELECT count(*) FROM deposits WHERE {condition}")
        )
    assert "Index" in plan and "Seq Scan" not in plan, plan


def test_veta_db_leakproof_marks_what_row_level_security_needs(cli, engine):
    with engine.begin() as conn:
        conn.execute(text("ALTER FUNCTION st_intersects(geometry, geometry) NOT LEAKPROOF"))
    code, output = cli("db", "leakproof")
    assert code == 0, output
    with engine.connect() as conn:
        assert conn.execute(
            text(
                "SELECT proleakproof FROM pg_proc WHERE oid = 'st_intersects(geometry, geometry)'::regprocedure"
            )
        ).scalar()


def test_batch_screening_of_sites(client, world):
    sites = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "id": "s-1", "geometry": SITE.__geo_interface__, "properties": {}}
        ],
    }
    anonymous, a, b = _three(client, world, "POST", "/screening/batch", json=sites)
    assert a.json()["features"] == anonymous.json()["features"]

    def row(response) -> dict:
        return response.json()["features"][0]["properties"]

    # B's own application holds the ground for B; for A the ground is open, as for anyone.
    assert row(a)["holding_permits"] is None and row(a)["ground_status"] == "open"
    assert "T-ACCESS-1" in row(b)["holding_permits"] and row(b)["ground_status"] == "applied_for"


def test_search(client, world):
    anonymous, a, b = _three(client, world, "GET", f"/search?q={SECRET_NAME[:12]}")
    assert a.json() == anonymous.json()
    assert all(f["properties"]["title"] != SECRET_NAME for f in a.json()["features"])
    assert SECRET_NAME in {f["properties"]["title"] for f in b.json()["features"]}
    anonymous, a, b = _three(client, world, "GET", "/search?q=T-ACCESS")
    assert a.json()["features"] == anonymous.json()["features"] == []
    assert len(b.json()["features"]) == 1
