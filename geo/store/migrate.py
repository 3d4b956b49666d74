"""Creating Veta's database and bringing its schema to the newest Alembic revision."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from geo.core.settings import PROJECT_ROOT
from geo.store.commodity_table import sync_commodities
from geo.store.db import sync_engine, with_database


def create_database(url: str) -> None:
    """Create the database named in url if it does not exist (connecting to `postgres`)."""
    name = make_url(url).database
    admin = sync_engine(with_database(url, "postgres")).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def drop_database(url: str) -> None:
    """Drop the database named in url, closing its other connections first."""
    name = make_url(url).database
    admin = sync_engine(with_database(url, "postgres")).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["url"] = url
    return config


def current_revision(url: str) -> str | None:
    """The revision the database is at (None: never migrated)."""
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> list[Script]:
    """Apply every migration up to revision; the migrations applied, oldest first. At the head,
    bring the commodities table up to the vocabulary (which changes without a migration)."""
    config = alembic_config(url)
    before = current_revision(url)
    command.upgrade(config, revision)
    if revision == "head":
        engine = sync_engine(url)
        with engine.begin() as connection:
            sync_commodities(connection)
        engine.dispose()
    after = current_revision(url)
    if after == before:
        return []
    scripts = ScriptDirectory.from_config(config)
    return list(reversed(list(scripts.iterate_revisions(after, before or "base"))))
