"""Deposits' geometry CHECK tests a point's coordinates directly instead of calling
ST_IsValid, a GEOS round trip per row (the same points pass: finite, in lon/lat range).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 08:05:00
"""

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# Written out rather than imported from geo.store.models, so that this revision never changes.
POINT_IN_RANGE_OR_VALID = (
    "GeometryType(geom) IN ('POINT', 'MULTIPOLYGON') AND NOT ST_IsEmpty(geom) AND "
    "CASE WHEN GeometryType(geom) = 'POINT' THEN ST_X(geom) BETWEEN -180 AND 180 "
    "AND ST_Y(geom) BETWEEN -90 AND 90 ELSE ST_IsValid(geom) END"
)


def upgrade() -> None:
    op.drop_constraint(op.f('ck_deposits_geom_valid'), 'deposits', type_='check')
    op.create_check_constraint(op.f('ck_deposits_geom_valid'), 'deposits', POINT_IN_RANGE_OR_VALID)


def downgrade() -> None:
    op.drop_constraint(op.f('ck_deposits_geom_valid'), 'deposits', type_='check')
    op.create_check_constraint(
        op.f('ck_deposits_geom_valid'), 'deposits',
        "GeometryType(geom) IN ('POINT', 'MULTIPOLYGON') AND ST_IsValid(geom) AND NOT ST_IsEmpty(geom)")
