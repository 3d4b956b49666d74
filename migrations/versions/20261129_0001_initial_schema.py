"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 05:09:45.604981
"""
import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


TOUCHED_TABLES = ("deposits", "permits", "protection_zones")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    # The 3D rule in one place: depth intervals in metres below surface, NULL top = surface,
    # NULL bottom = unbounded, so a record without depths covers the whole column. Intervals
    # that only share a plane (0-100 m and 100-200 m) do not overlap. Inlined by the planner.
    op.execute("""
        CREATE FUNCTION depth_intervals_overlap(
            top_a double precision, bottom_a double precision,
            top_b double precision, bottom_b double precision) RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT coalesce(top_a, 0) < coalesce(bottom_b, 'Infinity'::float8)
               AND coalesce(top_b, 0) < coalesce(bottom_a, 'Infinity'::float8)
        $$
    """)
    # updated_at follows every UPDATE, whoever makes it (ORM, bulk SQL, psql).
    op.execute("""
        CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.updated_at := now(); RETURN NEW; END $$
    """)
    op.create_table('admin_areas',
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('name_folded', sa.Text(), nullable=False),
    sa.Column('level', sa.String(length=32), nullable=False),
    sa.Column('parent_code', sa.String(length=8), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('licence', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("level IN ('country', 'autonomous_community', 'province', 'municipality')", name=op.f('ck_admin_areas_level')),
    sa.ForeignKeyConstraint(['parent_code'], ['admin_areas.code'], name=op.f('fk_admin_areas_parent_code_admin_areas'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_admin_areas'))
    )
    op.create_index('ix_admin_areas_geom', 'admin_areas', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_admin_areas_level', 'admin_areas', ['level'], unique=False)
    op.create_index(op.f('ix_admin_areas_name_folded'), 'admin_areas', ['name_folded'], unique=False)
    op.create_table('deposits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('occurrence_type', sa.String(length=32), nullable=False),
    sa.Column('commodities', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('commodity_importance', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('deposit_type', sa.String(length=64), nullable=True),
    sa.Column('size_class', sa.String(length=32), nullable=True),
    sa.Column('mine_status', sa.String(length=32), nullable=True),
    sa.Column('depth_top_m', sa.Float(), nullable=True),
    sa.Column('depth_bottom_m', sa.Float(), nullable=True),
    sa.Column('location_precision', sa.String(length=16), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.Column('licence', sa.Text(), nullable=True),
    sa.Column('retrieved_at', sa.Date(), nullable=True),
    sa.Column('remarks', sa.Text(), nullable=True),
    sa.CheckConstraint("GeometryType(geom) IN ('POINT', 'MULTIPOLYGON') AND ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f('ck_deposits_geom_valid')),
    sa.CheckConstraint("commodities <@ ARRAY['aluminium', 'antimony', 'arsenic', 'baryte', 'beryllium', 'bismuth', 'boron', 'cobalt', 'cokingCoal', 'coal', 'copper', 'feldspar', 'fluorspar', 'gallium', 'germanium', 'gold', 'graphite', 'hafnium', 'helium', 'heavyRareEarthElements', 'iron', 'kaolin', 'lead', 'lightRareEarthElements', 'lithium', 'magnesium', 'manganese', 'molybdenum', 'nickel', 'niobium', 'phosphateRock', 'platinumGroupMetals', 'quartz', 'scandium', 'siliconMetal', 'silver', 'slate', 'strontium', 'talc', 'tantalum', 'tin', 'titanium', 'tungsten', 'uranium', 'vanadium', 'zinc']::text[]", name=op.f('ck_deposits_commodities')),
    sa.CheckConstraint("commodity_importance <@ ARRAY['main', 'by_product', 'trace']::text[]", name=op.f('ck_deposits_commodity_importance')),
    sa.CheckConstraint("deposit_type IN ('greisen', 'graniticIgneousRocksAndPegmatites', 'porphyry', 'skarnAndCarbonateReplacement', 'orogenicGold', 'quartzVein', 'placer', 'volcanogenicMassiveSulphide', 'sedimentHosted', 'coalBed', 'stratabound', 'lateriteAndSaprolite', 'magmaticSulphide', 'epithermal', 'ironOxideCopperGold', 'residual', 'industrialMineral', 'dimensionStone')", name=op.f('ck_deposits_deposit_type')),
    sa.CheckConstraint("location_precision IN ('exact', 'approximate')", name=op.f('ck_deposits_location_precision')),
    sa.CheckConstraint("mine_status IN ('operating', 'operatingContinuously', 'operatingIntermittently', 'notOperating', 'closed', 'abandoned', 'careAndMaintenance', 'historic', 'underDevelopment', 'feasibility', 'pendingApproval', 'notYetOperating', 'retention')", name=op.f('ck_deposits_mine_status')),
    sa.CheckConstraint("occurrence_type IN ('mineralDeposit', 'oreDeposit', 'occurrence', 'prospect', 'district', 'field', 'lode', 'mineralizedZone', 'project')", name=op.f('ck_deposits_occurrence_type')),
    sa.CheckConstraint("size_class IN ('veryLargeDeposit', 'largeDeposit', 'mediumSizedDeposit', 'smallDeposit', 'occurrence')", name=op.f('ck_deposits_size_class')),
    sa.CheckConstraint('(depth_top_m IS NULL OR depth_top_m >= 0) AND (depth_bottom_m IS NULL OR depth_bottom_m > coalesce(depth_top_m, 0))', name=op.f('ck_deposits_depth_interval')),
    sa.CheckConstraint('cardinality(commodities) >= 1 AND cardinality(commodities) = cardinality(commodity_importance)', name=op.f('ck_deposits_commodities_shape')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deposits')),
    sa.UniqueConstraint('source', 'source_id', name=op.f('uq_deposits_source_source_id'))
    )
    op.create_index('ix_deposits_commodities', 'deposits', ['commodities'], unique=False, postgresql_using='gin')
    op.create_index('ix_deposits_geom', 'deposits', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('permits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registry_number', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('holder', sa.Text(), nullable=True),
    sa.Column('right_type', sa.String(length=32), nullable=False),
    sa.Column('section', sa.String(length=1), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('applied_on', sa.Date(), nullable=True),
    sa.Column('granted_on', sa.Date(), nullable=True),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('commodities', sa.ARRAY(sa.Text()), nullable=False),
    sa.Column('authority', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=True),
    sa.Column('licence', sa.Text(), nullable=True),
    sa.Column('retrieved_at', sa.Date(), nullable=True),
    sa.Column('remarks', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("GeometryType(geom) IN ('MULTIPOLYGON') AND ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f('ck_permits_geom_valid')),
    sa.CheckConstraint("commodities <@ ARRAY['aluminium', 'antimony', 'arsenic', 'baryte', 'beryllium', 'bismuth', 'boron', 'cobalt', 'cokingCoal', 'coal', 'copper', 'feldspar', 'fluorspar', 'gallium', 'germanium', 'gold', 'graphite', 'hafnium', 'helium', 'heavyRareEarthElements', 'iron', 'kaolin', 'lead', 'lightRareEarthElements', 'lithium', 'magnesium', 'manganese', 'molybdenum', 'nickel', 'niobium', 'phosphateRock', 'platinumGroupMetals', 'quartz', 'scandium', 'siliconMetal', 'silver', 'slate', 'strontium', 'talc', 'tantalum', 'tin', 'titanium', 'tungsten', 'uranium', 'vanadium', 'zinc']::text[]", name=op.f('ck_permits_commodities')),
    sa.CheckConstraint("right_type IN ('exploration', 'investigation', 'exploitation_derived', 'exploitation_direct')", name=op.f('ck_permits_right_type')),
    sa.CheckConstraint("section IN ('A', 'B', 'C', 'D')", name=op.f('ck_permits_section')),
    sa.CheckConstraint("status IN ('applied', 'admitted', 'granted', 'extended', 'lapsed', 'renounced', 'denied')", name=op.f('ck_permits_status')),
    sa.CheckConstraint('granted_on IS NULL OR applied_on IS NULL OR granted_on >= applied_on', name=op.f('ck_permits_granted_after_applied')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_permits')),
    sa.UniqueConstraint('registry_number', name=op.f('uq_permits_registry_number'))
    )
    op.create_index('ix_permits_geom', 'permits', ['geom'], unique=False, postgresql_using='gist')
    op.create_table('protection_zones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('designation_scheme', sa.String(length=32), nullable=False),
    sa.Column('designation', sa.Text(), nullable=False),
    sa.Column('legal_effect', sa.String(length=16), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('authority', sa.Text(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('depth_top_m', sa.Float(), nullable=True),
    sa.Column('depth_bottom_m', sa.Float(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.Column('licence', sa.Text(), nullable=True),
    sa.Column('retrieved_at', sa.Date(), nullable=True),
    sa.Column('remarks', sa.Text(), nullable=True),
    sa.CheckConstraint("GeometryType(geom) IN ('MULTIPOLYGON') AND ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name=op.f('ck_protection_zones_geom_valid')),
    sa.CheckConstraint("designation_scheme IN ('natura2000', 'spanishNaturalSpaces', 'unesco', 'unescoMAB', 'regionalNaturalSpaces', 'mineralSafeguarding', 'urbanPlanning', 'other')", name=op.f('ck_protection_zones_designation_scheme')),
    sa.CheckConstraint("legal_effect IN ('exclusion', 'conditional', 'safeguarding', 'informative')", name=op.f('ck_protection_zones_legal_effect')),
    sa.CheckConstraint('(depth_top_m IS NULL OR depth_top_m >= 0) AND (depth_bottom_m IS NULL OR depth_bottom_m > coalesce(depth_top_m, 0))', name=op.f('ck_protection_zones_depth_interval')),
    sa.CheckConstraint('valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from', name=op.f('ck_protection_zones_validity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_protection_zones')),
    sa.UniqueConstraint('source', 'source_id', name=op.f('uq_protection_zones_source_source_id'))
    )
    op.create_index('ix_protection_zones_geom', 'protection_zones', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_protection_zones_legal_effect', 'protection_zones', ['legal_effect'], unique=False)
    op.create_table('resource_estimates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deposit_id', sa.Integer(), nullable=False),
    sa.Column('commodity', sa.String(length=32), nullable=False),
    sa.Column('classification', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('tonnage_t', sa.Float(), nullable=True),
    sa.Column('grade', sa.Float(), nullable=True),
    sa.Column('grade_unit', sa.String(length=16), nullable=True),
    sa.Column('cutoff', sa.Text(), nullable=True),
    sa.Column('reported_on', sa.Date(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.CheckConstraint("category IN ('measured', 'indicated', 'inferred', 'proved', 'probable', 'historic')", name=op.f('ck_resource_estimates_category')),
    sa.CheckConstraint("classification IN ('JORC', 'NI 43-101', 'PERC', 'CRIRSCO', 'UNFC', 'historic')", name=op.f('ck_resource_estimates_classification')),
    sa.CheckConstraint("commodity IN ('aluminium', 'antimony', 'arsenic', 'baryte', 'beryllium', 'bismuth', 'boron', 'cobalt', 'cokingCoal', 'coal', 'copper', 'feldspar', 'fluorspar', 'gallium', 'germanium', 'gold', 'graphite', 'hafnium', 'helium', 'heavyRareEarthElements', 'iron', 'kaolin', 'lead', 'lightRareEarthElements', 'lithium', 'magnesium', 'manganese', 'molybdenum', 'nickel', 'niobium', 'phosphateRock', 'platinumGroupMetals', 'quartz', 'scandium', 'siliconMetal', 'silver', 'slate', 'strontium', 'talc', 'tantalum', 'tin', 'titanium', 'tungsten', 'uranium', 'vanadium', 'zinc')", name=op.f('ck_resource_estimates_commodity')),
    sa.CheckConstraint('tonnage_t IS NULL OR tonnage_t >= 0', name=op.f('ck_resource_estimates_tonnage')),
    sa.ForeignKeyConstraint(['deposit_id'], ['deposits.id'], name=op.f('fk_resource_estimates_deposit_id_deposits'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_estimates'))
    )
    op.create_index(op.f('ix_resource_estimates_deposit_id'), 'resource_estimates', ['deposit_id'], unique=False)
    for table in TOUCHED_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_touch BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION touch_updated_at()"
        )


def downgrade() -> None:
    op.drop_index(op.f('ix_resource_estimates_deposit_id'), table_name='resource_estimates')
    op.drop_table('resource_estimates')
    op.drop_index('ix_protection_zones_legal_effect', table_name='protection_zones')
    op.drop_index('ix_protection_zones_geom', table_name='protection_zones', postgresql_using='gist')
    op.drop_table('protection_zones')
    op.drop_index('ix_permits_geom', table_name='permits', postgresql_using='gist')
    op.drop_table('permits')
    op.drop_index('ix_deposits_geom', table_name='deposits', postgresql_using='gist')
    op.drop_index('ix_deposits_commodities', table_name='deposits', postgresql_using='gin')
    op.drop_table('deposits')
    op.drop_index(op.f('ix_admin_areas_name_folded'), table_name='admin_areas')
    op.drop_index('ix_admin_areas_level', table_name='admin_areas')
    op.drop_index('ix_admin_areas_geom', table_name='admin_areas', postgresql_using='gist')
    op.drop_table('admin_areas')
    op.execute("DROP FUNCTION touch_updated_at()")
    op.execute("DROP FUNCTION depth_intervals_overlap(float8, float8, float8, float8)")
