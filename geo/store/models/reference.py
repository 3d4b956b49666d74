"""Reference tables: admin areas and the commodity vocabulary, and the triggers that check
stored commodity codes against it."""

from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.orm import Mapped, mapped_column

from geo.core import vocabulary as v
from geo.store.models.base import (
    SRID,
    Base,
    one_of,
)


class AdminArea(Base):
    """An administrative area (INE code): country, autonomous community, province, municipality."""

    __tablename__ = "admin_areas"

    code: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    # Accent- and case-folded name ('leon') for lookups; filled by the loader from vocabulary.fold.
    name_folded: Mapped[str] = mapped_column(sa.Text, nullable=False, index=True)
    level: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    parent_code: Mapped[str | None] = mapped_column(
        sa.String(8), sa.ForeignKey("admin_areas.code", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    licence: Mapped[str | None] = mapped_column(sa.Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)

    __table_args__ = (
        one_of("level", v.ADMIN_LEVELS),
        sa.Index("ix_admin_areas_geom", "geom", postgresql_using="gist"),
        sa.Index("ix_admin_areas_level", "level"),
    )


class CommodityCode(Base):
    """A commodity Veta knows (geo/core/commodities.py): the reference the stored codes are checked
    against, so that adding or renaming a commodity changes rows here, not the deposits table."""

    __tablename__ = "commodities"

    code: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    name_es: Mapped[str | None] = mapped_column(sa.Text)
    symbol: Mapped[str | None] = mapped_column(sa.Text)
    broader: Mapped[list[str]] = mapped_column(sa.ARRAY(sa.Text), nullable=False)
    critical: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    strategic: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    cgi_id: Mapped[str | None] = mapped_column(sa.Text)
    hierarchy_key: Mapped[str | None] = mapped_column(sa.Text)


# The commodity codes of deposits, permits and resource estimates must be rows of `commodities`.
# A CHECK cannot read another table and a foreign key cannot hold an array, so statement-level
# triggers do it: one set-wise lookup per statement, however many rows a COPY brings.
# (table, column, whether the column is a list)
COMMODITY_COLUMNS = (("deposits", "commodities", True), ("permits", "commodities", True))


def commodity_trigger_sql(table: str, column: str, is_list: bool) -> list[str]:
    """The function and triggers that refuse unknown commodity codes in table.column."""
    values = f"unnest({column})" if is_list else column
    function = f"{table}_commodities_known"
    body = f"""
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unknown text;
BEGIN
    SELECT string_agg(DISTINCT c, ', ') INTO unknown
    FROM (SELECT {values} AS c FROM changed) AS listed
    WHERE NOT EXISTS (SELECT 1 FROM commodities k WHERE k.code = c);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown commodity code(s) in {table}.{column}: %', unknown
            USING ERRCODE = 'check_violation', HINT = 'the known codes are the rows of table commodities';
    END IF;
    RETURN NULL;
END $$"""
    return [body] + [
        f"CREATE TRIGGER {table}_commodities_known_{event.lower()} AFTER {event} ON {table} "
        f"REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        for event in ("INSERT", "UPDATE")
    ]
