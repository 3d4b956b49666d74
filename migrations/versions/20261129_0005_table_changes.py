"""table changes: a change counter per table, bumped by statement-level triggers, for ETags

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-29 05:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0001'
branch_labels = None
depends_on = None

TRACKED_TABLES = ("admin_areas", "deposits", "permits", "protection_zones")


def upgrade() -> None:
    op.create_table('table_changes',
    sa.Column('table_name', sa.Text(), nullable=False),
    sa.Column('version', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('table_name', name=op.f('pk_table_changes'))
    )
    # One bump per statement, whoever writes (loader, importer, API, psql); a transaction that
    # rolls back takes its bump with it.
    op.execute("""
        CREATE FUNCTION table_changes_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO table_changes AS c (table_name, version, changed_at)
            VALUES (TG_TABLE_NAME, 1, now())
            ON CONFLICT (table_name) DO UPDATE SET version = c.version + 1, changed_at = now();
            RETURN NULL;
        END $$
    """)
    # Later revisions track their own tables with SELECT track_table_changes('grid_cells').
    op.execute("""
        CREATE FUNCTION track_table_changes(target regclass) RETURNS void LANGUAGE plpgsql AS $$
        DECLARE name text := (SELECT relname FROM pg_class WHERE oid = target);
        BEGIN
            EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                           'FOR EACH STATEMENT EXECUTE FUNCTION table_changes_bump()',
                           name || '_changes', target);
            INSERT INTO table_changes (table_name) VALUES (name) ON CONFLICT DO NOTHING;
        END $$
    """)
    for table in TRACKED_TABLES:
        op.execute(f"SELECT track_table_changes('{table}')")


def downgrade() -> None:
    for table in TRACKED_TABLES:
        op.execute(f"DROP TRIGGER {table}_changes ON {table}")
    op.execute("DROP FUNCTION track_table_changes(regclass)")
    op.execute("DROP FUNCTION table_changes_bump()")
    op.drop_table('table_changes')
