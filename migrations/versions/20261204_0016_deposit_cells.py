"""deposit cells: deposits summed per cell of the z13 grid (count, positions, ids, commodities)
for the cluster tiles below zoom 10, kept by statement triggers in the writing transaction and
as visible as the deposits they count

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 12:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# A position in Web Mercator "world units": 2^40 across the Mercator square, y down from its
# northern edge, of the centre of a bounding box (what a cluster places a deposit by), from its
# edges. Whole numbers, so that the summaries' sums add and subtract exactly. Plain SQL with
# each argument used once: inlined by the planner (a box argument read twice is not, and a
# function call per row costs 20x the arithmetic), into the tile queries that use them too
# (geo/features/clusters.py).
WORLD_FUNCTIONS = """
CREATE FUNCTION veta_world_x(west float8, east float8) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT round(((west + east) / 2 + 180) / 360 * 1099511627776)::bigint $$;

CREATE FUNCTION veta_world_y(south float8, north float8) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT round((0.5 - ln(tan(pi() / 4 + radians((south + north) / 2) / 2)) / (2 * pi()))
                * 1099511627776)::bigint $$;
"""
# A world unit's cell of the z13 grid: 40 - 13 bits to the right.
CELL_SHIFT = 27

# The deposits of `rows` (a transition table, or deposits itself) with a sign (+1 written,
# -1 removed), their position and cell, and whom they are confidential to.
POSITIONS = (
    "SELECT c.sign, c.wx, c.wy, (c.wx >> {shift})::integer AS cx, (c.wy >> {shift})::integer AS cy, "
    "c.id, c.commodities, c.confidential_to FROM (SELECT r.sign, veta_world_x(ST_XMin(r.b), ST_XMax(r.b)) AS wx, "
    "veta_world_y(ST_YMin(r.b), ST_YMax(r.b)) AS wy, r.id, r.commodities, "
    "CASE WHEN r.confidential THEN r.owner_org END AS confidential_to "
    "FROM (SELECT Box2D(geom) AS b, * FROM ({rows}) r) r) c"
)
KEY = "cx, cy, confidential_to"

# One statement per write: the written rows' sums added, the removed rows' subtracted (an
# update is both; one that moves nothing and changes no commodity writes nothing), then the
# cells left empty dropped. A bulk import costs one aggregate of its rows, not a call per row.
SYNC_FUNCTION = f"""
CREATE FUNCTION deposit_cells_sync() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $f$
DECLARE
    columns text := 'id, geom, commodities, confidential, owner_org';
    added text := 'SELECT 1 AS sign, ' || columns || ' FROM new_rows';
    removed text := 'SELECT -1 AS sign, ' || columns || ' FROM old_rows';
    changes text := CASE TG_OP WHEN 'INSERT' THEN added WHEN 'DELETE' THEN removed
                    ELSE added || ' UNION ALL ' || removed END;
BEGIN
    EXECUTE format($q$
        WITH changed AS MATERIALIZED ({POSITIONS.format(shift=CELL_SHIFT, rows='%1$s')}),
        cells AS (
            INSERT INTO deposit_cells AS s ({KEY}, members, x_sum, y_sum, id_sum)
            SELECT {KEY}, sum(sign), sum(sign * wx), sum(sign * wy), sum(sign * id)
            FROM changed GROUP BY {KEY}
            HAVING sum(sign) <> 0 OR sum(sign * wx) <> 0 OR sum(sign * wy) <> 0 OR sum(sign * id) <> 0
            ORDER BY {KEY}
            ON CONFLICT ({KEY}) DO UPDATE SET members = s.members + excluded.members,
                x_sum = s.x_sum + excluded.x_sum, y_sum = s.y_sum + excluded.y_sum,
                id_sum = s.id_sum + excluded.id_sum)
        INSERT INTO deposit_cell_commodities AS s ({KEY}, commodity, members)
        SELECT {KEY}, v, sum(sign) FROM changed, unnest(changed.commodities) v
        GROUP BY {KEY}, v HAVING sum(sign) <> 0 ORDER BY {KEY}, v
        ON CONFLICT ({KEY}, commodity) DO UPDATE SET members = s.members + excluded.members
    $q$, changes);
    IF TG_OP <> 'INSERT' THEN
        EXECUTE format($q$
            WITH emptied AS MATERIALIZED (SELECT DISTINCT {KEY} FROM ({POSITIONS.format(shift=CELL_SHIFT, rows='%1$s')}) p),
            cells AS (DELETE FROM deposit_cells s USING emptied e
                      WHERE (s.cx, s.cy) = (e.cx, e.cy) AND s.confidential_to IS NOT DISTINCT FROM e.confidential_to
                        AND s.members = 0)
            DELETE FROM deposit_cell_commodities s USING emptied e
            WHERE (s.cx, s.cy) = (e.cx, e.cy) AND s.confidential_to IS NOT DISTINCT FROM e.confidential_to
              AND s.members = 0
        $q$, removed);
    END IF;
    RETURN NULL;
