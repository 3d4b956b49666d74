"""What every table shares: the naming convention, the declarative base, the CHECK builders
and the timestamp and provenance columns. Geometry is stored in lon/lat (EPSG:4326)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo.core.sql import quoted_list, text_array

SRID = 4326

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


def one_of(column: str, values: tuple[str, ...], name: str | None = None) -> sa.CheckConstraint:
    """CHECK that a text column holds a value of a code list (NULL allowed)."""
    return sa.CheckConstraint(f"{column} IN ({quoted_list(values)})", name=name or column)


def all_of(column: str, values: tuple[str, ...], name: str | None = None) -> sa.CheckConstraint:
    """CHECK that every element of a text[] column is in a code list."""
    return sa.CheckConstraint(f"{column} <@ {text_array(values)}", name=name or column)


def depth_interval(prefix: str = "depth") -> sa.CheckConstraint:
    """CHECK for a depth interval in metres below surface: top >= 0 and top < bottom."""
    return sa.CheckConstraint(
        f"({prefix}_top_m IS NULL OR {prefix}_top_m >= 0) AND "
        f"({prefix}_bottom_m IS NULL OR {prefix}_bottom_m > coalesce({prefix}_top_m, 0))",
        name=f"{prefix}_interval",
    )


def geometry_type(*types: str) -> sa.CheckConstraint:
    """CHECK for an allowed, non-empty, valid geometry in lon/lat."""
    return sa.CheckConstraint(
        f"GeometryType(geom) IN ({', '.join(f'{t!r}' for t in types)}) AND NOT ST_IsEmpty(geom) AND "
        f"{POINT_IN_RANGE_OR_VALID if 'POINT' in types else 'ST_IsValid(geom)'}",
        name="geom_valid",
    )


# A point is valid when its coordinates are finite: tested directly, as a longitude and a
# latitude in range (NaN and infinities fail BETWEEN), because ST_IsValid goes through GEOS and
# costs more than all the other checks of a bulk-inserted point together.
POINT_IN_RANGE_OR_VALID = (
    "CASE WHEN GeometryType(geom) = 'POINT' THEN ST_X(geom) BETWEEN -180 AND 180 "
    "AND ST_Y(geom) BETWEEN -90 AND 90 ELSE ST_IsValid(geom) END"
)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True),
        server_default=sa.func.now(),
        onupdate=sa.func.now(),
        nullable=False,
    )


class Provenance:
    """Where a record came from: every record keeps its source, its id there and licence."""

    source: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    source_id: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    source_url: Mapped[str | None] = mapped_column(sa.Text)
    licence: Mapped[str | None] = mapped_column(sa.Text)
    retrieved_at: Mapped[date | None] = mapped_column(sa.Date)
    # Free text on how the record was made: approximations, simplifications, caveats.
    remarks: Mapped[str | None] = mapped_column(sa.Text)
