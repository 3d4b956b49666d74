"""Veta behind a real PgBouncer in transaction mode (VETA_DATABASE_POOLER=pgbouncer), with two
server connections for all its clients, so that every server connection is shared.

What must hold there: each organisation sees its own confidential records and nobody else's;
each kind's statement timeout applies to its own transaction and to no other client's; the
viewer's settings never reach another client of the same server connection; writes and imports
are audited with their actor; and no prepared statement goes missing or collides, with two
server processes each numbering its statements from one.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from conftest import _free_port
from fastapi.testclient import TestClient
from records import insert_deposit
from shapely import wkt
from shapely.geometry import box
from sqlalchemy import text

from api.app import create_app
from geo.access.keys import create_key, create_organisation
from geo.core.settings import Settings
from geo.store.db import SESSION_SETTINGS, create_pool, libpq_url, with_user
from geo.store.timed_pool import KINDS, REQUEST_KIND, DatabaseBusy
from geo.store.viewer import ANONYMOUS, SERVICE_ROLE, VIEWER, Viewer

pytestmark = pytest.mark.pgbouncer

SOURCE = "t-pgbouncer"
SERVER_CONNECTIONS = 2
# The test records: around a point of León with nothing else near, one public deposit and one
# confidential deposit of each organisation.
AT = (-6.2471, 42.8123)
AREA = box(AT[0] - 0.01, AT[1] - 0.01, AT[0] + 0.01, AT[1] + 0.01)
BBOX = ",".join(f"{v:.4f}" for v in AREA.bounds)


@pytest.fixture(scope="module")
def bouncer(db_url):
    """PgBouncer on a free port in front of the test database's server; its URL for the
    service's role. Runs as `nobody` when the tests run as root, which it refuses."""
    server = urlsplit(db_url)
    database = server.path.lstrip("/")
    home = Path(tempfile.mkdtemp(prefix="veta-pgbouncer-"))
    port = _free_port()
    users = {SERVICE_ROLE: "", server.username: server.password or ""}
    (home / "userlist.txt").write_text("".join(f'"{u}" "{p}"\n' for u, p in users.items()))
    (home / "pgbouncer.ini").write_text(
        f"[databases]\n{database} = host={server.hostname} port={server.port} dbname={database}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {home / 'userlist.txt'}\npool_mode = transaction\n"
        f"default_pool_size = {SERVER_CONNECTIONS}\nmax_client_conn = 200\n"
    )
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    command = [binary, str(home / "pgbouncer.ini")]
    if os.geteuid() == 0:
        for path in (home, *home.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        command[1:1] = ["-u", "nobody"]
    log = (home / "pgbouncer.log").open("w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _listening(port), proc, home / "pgbouncer.log")
        yield f"postgresql://{SERVICE_ROLE}@127.0.0.1:{port}/{database}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        shutil.rmtree(home)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_for(ready, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(log.read_text())
        time.sleep(0.1)


@pytest.fixture(scope="module")
def world(engine):
    """Organisations A and B, an editor's key each, and the test deposits."""
    with engine.begin() as conn:
        orgs = {o: create_organisation(conn, f"t-pgb-{o}", f"Pooled {o}") for o in ("a", "b")}
        keys = {o: create_key(conn, f"t-pgb-{o}", "editor", f"{o}@pgb", None)[0] for o in orgs}
        deposits = {}
        for name, owner in (("public", None), ("a", orgs["a"]), ("b", orgs["b"])):
            at = (AT[0] + 0.001 * len(deposits), AT[1])
            deposits[name] = insert_deposit(conn, f"pgb-{name}", at, SOURCE, name, owner)
    yield {"orgs": orgs, "keys": keys, "deposits": deposits}
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM organisations WHERE code LIKE 't-pgb-%'"))


def _pooled(db_url: str, bouncer: str, **overrides) -> Settings:
    return Settings(
        database_url=db_url, service_database_url=bouncer, database_pooler="pgbouncer", **overrides
    )


def _visible_in_area(engine, organisation: int | None) -> set[int]:
    """Independently: the deposits meeting AREA (shapely on their geometries, read as the
    owner, who sees every record) that this organisation may see."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, ST_AsText(geom), confidential, owner_org FROM deposits")
        ).all()
    return {
        i
        for i, geometry, confidential, owner in rows
        if AREA.intersects(wkt.loads(geometry)) and (not confidential or owner == organisation)
    }


def test_the_direct_connections_startup_settings_are_refused_and_the_pooled_pool_opens(
    db_url, bouncer
):
    async def both():
        with pytest.raises(asyncpg.ProtocolViolationError, match="unsupported startup parameter"):
            await create_pool(bouncer, Settings(database_url=db_url))
        pool = await create_pool(bouncer, _pooled(db_url, bouncer))
        async with pool.acquire() as conn:
            for name, value in SESSION_SETTINGS.items():
                assert await conn.fetchval("SELECT current_setting($1)", name) == value
        await pool.close()

    asyncio.run(both())


SEEN = (
    "SELECT (SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'), "
    "coalesce(current_setting('veta.org', true), ''), current_setting('plan_cache_mode'), "
    "current_setting('max_parallel_workers_per_gather'), pg_backend_pid()"
)


def _left_on_server_connections(bouncer: str, db_url: str) -> tuple[set, tuple]:
    """The settings every server connection behind PgBouncer holds now, outside any client's
    transaction (as many clients as server connections, each holding one in a transaction), and
    the server's defaults for the service's role, read directly."""

    async def read():
        direct = await asyncpg.connect(libpq_url(with_user(db_url, SERVICE_ROLE)))
        defaults = tuple(await direct.fetchrow(SEEN))[:4]
        await direct.close()
        clients = [
            await asyncpg.connect(bouncer, statement_cache_size=0)
            for _ in range(SERVER_CONNECTIONS)
        ]
        seen = []

        async def hold(conn):
            async with conn.transaction():
                seen.append(tuple(await conn.fetchrow(SEEN)))
                await asyncio.sleep(0.3)

        await asyncio.gather(*(hold(c) for c in clients))
        for c in clients:
            await c.close()
        return seen, defaults

    seen, defaults = asyncio.run(read())
    assert len({s[4] for s in seen}) == SERVER_CONNECTIONS  # every server connection looked at
    return {s[:4] for s in seen}, defaults


def test_each_uses_settings_stay_in_its_transaction_on_shared_server_connections(
    db_url, bouncer, world
):
    settings = _pooled(db_url, bouncer, db_pool_min=1, db_pool_max=8)
    timeouts = {
        kind: int(getattr(settings, f"statement_timeout_{kind}_s") * 1000) for kind in KINDS
    }
    orgs = world["orgs"]
    viewers = [ANONYMOUS] + [
        Viewer(organisation_id=orgs[o], organisation=f"t-pgb-{o}", role="editor", actor=o)
        for o in orgs
    ]
    deposits = world["deposits"]

    async def use(pool, kind: str, viewer: Viewer):
        REQUEST_KIND.set(kind)
        VIEWER.set(viewer)
        async with pool.acquire() as conn:
            first = tuple(await conn.fetchrow(SEEN))
            await asyncio.sleep(random.uniform(0, 0.004))
            visible = set(
                await conn.fetchval("SELECT array_agg(id) FROM deposits WHERE source = $1", SOURCE)
            )
            second = tuple(await conn.fetchrow(SEEN))
        expected_org = "" if viewer.anonymous else str(viewer.organisation_id)
        assert first == second  # one transaction: one server connection, the same settings
        assert first[:4] == (timeouts[kind], expected_org, "force_custom_plan", "0")
        mine = {name for name, org in orgs.items() if org == viewer.organisation_id}
        assert visible == {deposits["public"], *(deposits[o] for o in mine)}
        return first[4]

    async def run():
        direct = await asyncpg.connect(libpq_url(with_user(db_url, SERVICE_ROLE)))
        defaults = tuple(await direct.fetchrow(SEEN))[:4]
        await direct.close()
        pool = await create_pool(bouncer, settings)
        bystander = await asyncpg.connect(bouncer, statement_cache_size=0)
        done = asyncio.Event()
        watched = []

        async def watch():
            while not done.is_set():
                watched.append(tuple(await bystander.fetchrow(SEEN)))

        watcher = asyncio.create_task(watch())
        pids = set()
        for _ in range(20):
            uses = [use(pool, kind, viewer) for kind in KINDS for viewer in viewers]
            random.shuffle(uses)
            pids.update(await asyncio.gather(*uses))
        done.set()
        await watcher
        clients = pool.primary.pool.get_size()
        await bystander.close()
        await pool.close()
        return defaults, watched, pids, clients

    defaults, watched, pids, clients = asyncio.run(run())
    # The server's defaults differ from what Veta sets: a setting left behind would show.
    assert defaults[0] not in timeouts.values() and defaults[1] == ""
    assert defaults[2] != "force_custom_plan" and defaults[3] != "0"
    assert len(watched) > 20 and {w[:4] for w in watched} == {defaults}
    assert clients > SERVER_CONNECTIONS >= len(pids | {w[4] for w in watched})


def test_a_kinds_timeout_cancels_its_own_statements_only(db_url, bouncer):
    settings = _pooled(db_url, bouncer, statement_timeout_batch_s=0.2, db_pool_max=6)

    async def sleep(pool, kind: str) -> str:
        REQUEST_KIND.set(kind)
        try:
            async with pool.acquire() as conn:
                await conn.execute("SELECT pg_sleep(0.5)")
        except DatabaseBusy:
            return "cancelled"
        return "slept"

    async def run():
        pool = await create_pool(bouncer, settings)
        bystander = await asyncpg.connect(bouncer, statement_cache_size=0)
        answers = []
        for _ in range(2):
            answers.append(
                await asyncio.gather(
                    sleep(pool, "batch"),
                    sleep(pool, "read"),
                    sleep(pool, "batch"),
                    bystander.execute("SELECT pg_sleep(0.5)"),
                )
            )
        await bystander.close()
        await pool.close()
        return answers

    for batch, read, other_batch, bystander in asyncio.run(run()):
        assert (batch, read, other_batch) == ("cancelled", "slept", "cancelled")
        assert bystander.startswith("SELECT")


def test_a_batch_past_its_timeout_is_503_and_reads_beside_it_answer(db_url, bouncer):
    settings = _pooled(db_url, bouncer, statement_timeout_batch_s=0.001)
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            batch = client.get("/screening/deposits", params={"area": "leon", "f": "csv"})
            assert batch.status_code == 503 and batch.json()["type"].endswith("statement-timeout")
            assert batch.headers["Retry-After"] == str(settings.retry_after_s)
            assert client.get("/deposits", params={"area": "leon", "limit": 5}).status_code == 200


@pytest.fixture(scope="module")
def served(db_url, bouncer):
    """`veta serve` with two worker processes, the service's connections through PgBouncer
    (migrations and the command line would use DATABASE_URL, directly)."""
    port = _free_port()
    log = Path(tempfile.mkdtemp(prefix="veta-pgbouncer-serve-")) / "serve.log"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "VETA_SERVICE_DATABASE_URL": bouncer,
        "VETA_DATABASE_POOLER": "pgbouncer",
        "VETA_WORKERS": "2",
        "VETA_DB_POOL_MAX": "6",
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "veta"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _answers(url + "/readyz"), proc, log)
        yield url, log
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(log.parent)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.TransportError:
        return False


def test_interleaved_viewers_each_see_their_own_records_and_nothing_else(
    served, world, engine, bouncer, db_url
):
    url, log = served
    orgs, keys, deposits = world["orgs"], world["keys"], world["deposits"]
    viewers = {None: {}, **{o: {"Authorization": f"Bearer {keys[o]}"} for o in orgs}}
    expected = {o: _visible_in_area(engine, orgs.get(o)) for o in viewers}
    assert deposits["a"] in expected["a"] and deposits["a"] not in expected[None] | expected["b"]

    def ask(who):
        headers = viewers[who]
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            # An OGC page (fetched whole) and a streamed list (read from a server-side cursor,
            # which asyncpg prepares under a name).
            for path in ("/collections/deposits/items", "/deposits"):
                page = http.get(f"{path}?bbox={BBOX}&limit=1000")
                assert page.status_code == 200, page.text
                body = page.json()
                ids = {int(f["id"]) for f in body["features"]}
                assert ids == expected[who] and body["numberMatched"] == len(ids)
            secret = http.get(f"/collections/deposits/items/{deposits['a']}")
            assert secret.status_code == (200 if who == "a" else 404), secret.text
        return who

    asked = [who for who in viewers for _ in range(25)]
    random.shuffle(asked)
    with ThreadPoolExecutor(12) as pool:
        assert sorted(map(str, pool.map(ask, asked))) == sorted(map(str, asked))
    assert "prepared statement" not in log.read_text()
    left, defaults = _left_on_server_connections(bouncer, db_url)
    assert left == {defaults}


def test_downloads_through_pgbouncer_hold_each_organisations_own_records(
    served, world, engine, bouncer, db_url
):
    """A download reads on its own psycopg connection, every setting local to its transaction."""
    url, log = served
    orgs, keys = world["orgs"], world["keys"]
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT source_id, confidential, owner_org FROM deposits WHERE source = :s"),
            {"s": SOURCE},
        ).all()

    def download(who):
        headers = {"Authorization": f"Bearer {keys[who]}"} if who else {}
        answer = httpx.get(
            url + "/downloads/deposits",
            params={"format": "csv", "filter": f"source = '{SOURCE}'"},
            headers=headers,
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        got = {row["source_id"] for row in csv.DictReader(io.StringIO(answer.text))}
        assert got == {sid for sid, secret, owner in rows if not secret or owner == orgs.get(who)}
        return "b" in got

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(download, [None, "a", "b"] * 2)) == [False, False, True] * 2
    assert "prepared statement" not in log.read_text()
    left, defaults = _left_on_server_connections(bouncer, db_url)
    assert left == {defaults}


def test_writes_and_imports_through_pgbouncer_are_audited_with_their_actor(served, world, engine):
    url, log = served
    headers = {"Authorization": f"Bearer {world['keys']['a']}"}

    def write(n: int) -> int:
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [AT[0] - 0.002, AT[1] + 0.0001 * n]},
            "properties": {"name": f"pgb-write-{n}", "commodities": ["W"], "source": SOURCE},
        }
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            created = http.post("/collections/deposits/items", json=feature)
            assert created.status_code == 201, created.text
            return int(created.json()["id"])

    # Each of the writer's connections runs its statements more often than psycopg's threshold
    # for preparing one (five), so a prepared statement would be looked for in a later transaction.
    with ThreadPoolExecutor(3) as pool:
        written = list(pool.map(write, range(24)))
    imported = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [AT[0] + 0.004, AT[1]]},
                    "properties": {"source_id": "i-1", "name": "pgb-import", "commodities": "Li"},
                }
            ],
        }
    )
    answer = httpx.post(
        url + "/imports",
        headers=headers,
        data={"layer": "deposits", "source": SOURCE + "-import"},
        files={"file": ("pooled.geojson", imported.encode())},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    with engine.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT a.record_id, a.actor, a.channel FROM audit_log a JOIN deposits d "
                "ON d.id = a.record_id WHERE a.table_name = 'deposits' "
                "AND d.source LIKE :s || '%' AND d.name LIKE 'pgb-%' AND d.name <> 'pgb-public' "
                "AND d.owner_org IS NOT DISTINCT FROM :o"
            ),
            {"s": SOURCE, "o": world["orgs"]["a"]},
        ).all()
        owners = conn.execute(
            text("SELECT DISTINCT owner_org FROM deposits WHERE name LIKE 'pgb-write-%'")
        ).scalars()
        assert set(owners) == {world["orgs"]["a"]}
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE + "-import"})
        conn.commit()
    by_record = {r: (actor, channel) for r, actor, channel in audited}
    assert {by_record[r] for r in written} == {("a@pgb", "api")}
    assert ("a@pgb", "import") in by_record.values()
    assert "prepared statement" not in log.read_text()
