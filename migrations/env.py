"""Alembic environment: the target schema is geo.store.models; the URL comes from Veta's settings."""

from alembic import context

from geo.core.settings import get_settings
from geo.store.db import database_url, sync_engine
from geo.store.models import Base


def include_object(obj, name, type_, reflected, compare_to):
    # PostGIS and its tiger/topology schemas own tables we must never touch.
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def run_migrations_online() -> None:
    url = context.config.attributes.get("url") or database_url(get_settings())
    engine = sync_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
