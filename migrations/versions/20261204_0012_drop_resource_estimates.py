"""resource_estimates goes (nothing ever read or wrote it); permits gain source_url, as every
other record with provenance has.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 01:40:00
"""

import sqlalchemy as sa
from alembic import op

from geo.store.models import commodity_trigger_sql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('resource_estimates')
    op.execute("DROP FUNCTION resource_estimates_commodities_known()")
    op.add_column('permits', sa.Column('source_url', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('permits', 'source_url')
    op.create_table(
        'resource_estimates',
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
        sa.CheckConstraint("category IN ('measured', 'indicated', 'inferred', 'proved', 'probable', 'historic')",
                           name=op.f('ck_resource_estimates_category')),
        sa.CheckConstraint("classification IN ('JORC', 'NI 43-101', 'PERC', 'CRIRSCO', 'UNFC', 'historic')",
                           name=op.f('ck_resource_estimates_classification')),
        sa.CheckConstraint('tonnage_t IS NULL OR tonnage_t >= 0', name=op.f('ck_resource_estimates_tonnage')),
        sa.ForeignKeyConstraint(['deposit_id'], ['deposits.id'],
                                name=op.f('fk_resource_estimates_deposit_id_deposits'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_estimates')),
    )
    op.create_index(op.f('ix_resource_estimates_deposit_id'), 'resource_estimates', ['deposit_id'], unique=False)
    for statement in commodity_trigger_sql('resource_estimates', 'commodity', False):
        op.execute(statement)
