"""Reads on real streaming replicas: a primary and two replicas made from it with
pg_basebackup, all local clusters in a temporary directory, and Veta with DATABASE_URL on the
primary and VETA_READ_DATABASE_URLS on the replicas.

That a read was served by a replica is shown by what only a replica can answer: with its
replay paused, a change made on the primary directly is not in the answer; resumed and
replayed, it is. Run alone with `pytest -m replicas`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from replica_servers import DATABASE, Servers, SilentRelay, until
from shapely.geometry import Point, mapping
from sqlalchemy import text

from api.app import create_app
from geo.access.keys import create_key, create_organisation
from geo.core.settings import Settings
from geo.store.db import sync_engine, with_database, with_user
from geo.store.migrate import create_database, upgrade
from geo.store.sample import load_sample
from geo.store.viewer import SERVICE_ROLE

pytestmark = pytest.mark.replicas

# What the test measured, printed at the end of the module (benchmarks/README.md quotes it).
FIGURES: dict[str, float] = {}


@pytest.fixture(scope="module")
def servers():
    """A primary with the León sample and an editor's key, and two streaming replicas of it;
    all stopped and removed at the end, whatever happened."""
    root = Path(tempfile.mkdtemp(prefix="veta-replicas-"))
    root.chmod(0o755)  # the clusters run as the postgres OS user when the tests run as root
    servers = Servers(root)
    try:
        servers.primary_url = with_database(servers.primary.start(), DATABASE)
        create_database(servers.primary_url)
        upgrade(servers.primary_url)
        engine = sync_engine(servers.primary_url)
        load_sample(engine)
        with engine.begin() as conn:
            create_organisation(conn, "t-rep", "t-rep")
            servers.editor = create_key(conn, "t-rep", "editor", "ed@rep", None)[0]
        engine.dispose()
        started = time.perf_counter()
        with ThreadPoolExecutor(2) as both:
            admin_urls = list(both.map(lambda r: r.follow(servers.primary), servers.replicas))
        FIGURES["two replicas made (pg_basebackup, start) s"] = time.perf_counter() - started
        servers.replica_urls = [with_database(url, DATABASE) for url in admin_urls]
        servers.connect()
        yield servers
    finally:
        for engine in [getattr(servers, "on_primary", None), *servers.engines]:
            if engine is not None:
                engine.dispose()
        for cluster in (*servers.replicas, servers.primary):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        print("\nreplica figures:", {k: round(v, 3) for k, v in FIGURES.items()})


@pytest.fixture(scope="module")
def client(servers):
    with TestClient(create_app(_settings(servers))) as c:
        yield c


def _settings(servers, **more) -> Settings:
    return Settings(
        database_url=servers.primary_url,
        read_database_urls=servers.replica_urls,
        **{"replica_check_s": 0.2, **more},
    )


@pytest.fixture(scope="module")
def deposit_id(servers) -> int:
    with servers.on_primary.connect() as conn:
        return conn.execute(text("SELECT min(id) FROM deposits WHERE NOT confidential")).scalar()


def _name(client, deposit_id: int, **headers) -> str:
    response = client.get(f"/collections/deposits/items/{deposit_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["properties"]["name"]


def _replicas(client) -> list[dict]:
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    return ready.json()["checks"]["replicas"]["servers"]


def _metric(client, name: str, **labels) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"no sample {name} {labels}")


def test_reads_are_served_by_the_replicas(servers, client, deposit_id):
    before = _name(client, deposit_id)
    servers.pause_replay()
    try:
        servers.rename_on_primary(deposit_id, "Renamed on the primary")
        # The primary has the new name; the answers come from the paused replicas.
        for _ in range(4):
            assert _name(client, deposit_id) == before
        assert all(servers.service_backends_on(i) >= 1 for i in (0, 1))
    finally:
        FIGURES["replay wait after a pause s"] = servers.resume_replay()
    assert _name(client, deposit_id) == "Renamed on the primary"


def test_reads_are_spread_over_the_replicas(servers, client, deposit_id):
    def handed() -> list[float]:
        return [
            _metric(client, "veta_pool_acquired_total", pool=role, server=server)
            for role, server in (
                ("replica", servers.label(0)),
                ("replica", servers.label(1)),
                ("primary", f"127.0.0.1:{servers.primary.port()}/{DATABASE}"),
            )
        ]

    before = handed()
    for _ in range(10):
        _name(client, deposit_id)
    first, second, primary = (b - a for a, b in zip(before, handed(), strict=True))
    # One connection per read, the replicas taking turns; none on the primary (the /metrics
    # scrapes in between read nothing from the database).
    assert (first, second, primary) == (5, 5, 0)


def test_an_editors_write_goes_to_the_primary_and_is_read_back_at_once(servers, client):
    editor = {"Authorization": f"Bearer {servers.editor}"}
    feature = {
        "type": "Feature",
        "geometry": mapping(Point(-5.5712, 42.6011)),
        "properties": {"name": "Filón replicado", "commodities": ["W"], "source": "t-rep"},
    }
    servers.pause_replay()
    try:
        created = client.post("/collections/deposits/items", json=feature, headers=editor)
        assert created.status_code == 201, created.text
        new_id = created.json()["id"]
        # Whoever may write reads their own write at once: the paused replicas have not
        # replayed it, so their reads go to the primary — on another app too (as another
        # worker would be: its own pools), which knows of the write only what the primary says...
        assert _name(client, new_id, **editor) == "Filón replicado"
        with TestClient(create_app(_settings(servers))) as other_worker:
            assert _name(other_worker, new_id, **editor) == "Filón replicado"
        # ...while anonymous reads are still served by the replicas, which have not seen it.
        assert client.get(f"/collections/deposits/items/{new_id}").status_code == 404
    finally:
        servers.resume_replay()
    # Replayed: the replicas answer everyone with it.
    assert _name(client, new_id) == "Filón replicado"
    for engine in servers.engines:
        with engine.connect() as conn:
            assert conn.execute(
                text("SELECT name FROM deposits WHERE id = :i"), {"i": new_id}
            ).scalar() == ("Filón replicado")


def test_a_key_made_a_moment_ago_is_accepted_before_the_replica_has_it(servers, client):
    servers.pause_replay()
    try:
        with servers.on_primary.begin() as conn:
            fresh = create_key(conn, "t-rep", "reader", "new@rep", None)[0]
        response = client.get("/collections", headers={"Authorization": f"Bearer {fresh}"})
        assert response.status_code == 200, response.text
    finally:
        servers.resume_replay()


def test_a_kept_report_is_found_by_its_link_before_the_replica_has_it(servers, client):
    servers.pause_replay()
    try:
        site = {"type": "Point", "coordinates": [-5.5712, 42.6011], "buffer_m": 500}
        kept = client.post("/screening", json=site)  # a POST: kept on the primary
        assert kept.status_code == 200, kept.text
        again = client.get(f"/screening/reports/{kept.json()['id']}", params={"f": "json"})
        assert again.status_code == 200, again.text
        assert again.json()["verdict"] == kept.json()["verdict"]
    finally:
        servers.resume_replay()


def test_a_count_made_on_the_replica_is_not_served_after_the_data_changed(
    servers, client, deposit_id
):
    """numberMatched of a box around a deposit, remembered from the replica, is counted again
    once the primary's move of that deposit out of the box has been replayed (the counters
    moved), and agrees with the database's own count for an anonymous reader."""
    with servers.on_primary.connect() as conn:
        x, y = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM "
                "(SELECT ST_PointOnSurface(geom) AS p FROM deposits WHERE id = :i) s"
            ),
            {"i": deposit_id},
        ).one()
    box = (x - 0.05, y - 0.05, x + 0.05, y + 0.05)
    params = {"bbox": ",".join(f"{c:.6f}" for c in box), "limit": 1}
    first = client.get("/collections/deposits/items", params=params).json()["numberMatched"]
    hits = _metric(client, "veta_count_cache_lookups_total", result="hit")
    assert client.get("/collections/deposits/items", params=params).json()["numberMatched"] == first
    assert _metric(client, "veta_count_cache_lookups_total", result="hit") == hits + 1
    assert first == _public_in(servers, box)
    with servers.on_primary.begin() as conn:
        conn.execute(
            text("UPDATE deposits SET geom = ST_Translate(geom, 1, 0) WHERE id = :i"),
            {"i": deposit_id},
        )
    started = time.perf_counter()
    servers.wait_for_replay()
    FIGURES["replay wait after a write s"] = time.perf_counter() - started
    after = client.get("/collections/deposits/items", params=params).json()["numberMatched"]
    assert after == first - 1 == _public_in(servers, box)


