"""access: organisations and API keys; confidential deposits, applications and kept reports under
row-level security; the service's own database role; the audit trail of every write

The service connects as SERVICE_ROLE: no superuser, owner of nothing, unable to bypass row-level
security. What it may see is decided here, by policies keyed on the transaction-local settings
veta.org and veta.role (geo/store/viewer.py sets them); what it may change, by the grants and the
write policies. Migrations keep running as the owner.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 05:40:00
"""
import sqlalchemy as sa
from alembic import op

from geo.store.row_security import LEAKPROOF_FUNCTIONS, mark_leakproof_sql
from geo.store.viewer import SERVICE_ROLE

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

CONFIDENTIAL_TABLES = ('deposits', 'permits', 'screening_reports')
AUDITED_TABLES = ('deposits', 'permits', 'protection_zones')
# What the service writes itself (records, kept reports, imports over HTTP and their runs);
# every other table it only reads (triggers write the rest).
SERVICE_WRITES = ('deposits', 'permits', 'protection_zones', 'screening_reports', 'import_runs')
# Trigger functions that write tables the service may not: run as their owner.
DEFINER_TRIGGERS = (
    'table_changes_bump()',
    'protection_zone_parts_sync()',
    'permits_record_history()',
)
# Tables whose rows describe a deposit: as visible as the deposit.
DEPOSIT_DETAILS = ('deposit_assessments', 'deposit_societal_scores', 'safeguarding_links')

# Visible: not confidential, or confidential to the caller's organisation, or the caller is an
# admin. Plain SQL functions, so the planner inlines them into every query on these tables.
VIEWER_FUNCTIONS = """
CREATE FUNCTION veta_viewer_org() RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT nullif(current_setting('veta.org', true), '')::integer $$;

CREATE FUNCTION veta_viewer_role() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('veta.role', true), '') $$;

CREATE FUNCTION veta_may_see(confidential boolean, owner_org integer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT NOT confidential OR owner_org = veta_viewer_org() OR veta_viewer_role() = 'admin' $$;

CREATE FUNCTION veta_may_write_own(owner_org integer) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT veta_viewer_role() = 'admin'
       OR (veta_viewer_role() = 'editor' AND owner_org = veta_viewer_org()) $$;
"""

# The key's digest in, its organisation, role and holder out, when valid now. The service may
# call it but cannot read the keys table.
KEY_LOOKUP = """
CREATE FUNCTION veta_api_key(key_digest text)
RETURNS TABLE (key_id integer, organisation_id integer, organisation_code text, role text, holder text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
$$ SELECT k.id, o.id, o.code, k.role, k.holder
   FROM api_keys k JOIN organisations o ON o.id = k.organisation_id
   WHERE k.digest = key_digest AND k.revoked_at IS NULL
     AND (k.expires_at IS NULL OR k.expires_at > now()) $$;

CREATE FUNCTION veta_organisation(organisation_code text) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
$$ SELECT id FROM organisations WHERE code = organisation_code $$;
"""

# One statement trigger per kind of write, reading the rows through transition tables: a bulk
# import audits its rows with one INSERT … SELECT rather than a call per row. Who wrote comes
# from the transaction-local settings the writer set (veta.actor, veta.channel, …), else the
# database user and 'sql'. A row is kept as JSON with its geometry as GeoJSON, its columns
# named one by one: to_jsonb of a whole row casts the geometry through PostGIS's json cast,
# which costs ten times the rest of the row (measured on 200,000 deposits).
AUDIT_FUNCTION = """
CREATE FUNCTION audit_record_changes() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    columns text := (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum)
                     FROM pg_attribute
                     WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped
                       AND attname <> 'geom');
    as_json text := 'SELECT to_jsonb(x) AS r, x.id FROM (SELECT ' || columns
                    || ', ST_AsGeoJSON(geom)::jsonb AS geometry FROM %s) x';
    secret text := 'CASE WHEN (%1$s ->> ''confidential'')::boolean '
                   'THEN (%1$s ->> ''owner_org'')::integer END';
    statement text := 'INSERT INTO audit_log (actor, organisation_id, channel, client, '
                      'request_id, table_name, record_id, action, before, after, confidential_to) '
                      'SELECT coalesce($1, session_user), $2::integer, coalesce($3, ''sql''), '
                      '$4, $5, $6, ';
BEGIN
    IF TG_OP = 'INSERT' THEN
        statement := statement || format('n.id, ''insert'', NULL, n.r, %s FROM (%s) n',
                                         format(secret, 'n.r'), format(as_json, 'new_rows'));
    ELSIF TG_OP = 'DELETE' THEN
        statement := statement || format('o.id, ''delete'', o.r, NULL, %s FROM (%s) o',
                                         format(secret, 'o.r'), format(as_json, 'old_rows'));
    ELSE
        statement := statement || format(
            'n.id, ''update'', o.r, n.r, coalesce(%s, %s) FROM (%s) o JOIN (%s) n ON n.id = o.id '
            'WHERE o.r - ''updated_at'' IS DISTINCT FROM n.r - ''updated_at''',
            format(secret, 'n.r'), format(secret, 'o.r'),
            format(as_json, 'old_rows'), format(as_json, 'new_rows'));
    END IF;
    EXECUTE statement
    USING nullif(current_setting('veta.actor', true), ''),
          nullif(current_setting('veta.org', true), ''),
          nullif(current_setting('veta.channel', true), ''),
          nullif(current_setting('veta.client', true), ''),
          nullif(current_setting('veta.request_id', true), ''),
          TG_TABLE_NAME::text;
    RETURN NULL;
END $$;
"""

