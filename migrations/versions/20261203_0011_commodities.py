"""The whole commodity vocabulary: a commodities table (filled from geo/core/vocab by
geo.store.commodity_table.sync_commodities) that triggers check stored codes against, in place of CHECKs
listing 47 codes; five old codes renamed to the vocabulary's; a deposit's name optional;
location_precision 'unknown'.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:40:00
"""

import sqlalchemy as sa
from alembic import op

from geo.store.commodity_table import sync_commodities
from geo.store.models import commodity_trigger_sql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# The commodity columns at this revision (resource_estimates went in 0012): written out so
# that this revision never changes with the models.
COMMODITY_COLUMNS = (("deposits", "commodities", True), ("permits", "commodities", True),
                     ("resource_estimates", "commodity", False))

# The 47 codes of revision 0001, written out so that the downgrade never changes.
OLD_CODES = "ARRAY['aluminium', 'antimony', 'arsenic', 'baryte', 'beryllium', 'bismuth', 'boron', 'cobalt', 'cokingCoal', 'coal', 'copper', 'feldspar', 'fluorspar', 'gallium', 'germanium', 'gold', 'graphite', 'hafnium', 'helium', 'heavyRareEarthElements', 'iron', 'kaolin', 'lead', 'lightRareEarthElements', 'lithium', 'magnesium', 'manganese', 'molybdenum', 'nickel', 'niobium', 'phosphateRock', 'platinumGroupMetals', 'quartz', 'scandium', 'siliconMetal', 'silver', 'slate', 'strontium', 'talc', 'tantalum', 'tin', 'titanium', 'tungsten', 'uranium', 'vanadium', 'zinc']::text[]"
OLD_RENAMED = {'fluorspar': 'fluorite', 'heavyRareEarthElements': 'HREE', 'lightRareEarthElements': 'LREE',
               'platinumGroupMetals': 'platinumGroupMetal', 'siliconMetal': 'silicon'}


def upgrade() -> None:
    op.create_table(
        'commodities',
        sa.Column('code', sa.Text(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('name_es', sa.Text(), nullable=True),
        sa.Column('symbol', sa.Text(), nullable=True),
        sa.Column('broader', sa.ARRAY(sa.Text()), nullable=False),
        sa.Column('critical', sa.Boolean(), nullable=False),
        sa.Column('strategic', sa.Boolean(), nullable=False),
        sa.Column('cgi_id', sa.Text(), nullable=True),
        sa.Column('hierarchy_key', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_commodities')),
    )
    op.drop_constraint(op.f('ck_deposits_commodities'), 'deposits', type_='check')
    op.drop_constraint(op.f('ck_permits_commodities'), 'permits', type_='check')
    op.drop_constraint(op.f('ck_resource_estimates_commodity'), 'resource_estimates', type_='check')
    sync_commodities(op.get_bind(), COMMODITY_COLUMNS)
    for table, column, is_list in COMMODITY_COLUMNS:
        for statement in commodity_trigger_sql(table, column, is_list):
            op.execute(statement)
    op.alter_column('deposits', 'name', existing_type=sa.Text(), nullable=True)
    op.drop_constraint(op.f('ck_deposits_location_precision'), 'deposits', type_='check')
    op.create_check_constraint(op.f('ck_deposits_location_precision'), 'deposits',
                               "location_precision IN ('exact', 'approximate', 'unknown')")


def downgrade() -> None:
    op.drop_constraint(op.f('ck_deposits_location_precision'), 'deposits', type_='check')
    op.create_check_constraint(op.f('ck_deposits_location_precision'), 'deposits',
                               "location_precision IN ('exact', 'approximate')")
    op.alter_column('deposits', 'name', existing_type=sa.Text(), nullable=False)
    for table, _column, _ in COMMODITY_COLUMNS:
        op.execute(f"DROP FUNCTION {table}_commodities_known() CASCADE")
    for old, new in OLD_RENAMED.items():
        op.execute(f"UPDATE deposits SET commodities = array_replace(commodities, '{new}', '{old}')")
        op.execute(f"UPDATE permits SET commodities = array_replace(commodities, '{new}', '{old}')")
        op.execute(f"UPDATE resource_estimates SET commodity = '{old}' WHERE commodity = '{new}'")
    op.create_check_constraint(op.f('ck_deposits_commodities'), 'deposits', f"commodities <@ {OLD_CODES}")
    op.create_check_constraint(op.f('ck_permits_commodities'), 'permits', f"commodities <@ {OLD_CODES}")
    op.create_check_constraint(op.f('ck_resource_estimates_commodity'), 'resource_estimates',
                               f"ARRAY[commodity::text] <@ {OLD_CODES}")
    op.drop_table('commodities')
