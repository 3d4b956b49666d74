"""The models of geo/store/models/ and the migrations describe the same schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from geo.store.models import COMMODITY_COLUMNS, Base

# PostGIS's own table, which no model describes.
NOT_MODELLED = {"spatial_ref_sys"}


def test_the_migrated_database_matches_the_models(engine):
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    differences = [
        d for d in differences if not (d[0] == "remove_table" and d[1].name in NOT_MODELLED)
    ]
    assert differences == []


def test_commodity_codes_are_checked_by_triggers_on_every_table_holding_them(engine):
    with engine.connect() as conn:
        triggers = set(
            conn.execute(
                text(
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE '%commodities_known%'"
                )
            ).scalars()
        )
    assert triggers == {
        f"{table}_commodities_known_{event}"
        for table, _, _ in COMMODITY_COLUMNS
        for event in ("insert", "update")
    }
