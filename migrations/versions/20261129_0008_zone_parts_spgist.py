"""An SP-GiST index on protection_zone_parts beside the GiST: cheaper point probes for the
zone rule of every deposit (the GiST stays for nearest-part ordering).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 08:20:00
"""

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_protection_zone_parts_geom_spgist', 'protection_zone_parts', ['geom'],
                    unique=False, postgresql_using='spgist')


def downgrade() -> None:
    op.drop_index('ix_protection_zone_parts_geom_spgist', table_name='protection_zone_parts')