END $f$;

CREATE FUNCTION deposit_cells_clear() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $f$
BEGIN
    TRUNCATE deposit_cells, deposit_cell_commodities;
    RETURN NULL;
END $f$;
"""

BACKFILL = f"""
WITH changed AS MATERIALIZED ({POSITIONS.format(shift=CELL_SHIFT, rows='SELECT 1 AS sign, * FROM deposits')}),
cells AS (
    INSERT INTO deposit_cells ({KEY}, members, x_sum, y_sum, id_sum)
    SELECT {KEY}, count(*), sum(wx), sum(wy), sum(id) FROM changed GROUP BY {KEY})
INSERT INTO deposit_cell_commodities ({KEY}, commodity, members)
SELECT {KEY}, v, count(*) FROM changed, unnest(changed.commodities) v GROUP BY {KEY}, v
"""

SUMMARIES = ('deposit_cells', 'deposit_cell_commodities')


def upgrade() -> None:
    op.create_table('deposit_cells',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('cx', sa.Integer(), nullable=False),
    sa.Column('cy', sa.Integer(), nullable=False),
    sa.Column('confidential_to', sa.Integer(), nullable=True),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.Column('x_sum', sa.BigInteger(), nullable=False),
    sa.Column('y_sum', sa.BigInteger(), nullable=False),
    sa.Column('id_sum', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deposit_cells'))
    )
    op.create_index('ux_deposit_cells_cell', 'deposit_cells', ['cx', 'cy', 'confidential_to'], unique=True, postgresql_nulls_not_distinct=True)
    op.create_table('deposit_cell_commodities',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('cx', sa.Integer(), nullable=False),
    sa.Column('cy', sa.Integer(), nullable=False),
    sa.Column('confidential_to', sa.Integer(), nullable=True),
    sa.Column('commodity', sa.Text(), nullable=False),
    sa.Column('members', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deposit_cell_commodities'))
    )
    op.create_index('ux_deposit_cell_commodities_cell', 'deposit_cell_commodities', ['cx', 'cy', 'confidential_to', 'commodity'], unique=True, postgresql_nulls_not_distinct=True)

    op.execute(WORLD_FUNCTIONS)
    op.execute(SYNC_FUNCTION)
    op.execute(BACKFILL)
    op.execute("ANALYZE deposit_cells, deposit_cell_commodities")
    op.execute("CREATE TRIGGER deposits_cells_insert AFTER INSERT ON deposits REFERENCING NEW TABLE AS new_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION deposit_cells_sync()")
    op.execute("CREATE TRIGGER deposits_cells_update AFTER UPDATE ON deposits REFERENCING OLD TABLE AS old_rows "
               "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION deposit_cells_sync()")
    op.execute("CREATE TRIGGER deposits_cells_delete AFTER DELETE ON deposits REFERENCING OLD TABLE AS old_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION deposit_cells_sync()")
    op.execute("CREATE TRIGGER deposits_cells_truncate AFTER TRUNCATE ON deposits "
               "FOR EACH STATEMENT EXECUTE FUNCTION deposit_cells_clear()")
    # As visible as the deposits counted: the rule of deposits' viewer_sees (migration 0014).
    for table in SUMMARIES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY viewer_sees ON {table} FOR SELECT "
                   "USING (veta_may_see(confidential_to IS NOT NULL, confidential_to))")


def downgrade() -> None:
    for kind in ('insert', 'update', 'delete', 'truncate'):
        op.execute(f"DROP TRIGGER deposits_cells_{kind} ON deposits")
    op.execute("DROP FUNCTION deposit_cells_clear()")
    op.execute("DROP FUNCTION deposit_cells_sync()")
    op.execute("DROP FUNCTION veta_world_y(float8, float8)")
    op.execute("DROP FUNCTION veta_world_x(float8, float8)")
    op.drop_index('ux_deposit_cell_commodities_cell', table_name='deposit_cell_commodities', postgresql_nulls_not_distinct=True)
    op.drop_table('deposit_cell_commodities')
    op.drop_index('ux_deposit_cells_cell', table_name='deposit_cells', postgresql_nulls_not_distinct=True)
    op.drop_table('deposit_cells')
