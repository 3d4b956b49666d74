"""A primary and its streaming replicas for tests/test_replicas.py: local clusters, each with an
owner's engine for checks made beside Veta, and a relay that can make a replica fall silent."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from sqlalchemy import text
from test_hostile_input import Proxy

from geo.store.cluster import LocalCluster
from geo.store.db import sync_engine

DATABASE = "veta"
REPLAY_TIMEOUT_S = 15.0


class Servers:
    """The primary and its two replicas, each with an owner's engine for checks made beside
    Veta."""

    def __init__(self, root: Path) -> None:
        self.primary = LocalCluster(root / "primary")
        self.replicas = [LocalCluster(root / f"replica{i}") for i in (1, 2)]
        self.primary_url = ""
        self.replica_urls: list[str] = []
        self.engines: list = []

    def connect(self) -> None:
        self.on_primary = sync_engine(self.primary_url)
        self.engines = [sync_engine(url) for url in self.replica_urls]

    def label(self, i: int) -> str:
        """How Veta's metrics name replica i."""
        return f"127.0.0.1:{self.replicas[i].port()}/{DATABASE}"

    def pause_replay(self, *which: int) -> None:
        for i in which or range(len(self.replicas)):
            with self.engines[i].connect() as conn:
                conn.execute(text("SELECT pg_wal_replay_pause()"))
                until(
                    lambda conn=conn: (
                        conn.execute(text("SELECT pg_get_wal_replay_pause_state()")).scalar()
                        == "paused"
                    ),
                    "the replica's replay to pause",
                )

    def resume_replay(self, *which: int) -> float:
        """Resume, and wait until the replicas have replayed all the primary has written; the
        seconds that took."""
        started = time.perf_counter()
        for i in which or range(len(self.replicas)):
            with self.engines[i].connect() as conn:
                conn.execute(text("SELECT pg_wal_replay_resume()"))
        self.wait_for_replay(*which)
        return time.perf_counter() - started

    def wait_for_replay(self, *which: int) -> None:
        with self.on_primary.connect() as conn:
            written = conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar()
        for i in which or range(len(self.replicas)):
            with self.engines[i].connect() as conn:
                until(
                    lambda conn=conn: conn.execute(
                        text("SELECT pg_last_wal_replay_lsn() >= CAST(:w AS pg_lsn)"),
                        {"w": written},
                    ).scalar(),
                    "the replica to replay the primary's WAL",
                )

    def stop(self, i: int) -> None:
        self.replicas[i].stop()
        self.engines[i].dispose()  # the test's own connections go with the server

    def start(self, i: int) -> None:
        self.replicas[i].start()

    def rename_on_primary(self, deposit_id: int, name: str) -> None:
        with self.on_primary.begin() as conn:
            conn.execute(
                text("UPDATE deposits SET name = :n WHERE id = :i"), {"n": name, "i": deposit_id}
            )

    def service_backends_on(self, i: int) -> int:
        """Veta's connections to replica i, as that server lists them."""
        with self.engines[i].connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE usename = 'veta_service' AND datname = :d"
                ),
                {"d": DATABASE},
            ).scalar()


def until(condition, what: str, timeout: float = REPLAY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}")
        time.sleep(0.02)


class SilentRelay(Proxy):
    """A relay to a replica that can fall silent, as a host gone from the network looks: its
    connections dropped, new ones accepted and never answered."""

    def __init__(self, host: str, port: int) -> None:
        self.unanswered: list[socket.socket] = []
        super().__init__(host, port)

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            if not self.up:
                self.unanswered.append(client)
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def restore(self) -> None:
        for client in self.unanswered:
            client.close()
        self.unanswered = []
        super().restore()