def _public_in(servers, box) -> int:
    """Deposits an anonymous reader sees in the box, counted on the primary as the service."""
    engine = sync_engine(with_user(servers.primary_url, SERVICE_ROLE))
    try:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM deposits "
                    "WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
                ),
                dict(zip("abcd", box, strict=True)),
            ).scalar()
    finally:
        engine.dispose()


def test_the_service_stays_up_without_its_replicas_and_uses_them_again_when_back(
    servers, client, deposit_id
):
    def read_after_stopping(i: int, figure: str) -> str:
        servers.stop(i)
        stopped = time.perf_counter()
        names = []
        for _ in range(4):
            response = client.get(f"/collections/deposits/items/{deposit_id}")
            assert response.status_code == 200, response.text
            names.append(response.json()["properties"]["name"])
            FIGURES.setdefault(figure, time.perf_counter() - stopped)
        assert FIGURES[figure] < 1.0
        assert len(set(names)) == 1
        return names[0]

    before = _name(client, deposit_id)
    # The second replica paused behind a change: what it answers shows who served.
    servers.pause_replay(1)
    servers.rename_on_primary(deposit_id, "Renamed while a replica was down")
    assert read_after_stopping(0, "first read after one replica stopped s") == before
    servers.resume_replay(1)
    assert read_after_stopping(1, "first read after both replicas stopped s") == (
        "Renamed while a replica was down"
    )
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "degraded"
    assert [s["up"] for s in ready.json()["checks"]["replicas"]["servers"]] == [False, False]
    assert _metric(client, "veta_replica_up", server=servers.label(0)) == 0

    servers.start(0)
    servers.start(1)
    restarted = time.perf_counter()
    until(lambda: client.get("/readyz").json()["status"] == "ready", "the replicas back in use")
    FIGURES["replicas back in use after their restart s"] = time.perf_counter() - restarted
    servers.wait_for_replay()
    servers.pause_replay()
    try:
        servers.rename_on_primary(deposit_id, "Renamed once the replicas were back")
        assert _name(client, deposit_id) == "Renamed while a replica was down"
    finally:
        servers.resume_replay()
    assert _name(client, deposit_id) == "Renamed once the replicas were back"


