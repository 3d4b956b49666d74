"""permit history: every change to a mining right, and the effective-status rule

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29 05:40:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None

# A row as JSON with its geometry as GeoJSON written exactly (17 significant digits round-trip
# every float; the default json cast keeps 15 and moves vertices off the 20″ lines by an ulp).
ROW_JSON = "(to_jsonb({row}) || jsonb_build_object('geom', ST_AsGeoJSON({row}.geom, 17)::jsonb))"


def upgrade() -> None:
    op.create_table('permit_history',
    sa.Column('id', sa.BigInteger(), sa.Identity(), nullable=False),
    sa.Column('permit_id', sa.Integer(), nullable=False),
    sa.Column('registry_number', sa.String(length=64), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('changed_by', sa.Text(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint("action IN ('insert', 'update', 'delete')", name=op.f('ck_permit_history_action')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_permit_history'))
    )
    op.create_index('ix_permit_history_permit_id_effective_on', 'permit_history', ['permit_id', 'effective_on', 'id'], unique=False)
    op.create_index('ix_permit_history_effective_on', 'permit_history', ['effective_on'], unique=False)
    # The lapse rule in one place: a granted or extended right reads as lapsed from its
    # expires_on date on; applications do not lapse by date. Inlined by the planner.
    op.execute("""
        CREATE FUNCTION permit_effective_status(status text, expires_on date, day date)
        RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN status IN ('granted', 'extended') AND expires_on <= day
                        THEN 'lapsed' ELSE status END
        $$
    """)
    # Every write to permits is recorded, whoever makes it (CLI, importer, loader, psql). The
    # writer may say who it is and from which day the change takes effect through the
    # transaction-local settings veta.changed_by and veta.effective_on (geo/rules/registry.py);
    # otherwise the database user and the current date are recorded.
    op.execute(f"""
        CREATE FUNCTION permits_record_history() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            old_row jsonb := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE {ROW_JSON.format(row='OLD')} END;
            new_row jsonb := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE {ROW_JSON.format(row='NEW')} END;
        BEGIN
            IF TG_OP = 'UPDATE' AND old_row - 'updated_at' = new_row - 'updated_at' THEN
                RETURN NULL;
            END IF;
            INSERT INTO permit_history
                (permit_id, registry_number, effective_on, changed_by, action, before, after)
            VALUES (
                coalesce((new_row ->> 'id')::int, (old_row ->> 'id')::int),
                coalesce(new_row ->> 'registry_number', old_row ->> 'registry_number'),
                coalesce(nullif(current_setting('veta.effective_on', true), '')::date, current_date),
                coalesce(nullif(current_setting('veta.changed_by', true), ''), session_user),
                lower(TG_OP), old_row, new_row);
            RETURN NULL;
        END $$
    """)
    op.execute(
        "CREATE TRIGGER permits_history AFTER INSERT OR UPDATE OR DELETE ON permits "
        "FOR EACH ROW EXECUTE FUNCTION permits_record_history()"
    )
    # Rights already present have no past: their history starts today.
    op.execute(
        "INSERT INTO permit_history (permit_id, registry_number, effective_on, changed_by, action, after) "
        f"SELECT id, registry_number, current_date, 'migration 0003', 'insert', {ROW_JSON.format(row='p')} "
        "FROM permits p"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER permits_history ON permits")
    op.execute("DROP FUNCTION permits_record_history()")
    op.execute("DROP FUNCTION permit_effective_status(text, date, date)")
    op.drop_index('ix_permit_history_effective_on', table_name='permit_history')
    op.drop_index('ix_permit_history_permit_id_effective_on', table_name='permit_history')
    op.drop_table('permit_history')
