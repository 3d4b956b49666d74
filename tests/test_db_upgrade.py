"""`veta db upgrade` says what it did: each migration applied, then the revision reached."""

from __future__ import annotations

import uuid

import pytest

from geo.core.settings import PROJECT_ROOT, get_settings
from geo.store.db import with_database
from geo.store.migrate import create_database, drop_database

MIGRATIONS = sorted((PROJECT_ROOT / "migrations" / "versions").glob("*.py"))


@pytest.fixture
def empty_db(db_url):
    url = with_database(db_url, f"veta_upgrade_{uuid.uuid4().hex[:8]}")
    create_database(url)
    yield url
    drop_database(url)


def test_upgrade_lists_every_migration_applied_then_says_there_is_nothing_left(
    cli, empty_db, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", empty_db)
    get_settings.cache_clear()
    code, output = cli("db", "upgrade")
    assert code == 0, output
    applied = [line for line in output.splitlines() if line.startswith("applied ")]
    assert len(applied) == len(MIGRATIONS)
    # Each file's revision id appears in its name; the first is the base, the last the head.
    revisions = [line.split()[1].rstrip(":") for line in applied]
    assert sorted(revisions) == sorted(p.name.split("_")[1] for p in MIGRATIONS)
    assert revisions[0] == MIGRATIONS[0].name.split("_")[1]
    assert output.splitlines()[-1] == f"database at revision {revisions[-1]}"
    code, output = cli("db", "upgrade")
    assert code == 0 and "nothing to apply" in output and "applied" not in output


def test_an_upgrade_with_nothing_to_do_changes_no_table(db_url, engine):
    """Running servers remember counts and tiles until a table's change counter moves: an
    upgrade that changes nothing must not move any."""
    from sqlalchemy import text

    from geo.store.migrate import upgrade

    def versions():
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT table_name, version FROM table_changes")).all())

    before = versions()
    upgrade(db_url)
    assert versions() == before
