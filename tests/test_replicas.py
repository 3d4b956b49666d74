"""Reads on a real streaming replica: a primary and a replica made with pg_basebackup, both
local clusters in a temporary directory, and Veta with DATABASE_URL on the primary and
VETA_READ_DATABASE_URLS on the replica.

That a read was served by the replica is shown by what only the replica can answer: with its
replay paused, a change made on the primary directly is not in the answer; resumed and
replayed, it is. Run alone with `pytest -m replicas`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from shapely.geometry import Point, mapping
from sqlalchemy import text

from api.app import create_app
from geo.access.keys import create_key, create_organisation
from geo.core.settings import Settings
from geo.store.cluster import LocalCluster
from geo.store.db import sync_engine, with_database, with_user
from geo.store.migrate import create_database, upgrade
from geo.store.sample import load_sample
from geo.store.viewer import SERVICE_ROLE

pytestmark = pytest.mark.replicas

DATABASE = "veta"
REPLAY_TIMEOUT_S = 15.0
# What the test measured, printed at the end of the module (benchmarks/README.md quotes it).
FIGURES: dict[str, float] = {}


class Pair:
    """The primary and its replica, each with an owner's engine for checks made beside Veta."""

    def __init__(self, root: Path) -> None:
        self.primary = LocalCluster(root / "primary")
        self.replica = LocalCluster(root / "replica")
        self.primary_url = ""
        self.replica_url = ""

    def engines(self) -> None:
        self.on_primary = sync_engine(self.primary_url)
        self.on_replica = sync_engine(self.replica_url)

    def pause_replay(self) -> None:
        with self.on_replica.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_pause()"))
            _until(
                lambda: (
                    conn.execute(text("SELECT pg_get_wal_replay_pause_state()")).scalar()
                    == "paused"
                ),
                "the replica's replay to pause",
            )

    def resume_replay(self) -> float:
        """Resume, and wait until the replica has replayed all the primary has written; the
        seconds that took."""
        started = time.perf_counter()
        with self.on_replica.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
        self.wait_for_replay()
        return time.perf_counter() - started

    def wait_for_replay(self) -> None:
        with self.on_primary.connect() as conn:
            written = conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar()
        with self.on_replica.connect() as conn:
            _until(
                lambda: conn.execute(
                    text("SELECT pg_last_wal_replay_lsn() >= CAST(:w AS pg_lsn)"), {"w": written}
                ).scalar(),
                "the replica to replay the primary's WAL",
            )

    def rename_on_primary(self, deposit_id: int, name: str) -> None:
        with self.on_primary.begin() as conn:
            conn.execute(
                text("UPDATE deposits SET name = :n WHERE id = :i"), {"n": name, "i": deposit_id}
            )

    def service_backends_on_replica(self) -> int:
        with self.on_replica.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE usename = 'veta_service' AND datname = :d"
                ),
                {"d": DATABASE},
            ).scalar()


