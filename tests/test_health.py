"""Liveness, readiness (including while the database is unreachable) and the request log."""

from __future__ import annotations

import json
import logging
import os
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import text
from test_hostile_input import Proxy

from api.app import create_app
from geo.core.settings import Settings
from geo.store.migrate import alembic_config, current_revision


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_ready_at_the_migration_head(client, db_url):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert body["checks"]["migrations"] == {
        "ok": True,
        "current": current_revision(db_url),
        "head": head,
    }
    assert (
        body["checks"]["pool"]["ok"]
        and body["checks"]["pool"]["inUse"] < body["checks"]["pool"]["max"]
    )


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


def test_readyz_fails_while_the_database_is_unreachable_and_recovers(proxied):
    proxy, client = proxied
    assert client.get("/readyz").status_code == 200
    proxy.cut()
    try:
        for _ in range(2):  # the broken pooled connection, then a fresh attempt refused
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "5"
            assert response.json()["checks"]["database"]["ok"] is False
            assert client.get("/healthz").status_code == 200  # the process is alive all the same
    finally:
        proxy.restore()
    assert client.get("/readyz").status_code == 200


def request_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "veta.requests"]


def test_one_json_log_line_per_request_with_route_template_and_the_id_returned(client, caplog):
    caplog.set_level(logging.INFO, logger="veta.requests")
    response = client.get("/deposits/1", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    [line] = request_lines(caplog)
    assert line["request_id"] == "abc-123" and line["route"] == "/deposits/{deposit_id}"
    assert (
        line["status"] == response.status_code
        and line["duration_ms"] >= 0
        and line["path"] == "/deposits/1"
    )


def test_the_log_line_says_how_many_features_the_answer_carried(client, caplog):
    caplog.set_level(logging.INFO, logger="veta.requests")
    body = client.get("/deposits", params={"commodity": "W", "limit": 7}).json()
    [line] = request_lines(caplog)
    assert line["rows"] == len(body["features"]) == 7


def test_a_request_id_is_made_when_missing_or_unusable(client, caplog):
    caplog.set_level(logging.INFO, logger="veta.requests")
    made = client.get("/healthz").headers["X-Request-ID"]
    odd = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"}).headers[
        "X-Request-ID"
    ]
    assert len(made) == 32 and len(odd) == 32 and made != odd
    assert [line["request_id"] for line in request_lines(caplog)] == [made, odd]


def test_credentials_never_reach_the_log(client, caplog):
    caplog.set_level(logging.INFO, logger="veta.requests")
    client.get(
        "/deposits",
        params={"limit": 1, "api_key": "s3cr3t-key", "token": "t0ken"},
        headers={"Authorization": "Bearer very-secret"},
    )
    text = caplog.text + " ".join(r.getMessage() for r in caplog.records)
    for secret in ("s3cr3t-key", "t0ken", "very-secret"):
        assert secret not in text
    [line] = request_lines(caplog)
    assert "limit=1" in line["query"] and "api_key=%2A%2A%2A" in line["query"]


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus' text format, parsed by prometheus-client's parser."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_metrics_count_requests_and_latency_by_route_template_and_status(client):
    before = client.get("/metrics").text
    for deposit in (1, 2, 999999):
        client.get(f"/deposits/{deposit}")
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    route = {"method": "GET", "route": "/deposits/{deposit_id}"}
    counted = {
        s: sample(after.text, "veta_requests_total", status=s, **route)
        - sample(before, "veta_requests_total", status=s, **route)
        for s in ("200", "404")
    }
    assert counted == {"200": 2, "404": 1}
    observed = sample(
        after.text, "veta_request_duration_seconds_count", status="200", **route
    ) - sample(before, "veta_request_duration_seconds_count", status="200", **route)
    assert observed == 2
    assert "/deposits/1" not in after.text  # raw paths would make one series per item


def test_metrics_report_the_pool_database_time_and_cache_hits(client):
    query = {"area": "leon", "limit": 1}
    client.get("/deposits", params=query)
    before = client.get("/metrics").text
    client.get("/deposits", params=query)  # the same count again: remembered
    after = client.get("/metrics").text
    hits = sample(after, "veta_count_cache_lookups_total", result="hit") - sample(
        before, "veta_count_cache_lookups_total", result="hit"
    )
    assert hits >= 1
    assert sample(after, "veta_database_seconds_total") > sample(
        before, "veta_database_seconds_total"
    )
    assert sample(after, "veta_pool_max") >= 1 and sample(after, "veta_pool_waiting") == 0
    assert 0 <= sample(after, "veta_pool_in_use") <= sample(after, "veta_pool_size")


def test_veta_serve_writes_the_json_request_log_to_stderr(db_url, tmp_path):
    """Under `veta serve` (not only in-process) each request is one JSON line, and uvicorn's
    access log, which writes whole URLs, is off."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "veta"), "serve", "--port", str(port)],
            env={**os.environ, "DATABASE_URL": db_url},
            stdout=err,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.1)
            httpx.get(
                f"http://127.0.0.1:{port}/deposits",
                params={"limit": 1, "token": "s3cret"},
                headers={"X-Request-ID": "served-1"},
            )
        finally:
            server.terminate()
            server.wait(15)
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    served = [x for x in lines if x.get("request_id") == "served-1"]
    assert len(served) == 1 and served[0]["route"] == "/deposits"
    assert "s3cret" not in log.read_text()


def test_a_process_started_on_an_older_schema_says_so_and_is_not_ready(db_url, engine, caplog):
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    older = ScriptDirectory.from_config(alembic_config(db_url)).get_revision(head).down_revision
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": older})
    try:
        with caplog.at_level(logging.WARNING, logger="veta"):
            with TestClient(create_app(Settings(database_url=db_url))) as client:
                ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["migrations"] == {"ok": False, "current": older, "head": head}
        said = [
            r.getMessage() for r in caplog.records if "schema is at migration" in r.getMessage()
        ]
        assert said == [
            f"the database's schema is at migration {older}, this Veta's newest is {head}: run "
            "`veta db upgrade` (until then /readyz answers 503 and requests needing newer tables fail)"
        ]
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert current_revision(db_url) == head
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="veta"):
        with TestClient(create_app(Settings(database_url=db_url))) as client:
            assert client.get("/readyz").status_code == 200
    assert not [r for r in caplog.records if "schema is at migration" in r.getMessage()]
