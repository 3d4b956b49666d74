"""Editing over OGC API – Features Part 4, and the audit trail every write leaves.

Who may write what (401 without a credential, 403 for a role that may not), optimistic
concurrency (412 on a stale If-Match, 428 without one), writes checked as imports are (and a
refused write changes nothing and audits nothing), registry transitions, and the audit trail:
one entry per record written, by API, command line or import, with before and after.
"""

from __future__ import annotations

import pytest
from shapely.geometry import Point, box, mapping, shape
from sqlalchemy import text

from geo.access.keys import create_key, create_organisation

SOURCE = "t-edit"
LEON = (-5.5712, 42.6011)


@pytest.fixture(scope="module")
def keys(engine):
    with engine.begin() as conn:
        for code in ("t-edit-a", "t-edit-b", "t-edit-jcyl"):
            create_organisation(conn, code, code)
        made = {
            "a_editor": create_key(conn, "t-edit-a", "editor", "ana@a", None)[0],
            "a_reader": create_key(conn, "t-edit-a", "reader", "rita@a", None)[0],
            "b_editor": create_key(conn, "t-edit-b", "editor", "beto@b", None)[0],
            "registry": create_key(conn, "t-edit-jcyl", "registry", "registro@jcyl", None)[0],
            "admin": create_key(conn, "t-edit-jcyl", "admin", "admin@jcyl", None)[0],
        }
    yield made
    with engine.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM deposits WHERE owner_org IN (SELECT id FROM organisations WHERE code LIKE 't-edit-%')"
            )
        )
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM protection_zones WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM screening_reports WHERE owner_org IS NOT NULL"))
        conn.execute(text("DELETE FROM organisations WHERE code LIKE 't-edit-%'"))


def _as(keys, who: str | None, **headers) -> dict:
    return headers if who is None else {"Authorization": f"Bearer {keys[who]}", **headers}


def _deposit(name: str = "Filón nuevo", at=LEON, **properties) -> dict:
    return {
        "type": "Feature",
        "geometry": mapping(Point(at)),
        "properties": {"name": name, "commodities": ["W", "Sn"], "source": SOURCE, **properties},
    }


def _audit_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM audit_log")).scalar()


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def test_anonymous_and_readers_may_not_write(client, keys, engine):
    before = _audit_count(engine)
    _problem(client.post("/collections/deposits/items", json=_deposit()), 401)
    _problem(
        client.post("/collections/deposits/items", json=_deposit(), headers=_as(keys, "a_reader")),
        403,
    )
    _problem(
        client.post(
            "/collections/protection_zones/items", json=_deposit(), headers=_as(keys, "a_editor")
        ),
        403,
    )
    assert _audit_count(engine) == before


