"""One head after the parallel feature revisions (zone parts, permit history, import runs,
table change counters), so new revisions have a single parent.

Revision ID: 0006
Revises: 0002, 0003, 0004, 0005
Create Date: 2026-11-29 06:35:17.168348
"""

revision = '0006'
down_revision = ('0002', '0003', '0004', '0005')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