def test_a_replica_too_far_behind_is_left_aside(servers, deposit_id):
    settings = _settings(servers, replica_check_s=0.1, replica_max_lag_s=0.5)
    with TestClient(create_app(settings)) as client:
        servers.pause_replay()
        try:
            servers.rename_on_primary(deposit_id, "Renamed past the lag limit")
            until(
                lambda: not any(s["inUse"] for s in _replicas(client)),
                "the lagging replicas to be left aside",
                timeout=5,
            )
            assert _name(client, deposit_id) == "Renamed past the lag limit"
            assert all(s["up"] and s["lagSeconds"] > 0.5 for s in _replicas(client))
        finally:
            servers.resume_replay()


def test_a_replica_that_falls_silent_is_left_aside_within_the_connect_timeout(servers, deposit_id):
    parts = urlsplit(servers.replica_urls[0])
    relay = SilentRelay(parts.hostname, parts.port)
    relayed = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}"))
    settings = Settings(
        database_url=servers.primary_url, read_database_urls=[relayed], replica_check_s=0.2
    )
    label = f"127.0.0.1:{relay.port}/{DATABASE}"
    with TestClient(create_app(settings)) as client:
        before = _metric(client, "veta_pool_acquired_total", pool="replica", server=label)
        _name(client, deposit_id)
        assert _metric(client, "veta_pool_acquired_total", server=label) == before + 1
        relay.cut()
        try:
            started = time.perf_counter()
            response = client.get(f"/collections/deposits/items/{deposit_id}")
            FIGURES["first read after a replica fell silent s"] = time.perf_counter() - started
            assert response.status_code == 200, response.text
            # The connect timeout, and the read itself on a busy machine.
            assert FIGURES["first read after a replica fell silent s"] < (
                settings.db_connect_timeout_s + 1.0
            )
            started = time.perf_counter()
            assert client.get(f"/collections/deposits/items/{deposit_id}").status_code == 200
            assert time.perf_counter() - started < 0.5  # left aside: not tried again
            assert _replicas(client)[0]["up"] is False
        finally:
            relay.restore()
        until(lambda: _replicas(client)[0]["inUse"], "the relayed replica back in use")
        handed = _metric(client, "veta_pool_acquired_total", server=label)
        _name(client, deposit_id)
        assert _metric(client, "veta_pool_acquired_total", server=label) == handed + 1