def test_create_read_replace_patch_delete_with_versions_and_audit(client, keys, engine):
    created = client.post(
        "/collections/deposits/items",
        json=_deposit(confidential=True, mine_status="feasibility"),
        headers=_as(keys, "a_editor", **{"X-Request-ID": "edit-test-1"}),
    )
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    record = created.json()["id"]
    assert location.endswith(f"/collections/deposits/items/{record}")
    item = client.get(location, headers=_as(keys, "a_editor"))
    assert item.status_code == 200
    assert item.json()["properties"]["name"] == "Filón nuevo"
    assert shape(item.json()["geometry"]).equals_exact(Point(LEON), 1e-9)
    etag = item.headers["etag"]
    assert etag.strip('"').startswith(created.headers["etag"].strip('"'))
    # Confidential: another organisation, and anyone anonymous, finds nothing there.
    assert client.get(location).status_code == 404
    assert client.get(location, headers=_as(keys, "b_editor")).status_code == 404
    _problem(
        client.patch(
            location,
            json={"properties": {"name": "x"}},
            headers=_as(keys, "b_editor", **{"If-Match": etag}),
        ),
        404,
    )

    _problem(client.put(location, json=_deposit("Sin versión"), headers=_as(keys, "a_editor")), 428)
    moved = client.put(
        location,
        json=_deposit("Otra fuente", source="elsewhere"),
        headers=_as(keys, "a_editor", **{"If-Match": etag}),
    )
    assert _problem(moved, 400)["invalid_params"][0]["name"] == "source"
    replaced = client.put(
        location,
        json=_deposit("Filón reemplazado", confidential=True),
        headers=_as(keys, "a_editor", **{"If-Match": etag}),
    )
    assert replaced.status_code == 200, replaced.text
    # The old version is stale now.
    _problem(
        client.put(
            location, json=_deposit("Tarde"), headers=_as(keys, "a_editor", **{"If-Match": etag})
        ),
        412,
    )
    after_put = client.get(location, headers=_as(keys, "a_editor")).json()["properties"]
    assert after_put["name"] == "Filón reemplazado"
    assert after_put.get("mine_status") is None  # PUT clears what it leaves out

    patched = client.patch(
        location,
        json={"properties": {"mine_status": "closed"}},
        headers=_as(
            keys,
            "a_editor",
            **{
                "If-Match": replaced.headers["etag"],
                "Content-Type": "application/merge-patch+json",
            },
        ),
    )
    assert patched.status_code == 200, patched.text
    now = client.get(location, headers=_as(keys, "a_editor")).json()["properties"]
    assert now["mine_status"] == "closed" and now["name"] == "Filón reemplazado"

    deleted = client.delete(
        location, headers=_as(keys, "a_editor", **{"If-Match": patched.headers["etag"]})
    )
    assert deleted.status_code == 204
    assert client.get(location, headers=_as(keys, "a_editor")).status_code == 404

    history = client.get(
        f"/audit?collection=deposits&record={record}", headers=_as(keys, "admin")
    ).json()["entries"]
    assert [e["action"] for e in reversed(history)] == ["insert", "update", "update", "delete"]
    first = history[-1]
    assert first["actor"] == "ana@a" and first["channel"] == "api"
    assert first["request_id"] == "edit-test-1" and first["client"]
    assert first["before"] is None and first["after"]["name"] == "Filón nuevo"
    assert first["after"]["geometry"]["coordinates"] == pytest.approx(list(LEON))
    assert history[-2]["before"]["name"] == "Filón nuevo"
    assert history[-2]["after"]["name"] == "Filón reemplazado"
    assert history[0]["after"] is None and history[0]["before"]["mine_status"] == "closed"


@pytest.mark.parametrize(
    ("feature", "field"),
    [
        (_deposit(commodities=["unobtainium"]), "commodities"),
        (_deposit(mine_status="sleeping"), "mine_status"),
        (_deposit(at=(-9.14, 38.72)), "geometry"),  # Lisbon: not in Spain
        (
            {
                **_deposit(),
                "geometry": {"type": "LineString", "coordinates": [[-5.5, 42.6], [-5.4, 42.7]]},
            },
            "geometry",
        ),
        (_deposit(colour="red"), "colour"),
        (_deposit(depth_top_m=100, depth_bottom_m=50), "depth"),
        ({**_deposit(), "id": 5}, "id"),
        (_deposit(confidential="yes"), "confidential"),
    ],
)
def test_a_refused_write_changes_nothing_and_audits_nothing(client, keys, engine, feature, field):
    with engine.connect() as conn:
        deposits = conn.execute(text("SELECT count(*) FROM deposits")).scalar()
    audited = _audit_count(engine)
    problem = _problem(
        client.post("/collections/deposits/items", json=feature, headers=_as(keys, "a_editor")), 400
    )
    assert any(field in p["name"] for p in problem["invalid_params"]), problem
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deposits")).scalar() == deposits
    assert _audit_count(engine) == audited


def test_a_write_the_database_refuses_leaves_no_audit(client, keys, engine):
    first = client.post(
        "/collections/deposits/items",
        json=_deposit(source_id="dup-1"),
        headers=_as(keys, "a_editor"),
    )
    assert first.status_code == 201, first.text
    audited = _audit_count(engine)
    again = client.post(
        "/collections/deposits/items",
        json=_deposit(source_id="dup-1"),
        headers=_as(keys, "a_editor"),
    )
    _problem(again, 409)
    assert _audit_count(engine) == audited


