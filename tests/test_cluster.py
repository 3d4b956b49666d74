"""The local cluster starts from a checkout the postgres OS user cannot enter (CI clones as root)."""

from __future__ import annotations

import os
import shutil

import psycopg
import pytest

from geo.store.cluster import LocalCluster


@pytest.fixture
def private_checkout(tmp_path):
    """A state directory inside a folder only its owner may enter, like /root."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    state = private / "checkout" / ".veta"
    yield state
    cluster = LocalCluster(state)
    cluster.stop()
    if state.joinpath("pgdata").is_symlink():
        shutil.rmtree(cluster.server_dir.parent, ignore_errors=True)


def test_a_cluster_in_a_private_checkout_starts_serves_and_stops(private_checkout):
    cluster = LocalCluster(private_checkout)
    admin_url = cluster.start()
    if os.geteuid() == 0:
        # Root runs the server as postgres, with the data where postgres can reach it.
        assert cluster.data_dir.is_symlink()
        assert cluster.server_dir.owner() == "postgres"
    with psycopg.connect(admin_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert cluster.is_running()
    cluster.stop()
    assert not cluster.is_running()


def test_a_new_checkout_at_the_path_of_a_deleted_one_takes_up_its_cluster(private_checkout):
    """As root the data lives outside the checkout (/var/lib/veta), keyed by the checkout's
    path: a checkout deleted and cloned again at the same path finds it there."""
    cluster = LocalCluster(private_checkout)
    with psycopg.connect(cluster.start(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE kept_across_checkouts")
    cluster.stop()
    server_dir = cluster.server_dir
    shutil.rmtree(private_checkout)  # the checkout goes; outside it, its data may stay
    again = LocalCluster(private_checkout)
    with psycopg.connect(again.start()) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    if server_dir != private_checkout / "pgdata":  # kept outside: the same cluster again
        assert "kept_across_checkouts" in names
    assert again.is_running()