def _until(condition, what: str, timeout: float = REPLAY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def pair():
    """A primary with the León sample and an editor's key, and its streaming replica; both
    stopped and removed at the end, whatever happened."""
    root = Path(tempfile.mkdtemp(prefix="veta-replicas-"))
    root.chmod(0o755)  # the clusters run as the postgres OS user when the tests run as root
    pair = Pair(root)
    try:
        pair.primary_url = with_database(pair.primary.start(), DATABASE)
        create_database(pair.primary_url)
        upgrade(pair.primary_url)
        engine = sync_engine(pair.primary_url)
        load_sample(engine)
        with engine.begin() as conn:
            create_organisation(conn, "t-rep", "t-rep")
            pair.editor = create_key(conn, "t-rep", "editor", "ed@rep", None)[0]
        engine.dispose()
        started = time.perf_counter()
        pair.replica_url = with_database(pair.replica.follow(pair.primary), DATABASE)
        FIGURES["replica made (pg_basebackup, start) s"] = time.perf_counter() - started
        pair.engines()
        yield pair
    finally:
        for engine_name in ("on_primary", "on_replica"):
            if hasattr(pair, engine_name):
                getattr(pair, engine_name).dispose()
        pair.replica.stop()
        pair.primary.stop()
        shutil.rmtree(root, ignore_errors=True)
        print("\nreplica figures:", {k: round(v, 3) for k, v in FIGURES.items()})


@pytest.fixture(scope="module")
def client(pair):
    settings = Settings(
        database_url=pair.primary_url,
        read_database_urls=[pair.replica_url],
        replica_check_s=0.2,
    )
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def deposit_id(pair) -> int:
    with pair.on_primary.connect() as conn:
        return conn.execute(text("SELECT min(id) FROM deposits WHERE NOT confidential")).scalar()


def _name(client, deposit_id: int, **headers) -> str:
    response = client.get(f"/collections/deposits/items/{deposit_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["properties"]["name"]


def _metric(client, name: str, **labels) -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"no sample {name} {labels}")


def test_reads_are_served_by_the_replica(pair, client, deposit_id):
    before = _name(client, deposit_id)
    handed = _metric(client, "veta_pool_acquired_total", pool="replica")
    pair.pause_replay()
    try:
        pair.rename_on_primary(deposit_id, "Renamed on the primary")
        # The primary has the new name; the answers come from the paused replica.
        for _ in range(3):
            assert _name(client, deposit_id) == before
        assert _metric(client, "veta_pool_acquired_total", pool="replica") >= handed + 3
        assert pair.service_backends_on_replica() >= 1
    finally:
        FIGURES["replay wait after a pause s"] = pair.resume_replay()
    assert _name(client, deposit_id) == "Renamed on the primary"


def test_an_editors_write_goes_to_the_primary_and_is_read_back_at_once(pair, client):
    editor = {"Authorization": f"Bearer {pair.editor}"}
    feature = {
        "type": "Feature",
        "geometry": mapping(Point(-5.5712, 42.6011)),
        "properties": {"name": "Filón replicado", "commodities": ["W"], "source": "t-rep"},
    }
    pair.pause_replay()
    try:
        created = client.post("/collections/deposits/items", json=feature, headers=editor)
        assert created.status_code == 201, created.text
        new_id = created.json()["id"]
        # Whoever may write reads their own write at once: the paused replica has not
        # replayed it, so their reads go to the primary...
        assert _name(client, new_id, **editor) == "Filón replicado"
        # ...while anonymous reads are still served by the replica, which has not seen it.
        assert client.get(f"/collections/deposits/items/{new_id}").status_code == 404
    finally:
        pair.resume_replay()
    # Replayed: the replica answers everyone with it.
    assert _name(client, new_id) == "Filón replicado"
    with pair.on_replica.connect() as conn:
        assert conn.execute(
            text("SELECT name FROM deposits WHERE id = :i"), {"i": new_id}
        ).scalar() == ("Filón replicado")


def test_a_key_made_a_moment_ago_is_accepted_before_the_replica_has_it(pair, client):
    pair.pause_replay()
    try:
        with pair.on_primary.begin() as conn:
            fresh = create_key(conn, "t-rep", "reader", "new@rep", None)[0]
        response = client.get("/collections", headers={"Authorization": f"Bearer {fresh}"})
        assert response.status_code == 200, response.text
    finally:
        pair.resume_replay()


def test_a_kept_report_is_found_by_its_link_before_the_replica_has_it(pair, client):
    pair.pause_replay()
    try:
        site = {"type": "Point", "coordinates": [-5.5712, 42.6011], "buffer_m": 500}
        kept = client.post("/screening", json=site)  # a POST: kept on the primary
        assert kept.status_code == 200, kept.text
        again = client.get(f"/screening/reports/{kept.json()['id']}", params={"f": "json"})
        assert again.status_code == 200, again.text
        assert again.json()["verdict"] == kept.json()["verdict"]
    finally:
        pair.resume_replay()


def test_a_count_made_on_the_replica_is_not_served_after_the_data_changed(pair, client, deposit_id):
    """numberMatched of a box around a deposit, remembered from the replica, is counted again
    once the primary's move of that deposit out of the box has been replayed (the counters
    moved), and agrees with the database's own count for an anonymous reader."""
    with pair.on_primary.connect() as conn:
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
    assert first == _public_in(pair, box)
    with pair.on_primary.begin() as conn:
        conn.execute(
            text("UPDATE deposits SET geom = ST_Translate(geom, 1, 0) WHERE id = :i"),
            {"i": deposit_id},
        )
    started = time.perf_counter()
    pair.wait_for_replay()
    FIGURES["replay wait after a write s"] = time.perf_counter() - started
    after = client.get("/collections/deposits/items", params=params).json()["numberMatched"]
    assert after == first - 1 == _public_in(pair, box)


def _public_in(pair, box) -> int:
    """Deposits an anonymous reader sees in the box, counted on the primary as the service."""
    engine = sync_engine(with_user(pair.primary_url, SERVICE_ROLE))
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


def test_the_service_stays_up_without_the_replica_and_uses_it_again_when_back(
    pair, client, deposit_id
):
    pair.replica.stop()
    stopped = time.perf_counter()
    statuses = []
    for _ in range(5):
        response = client.get(f"/collections/deposits/items/{deposit_id}")
        statuses.append(response.status_code)
        if len(statuses) == 1:
            FIGURES["first read after the replica stopped s"] = time.perf_counter() - stopped
    assert statuses == [200] * 5
    assert FIGURES["first read after the replica stopped s"] < 1.0
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["replicas"]["servers"][0]["up"] is False
    assert _metric(client, "veta_replica_up") == 0
    # Writes and reads of them carry on, on the primary alone.
    pair.rename_on_primary(deposit_id, "Renamed while the replica was down")
    assert _name(client, deposit_id) == "Renamed while the replica was down"

    pair.replica.start()
    restarted = time.perf_counter()
    pair.on_replica.dispose()  # the test's own connections went with the server
    _until(lambda: client.get("/readyz").json()["status"] == "ready", "the replica back in use")
    FIGURES["replica back in use after its restart s"] = time.perf_counter() - restarted
    pair.wait_for_replay()
    pair.pause_replay()
    try:
        pair.rename_on_primary(deposit_id, "Renamed once the replica was back")
        assert _name(client, deposit_id) == "Renamed while the replica was down"
    finally:
        pair.resume_replay()
    assert _name(client, deposit_id) == "Renamed once the replica was back"


def test_a_replica_too_far_behind_is_left_aside(pair, deposit_id):
    settings = Settings(
        database_url=pair.primary_url,
        read_database_urls=[pair.replica_url],
        replica_check_s=0.1,
        replica_max_lag_s=0.5,
    )
    with TestClient(create_app(settings)) as client:
        pair.pause_replay()
        try:
            pair.rename_on_primary(deposit_id, "Renamed past the lag limit")
            _until(
                lambda: client.get("/readyz").json()["status"] == "degraded",
                "the lagging replica to be left aside",
                timeout=5,
            )
            assert _name(client, deposit_id) == "Renamed past the lag limit"
            lag = client.get("/readyz").json()["checks"]["replicas"]["servers"][0]["lagSeconds"]
            assert lag > 0.5
        finally:
            pair.resume_replay()