def test_an_editor_writes_only_its_own_organisations_records(client, keys, engine):
    with engine.connect() as conn:
        public = conn.execute(
            text("SELECT id FROM deposits WHERE owner_org IS NULL LIMIT 1")
        ).scalar()
    url = f"/collections/deposits/items/{public}"
    etag = client.get(url).headers["etag"]
    _problem(
        client.patch(
            url,
            json={"properties": {"name": "Mío"}},
            headers=_as(keys, "a_editor", **{"If-Match": etag}),
        ),
        403,
    )
    # An admin may; and may give a record to an organisation.
    done = client.patch(
        url,
        json={"properties": {"remarks": "checked"}},
        headers=_as(keys, "admin", **{"If-Match": etag}),
    )
    assert done.status_code == 200, done.text
    _problem(
        client.post(
            "/collections/deposits/items",
            json=_deposit(owner="t-edit-b"),
            headers=_as(keys, "a_editor"),
        ),
        403,
    )


def test_options_say_what_the_caller_may_do(client, keys):
    assert "POST" not in client.options("/collections/deposits/items").headers["allow"]
    assert (
        "POST"
        in client.options("/collections/deposits/items", headers=_as(keys, "a_editor")).headers[
            "allow"
        ]
    )
    zones = client.options("/collections/protection_zones/items", headers=_as(keys, "a_editor"))
    assert "POST" not in zones.headers["allow"]
    assert (
        "DELETE"
        in client.options(
            "/collections/protection_zones/items/1", headers=_as(keys, "registry")
        ).headers["allow"]
    )


def test_the_registry_keeps_zones(client, keys, engine):
    zone = {
        "type": "Feature",
        "geometry": mapping(box(-5.60, 42.55, -5.58, 42.57)),
        "properties": {
            "name": "Zona de prueba",
            "designation_scheme": "natura2000",
            "designation": "ZEC",
            "legal_effect": "conditional",
            "source": SOURCE,
            "source_id": "z-1",
        },
    }
    _problem(
        client.post(
            "/collections/protection_zones/items", json=zone, headers=_as(keys, "a_editor")
        ),
        403,
    )
    made = client.post(
        "/collections/protection_zones/items", json=zone, headers=_as(keys, "registry")
    )
    assert made.status_code == 201, made.text
    with engine.connect() as conn:
        parts = conn.execute(
            text("SELECT count(*) FROM protection_zone_parts WHERE zone_id = :i"),
            {"i": made.json()["id"]},
        ).scalar()
    assert parts >= 1  # the parts screening reads are kept in step by their trigger


def test_registry_transitions_over_http(client, keys, engine):
    with engine.connect() as conn:
        permit, number = conn.execute(
            text("SELECT id, registry_number FROM permits WHERE status = 'applied' LIMIT 1")
        ).one()
    url = f"/permits/{permit}/status"
    _problem(client.post(url, json={"status": "denied"}), 401)
    _problem(client.post(url, json={"status": "denied"}, headers=_as(keys, "a_editor")), 403)
    _problem(client.post(url, json={"status": "vanished"}, headers=_as(keys, "registry")), 400)
    done = client.post(url, json={"status": "denied"}, headers=_as(keys, "registry"))
    assert done.status_code == 200, done.text
    with engine.begin() as conn:
        status, changed_by = conn.execute(
            text(
                "SELECT p.status, h.changed_by FROM permits p JOIN permit_history h ON h.permit_id = p.id "
                "WHERE p.id = :i ORDER BY h.id DESC LIMIT 1"
            ),
            {"i": permit},
        ).one()
        audit = conn.execute(
            text(
                "SELECT actor, channel FROM audit_log WHERE table_name = 'permits' AND record_id = :i ORDER BY id DESC LIMIT 1"
            ),
            {"i": permit},
        ).one()
        conn.execute(text("UPDATE permits SET status = 'applied' WHERE id = :i"), {"i": permit})
    assert status == "denied" and changed_by == "registro@jcyl"
    assert tuple(audit) == ("registro@jcyl", "api")


