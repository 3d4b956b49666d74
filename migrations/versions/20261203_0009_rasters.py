"""rasters: registered Cloud-Optimised GeoTIFFs and their metadata

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:40:00
"""
import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rasters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('units', sa.Text(), nullable=True),
    sa.Column('file_name', sa.Text(), nullable=False),
    sa.Column('crs_wkt', sa.Text(), nullable=False),
    sa.Column('epsg', sa.Integer(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('band_count', sa.Integer(), nullable=False),
    sa.Column('data_type', sa.String(length=16), nullable=False),
    sa.Column('nodata', sa.Float(), nullable=True),
    sa.Column('transform', postgresql.ARRAY(sa.Float()), nullable=False),
    sa.Column('bounds', postgresql.ARRAY(sa.Float()), nullable=False),
    sa.Column('footprint', geoalchemy2.types.Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('statistics', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('categorical', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('screening', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('licence', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9_-]*$'", name=op.f('ck_rasters_name_slug')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rasters')),
    sa.UniqueConstraint('name', name=op.f('uq_rasters_name'))
    )


def downgrade() -> None:
    op.drop_table('rasters')
