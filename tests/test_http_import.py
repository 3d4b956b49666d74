"""POST /imports: a file imported over HTTP as `veta import` would, as the caller — an editor's
records are its organisation's (confidential if asked), a refused file writes nothing, the
audit trail and the import run name the key's holder, and a file over the limit is refused
before it is read."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from geo.access.keys import create_key, create_organisation
from geo.core.settings import PROJECT_ROOT, Settings

SOURCE = "t-http-import"


def _collection(*rows: tuple[str, str, float, float]) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": {"source_id": sid, "name": f"Importado {sid}", "commodities": codes},
        }
        for sid, codes, x, y in rows
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


GOOD = _collection(("h-1", "Li", -6.10, 42.55), ("h-2", "W;Sn", -6.12, 42.56))
BAD = _collection(("h-3", "Li", -6.10, 42.55), ("h-4", "unobtainium", -6.12, 42.56))


@pytest.fixture(scope="module")
def keys(engine):
    with engine.begin() as conn:
        org = create_organisation(conn, "t-imp-a", "Importadora A")
        made = {
            "editor": create_key(conn, "t-imp-a", "editor", "eva@imp", None)[0],
            "reader": create_key(conn, "t-imp-a", "reader", "rosa@imp", None)[0],
        }
    yield {**made, "org": org}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM organisations WHERE code = 't-imp-a'"))


def _post(client, key: str | None, content: bytes, **form):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = {"layer": "deposits", "source": SOURCE, **{k: str(v).lower() for k, v in form.items()}}
    return client.post(
        "/imports", headers=headers, data=data, files={"file": ("prospects.geojson", content)}
    )


def _stored(engine) -> int:
    """The deposits of this test's source in the database."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM deposits WHERE source = :s"), {"s": SOURCE}
        ).scalar()


def test_anonymous_and_readers_may_not_import(client, keys, engine):
    assert _post(client, None, GOOD).status_code == 401
    assert _post(client, keys["reader"], GOOD).status_code == 403
    assert _stored(engine) == 0


def test_a_refused_file_writes_nothing_and_says_why(client, keys, engine):
    response = _post(client, keys["editor"], BAD)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert any(
        "commodities" in p["name"] and "row 2" in p["name"] for p in problem["invalid_params"]
    )
    assert problem["report"]["outcome"] == "refused"
    assert _stored(engine) == 0


def test_a_dry_run_checks_and_writes_nothing(client, keys, engine):
    response = _post(client, keys["editor"], GOOD, dry_run=True)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "dry_run"
    assert _stored(engine) == 0


def test_an_editors_import_is_its_organisations_and_audited(client, keys, engine):
    response = _post(client, keys["editor"], GOOD, confidential=True)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["outcome"] == "written" and report["inserted"] == 2
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT source_id, owner_org, confidential FROM deposits WHERE source = :s ORDER BY source_id"
            ),
            {"s": SOURCE},
        ).all()
        audit = conn.execute(
            text(
                "SELECT a.actor, a.channel FROM audit_log a JOIN deposits d ON d.id = a.record_id "
                "WHERE a.table_name = 'deposits' AND d.source = :s"
            ),
            {"s": SOURCE},
        ).all()
        run = conn.execute(
            text("SELECT imported_by FROM import_runs WHERE source = :s ORDER BY id DESC LIMIT 1"),
            {"s": SOURCE},
        ).scalar()
    assert [tuple(r) for r in rows] == [("h-1", keys["org"], True), ("h-2", keys["org"], True)]
    assert sorted(tuple(a) for a in audit) == [("eva@imp", "import")] * 2
    assert run == "eva@imp"
    metrics = client.get("/metrics").text
    assert 'veta_import_rows_total{layer="deposits",result="inserted"} 2.0' in metrics
    # Confidential: not in anyone else's answers.
    found = client.get(f"/collections/deposits/items?filter=source = '{SOURCE}'").json()
    assert found["numberMatched"] == 0
    own = client.get(
        f"/collections/deposits/items?filter=source = '{SOURCE}'",
        headers={"Authorization": f"Bearer {keys['reader']}"},
    ).json()
    assert own["numberMatched"] == 2


def test_a_file_over_the_limit_is_refused_before_it_is_read(db_url, keys):
    settings = Settings(database_url=db_url, state_dir=PROJECT_ROOT / ".veta", import_max_mb=0.0001)
    with TestClient(create_app(settings)) as small:
        response = _post(small, keys["editor"], GOOD * 2)
    assert response.status_code == 413
    assert response.json()["invalid_params"][0]["name"] == "body"
