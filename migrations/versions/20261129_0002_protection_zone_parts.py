"""protection zone parts: zones split with ST_Subdivide for fast intersects tests

Revision ID: 0002
Revises: 0001
"""
import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# Pieces of at most this many vertices: small enough that a point-in-polygon test on a part is
# cheap, large enough that a province-sized zone stays a few thousand rows.
MAX_VERTICES = 256

# The parts of one zone. ST_Subdivide of a valid polygon gives polygons; extracting polygons
# and dumping them keeps the column single-typed even if GEOS returns a collection.
PARTS_OF = (
    "SELECT {zone_id}, (ST_Dump(ST_CollectionExtract(ST_Subdivide({geom}, "
    f"{MAX_VERTICES}), 3))).geom"
)


def upgrade() -> None:
    op.create_table('protection_zone_parts',
    sa.Column('id', sa.BigInteger(), sa.Identity(), nullable=False),
    sa.Column('zone_id', sa.Integer(), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POLYGON', srid=4326, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['zone_id'], ['protection_zones.id'], name=op.f('fk_protection_zone_parts_zone_id_protection_zones'), onupdate='CASCADE', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protection_zone_parts'))
    )
    op.create_index('ix_protection_zone_parts_geom', 'protection_zone_parts', ['geom'], unique=False, postgresql_using='gist')
    op.create_index(op.f('ix_protection_zone_parts_zone_id'), 'protection_zone_parts', ['zone_id'], unique=False)
    # Deletes follow through the foreign key (ON DELETE CASCADE); inserts and geometry
    # updates re-split the zone here, whoever writes it (loader, OGC transactions, psql).
    op.execute(f"""
        CREATE FUNCTION protection_zone_parts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                DELETE FROM protection_zone_parts WHERE zone_id = NEW.id;
            END IF;
            INSERT INTO protection_zone_parts (zone_id, geom)
            {PARTS_OF.format(zone_id='NEW.id', geom='NEW.geom')};
            RETURN NULL;
        END $$
    """)
    op.execute(
        "CREATE TRIGGER protection_zone_parts_insert AFTER INSERT ON protection_zones "
        "FOR EACH ROW EXECUTE FUNCTION protection_zone_parts_sync()"
    )
    op.execute(
        "CREATE TRIGGER protection_zone_parts_update AFTER UPDATE OF geom ON protection_zones "
        "FOR EACH ROW WHEN (OLD.geom IS DISTINCT FROM NEW.geom) "
        "EXECUTE FUNCTION protection_zone_parts_sync()"
    )
    op.execute(
        "INSERT INTO protection_zone_parts (zone_id, geom) "
        + PARTS_OF.format(zone_id='id', geom='geom') + " FROM protection_zones"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER protection_zone_parts_update ON protection_zones")
    op.execute("DROP TRIGGER protection_zone_parts_insert ON protection_zones")
    op.execute("DROP FUNCTION protection_zone_parts_sync()")
    op.drop_index(op.f('ix_protection_zone_parts_zone_id'), table_name='protection_zone_parts')
    op.drop_index('ix_protection_zone_parts_geom', table_name='protection_zone_parts', postgresql_using='gist')
    op.drop_table('protection_zone_parts')