# Created once per cluster (roles are the cluster's, databases share it); concurrent migrations
# of several databases may race to create it.
CREATE_SERVICE_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{SERVICE_ROLE}') THEN
        BEGIN
            CREATE ROLE {SERVICE_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'the database role {SERVICE_ROLE} does not exist and % may not create it',
                    current_user
                USING HINT = 'as a superuser: CREATE ROLE {SERVICE_ROLE} LOGIN PASSWORD ''…''; '
                             'then run the migration again';
        END;
    END IF;
    IF (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = '{SERVICE_ROLE}') THEN
        RAISE EXCEPTION 'the role {SERVICE_ROLE} is a superuser or bypasses row-level security';
    END IF;
    -- The owner takes the service's role to read as a viewer would (veta export).
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND NOT pg_has_role(current_user, '{SERVICE_ROLE}', 'MEMBER') THEN
        EXECUTE format('GRANT {SERVICE_ROLE} TO %I', current_user);
    END IF;
END $$;
"""


# The index-backed predicates and operators, LEAKPROOF, so that row-level security leaves the
# indexes usable (geo/store/row_security.py says why this is sound). Only a superuser may;
# anyone else is told what to ask a superuser for.
MARK_LEAKPROOF = f"""
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        {'; '.join(mark_leakproof_sql())};
    ELSE
        RAISE WARNING 'spatial searches of deposits and rights will not use their indexes until a superuser runs: %',
            '{'; '.join(mark_leakproof_sql())}';
    END IF;
END $$;
"""


def _write_policies(table: str, name: str, rule: str) -> None:
    op.execute(f"CREATE POLICY {name}_insert ON {table} FOR INSERT WITH CHECK ({rule})")
    op.execute(f"CREATE POLICY {name}_update ON {table} FOR UPDATE USING ({rule}) WITH CHECK ({rule})")
    op.execute(f"CREATE POLICY {name}_delete ON {table} FOR DELETE USING ({rule})")


def upgrade() -> None:
    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("code ~ '^[a-z0-9][a-z0-9_.-]*$'", name=op.f('ck_organisations_code_slug')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('code', name=op.f('uq_organisations_code'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('holder', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('reader', 'editor', 'registry', 'admin')", name=op.f('ck_api_keys_role')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_api_keys_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('digest', name=op.f('uq_api_keys_digest'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.Text(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('client', sa.Text(), nullable=True),
    sa.Column('request_id', sa.Text(), nullable=True),
    sa.Column('table_name', sa.Text(), nullable=False),
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('before', sa.dialects.postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', sa.dialects.postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('confidential_to', sa.Integer(), nullable=True),
    sa.CheckConstraint("action IN ('insert', 'update', 'delete')", name=op.f('ck_audit_log_action')),
    sa.CheckConstraint("channel IN ('api', 'import', 'cli', 'sql')", name=op.f('ck_audit_log_channel')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_actor', 'audit_log', ['actor'], unique=False)
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
    op.create_index('ix_audit_log_table_name_record_id', 'audit_log', ['table_name', 'record_id', 'id'], unique=False)

    for table in CONFIDENTIAL_TABLES:
        op.add_column(table, sa.Column('confidential', sa.Boolean(), server_default='false', nullable=False))
        op.add_column(table, sa.Column('owner_org', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(f'fk_{table}_owner_org_organisations'), table, 'organisations', ['owner_org'], ['id'])
        op.create_check_constraint(op.f(f'ck_{table}_confidential_owned'), table, 'NOT confidential OR owner_org IS NOT NULL')
    op.create_check_constraint(op.f('ck_permits_confidential_application'), 'permits', "NOT confidential OR status IN ('applied', 'denied')")

    op.execute(VIEWER_FUNCTIONS)
    op.execute(KEY_LOOKUP)
    op.execute(AUDIT_FUNCTION)
    for table in AUDITED_TABLES:
        op.execute(f"CREATE TRIGGER {table}_audit_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_record_changes()")
        op.execute(f"CREATE TRIGGER {table}_audit_update AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows "
                   "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_record_changes()")
        op.execute(f"CREATE TRIGGER {table}_audit_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit_record_changes()")
    for function in DEFINER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {function} SECURITY DEFINER SET search_path = public, pg_temp")

    # Row-level security: the policies below are all the service sees and writes.
    for table in CONFIDENTIAL_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY viewer_sees ON {table} FOR SELECT USING (veta_may_see(confidential, owner_org))")
    # Write policies per command, never FOR ALL: a FOR ALL policy is also a read policy, and
    # every read would test it too.
    _write_policies('deposits', 'editor_writes', "veta_may_write_own(owner_org)")
    # The registry records any right's changes; an editor files and amends its own applications.
    _write_policies('permits', 'registry_writes',
                    "veta_viewer_role() = 'registry' OR veta_may_write_own(owner_org)")
    # Anyone may keep a report of a screening; a confidential one is its organisation's.
    op.execute("CREATE POLICY reporter_keeps ON screening_reports FOR INSERT "
               "WITH CHECK (owner_org IS NULL OR owner_org = veta_viewer_org())")
    op.execute("ALTER TABLE protection_zones ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY anyone_sees ON protection_zones FOR SELECT USING (true)")
    _write_policies('protection_zones', 'registry_writes', "veta_viewer_role() IN ('registry', 'admin')")
    op.execute("ALTER TABLE permit_history ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY viewer_sees ON permit_history FOR SELECT USING ("
               "veta_may_see(coalesce((after ->> 'confidential')::boolean, false), (after ->> 'owner_org')::integer) "
               "AND veta_may_see(coalesce((before ->> 'confidential')::boolean, false), (before ->> 'owner_org')::integer))")
    op.execute("ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY viewer_sees ON audit_log FOR SELECT USING (veta_may_see(confidential_to IS NOT NULL, confidential_to))")
    for table in DEPOSIT_DETAILS:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY viewer_sees ON {table} FOR SELECT "
                   f"USING (EXISTS (SELECT FROM deposits d WHERE d.id = {table}.deposit_id))")

    op.execute(MARK_LEAKPROOF)
    op.execute(CREATE_SERVICE_ROLE)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {SERVICE_ROLE}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {SERVICE_ROLE}")
    op.execute(f"REVOKE SELECT ON organisations, api_keys FROM {SERVICE_ROLE}")
    op.execute(f"GRANT INSERT, UPDATE, DELETE ON {', '.join(SERVICE_WRITES)} TO {SERVICE_ROLE}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {SERVICE_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {SERVICE_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO {SERVICE_ROLE}")


def downgrade() -> None:
    op.execute("DO $$ BEGIN IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN "
               + "; ".join(f"ALTER FUNCTION {f} NOT LEAKPROOF" for f in LEAKPROOF_FUNCTIONS)
               + "; END IF; END $$")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE ON SEQUENCES FROM {SERVICE_ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM {SERVICE_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {SERVICE_ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {SERVICE_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {SERVICE_ROLE}")
    for table in (*DEPOSIT_DETAILS, 'audit_log', 'permit_history', 'protection_zones', *CONFIDENTIAL_TABLES):
        for policy in ('viewer_sees', 'anyone_sees', 'reporter_keeps'):
            op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
        for policy in ('editor_writes', 'registry_writes'):
            for command in ('insert', 'update', 'delete'):
                op.execute(f"DROP POLICY IF EXISTS {policy}_{command} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for function in DEFINER_TRIGGERS:
        op.execute(f"ALTER FUNCTION {function} SECURITY INVOKER RESET search_path")
    for table in AUDITED_TABLES:
        for kind in ('insert', 'update', 'delete'):
            op.execute(f"DROP TRIGGER {table}_audit_{kind} ON {table}")
    op.execute("DROP FUNCTION audit_record_changes()")
    op.execute("DROP FUNCTION veta_organisation(text)")
    op.execute("DROP FUNCTION veta_api_key(text)")
    for function in ('veta_may_write_own(integer)', 'veta_may_see(boolean, integer)',
                     'veta_viewer_role()', 'veta_viewer_org()'):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_constraint(op.f('ck_permits_confidential_application'), 'permits', type_='check')
    for table in CONFIDENTIAL_TABLES:
        op.drop_constraint(op.f(f'ck_{table}_confidential_owned'), table, type_='check')
        op.drop_constraint(op.f(f'fk_{table}_owner_org_organisations'), table, type_='foreignkey')
        op.drop_column(table, 'owner_org')
        op.drop_column(table, 'confidential')
    op.drop_index('ix_audit_log_table_name_record_id', table_name='audit_log')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_index('ix_audit_log_actor', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('api_keys')
    op.drop_table('organisations')
