"""screening reports: every screening answer kept, with its request and data versions, for
its permanent link GET /screening/reports/{id}

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 00:45:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('screening_reports',
    sa.Column('id', postgresql.UUID(as_uuid=False), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('request', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('report', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('data_versions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("kind IN ('screening', 'plan_impact')", name=op.f('ck_screening_reports_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_reports'))
    )


def downgrade() -> None:
    op.drop_table('screening_reports')