def test_the_audit_trail_is_for_admins_and_a_records_history_for_its_viewers(client, keys):
    _problem(client.get("/audit"), 401)
    _problem(client.get("/audit", headers=_as(keys, "a_editor")), 403)
    entries = client.get("/audit?limit=5", headers=_as(keys, "admin")).json()["entries"]
    assert 0 < len(entries) <= 5
    made = client.post(
        "/collections/deposits/items", json=_deposit("Público"), headers=_as(keys, "a_editor")
    )
    history = client.get(f"/collections/deposits/items/{made.json()['id']}/history")
    assert history.status_code == 200
    assert [e["action"] for e in history.json()["entries"]] == ["insert"]


def test_command_line_and_import_writes_are_audited(cli, engine, tmp_path):
    path = tmp_path / "one.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","geometry":'
        '{"type":"Point","coordinates":[-5.57,42.6]},"properties":{"source_id":"imp-1",'
        '"name":"Importado","commodities":"W"}}]}'
    )
    code, output = cli("import", path, "--layer", "deposits", "--source", SOURCE)
    assert code == 0, output
    with engine.connect() as conn:
        channel, actor, after = conn.execute(
            text(
                "SELECT a.channel, a.actor, a.after FROM audit_log a JOIN deposits d ON d.id = a.record_id "
                "WHERE a.table_name = 'deposits' AND d.source_id = 'imp-1' ORDER BY a.id DESC LIMIT 1"
            )
        ).one()
    assert channel == "import" and actor and after["name"] == "Importado"


def test_a_records_item_page_shows_its_history(client, keys):
    made = client.post(
        "/collections/deposits/items", json=_deposit("Con historia"), headers=_as(keys, "a_editor")
    )
    url = made.headers["location"]
    etag = client.get(url).headers["etag"]
    changed = client.patch(
        url,
        json={"properties": {"remarks": "revisado"}},
        headers=_as(keys, "a_editor", **{"If-Match": etag}),
    )
    assert changed.status_code == 200, changed.text
    page = client.get(url + "?f=html").text
    assert "History" in page and "ana@a" in page and "remarks" in page
    links = {link["rel"]: link["href"] for link in client.get(url).json()["links"]}
    assert links["version-history"].endswith(f"/items/{made.json()['id']}/history")


def test_the_collection_says_what_the_caller_may_do_with_its_items(client, keys):
    assert "POST" not in client.get("/collections/deposits").json()["itemMethods"]
    mine = client.get("/collections/deposits", headers=_as(keys, "a_editor")).json()
    assert "POST" in mine["itemMethods"] and "DELETE" in mine["itemMethods"]
    zones = client.get("/collections/protection_zones", headers=_as(keys, "a_editor")).json()
    assert "POST" not in zones["itemMethods"]


def test_a_record_posted_in_utm_is_stored_in_lon_lat(client, keys):
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 25830, always_xy=True).transform(*LEON)
    feature = {**_deposit("En UTM"), "geometry": {"type": "Point", "coordinates": [x, y]}}
    made = client.post(
        "/collections/deposits/items",
        json=feature,
        headers=_as(
            keys, "a_editor", **{"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/25830>"}
        ),
    )
    assert made.status_code == 201, made.text
    stored = shape(client.get(made.headers["location"]).json()["geometry"])
    assert stored.distance(Point(LEON)) < 1e-7
    refused = client.post(
        "/collections/deposits/items",
        json={**feature, "geometry": {"type": "Point", "coordinates": [x + 5e6, y]}},
        headers=_as(
            keys, "a_editor", **{"Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/25830>"}
        ),
    )
    assert _problem(refused, 400)["invalid_params"][0]["name"] == "geometry"
