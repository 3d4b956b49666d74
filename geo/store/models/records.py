"""The domain's records: deposits, mining rights and their history, protection zones and the
subdivided parts screening reads them through."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.core import vocabulary as v
from geo.store.models.access import Confidentiality
from geo.store.models.base import (
    SRID,
    Base,
    Provenance,
    Timestamps,
    all_of,
    depth_interval,
    geometry_type,
    one_of,
)


class Deposit(Confidentiality, Timestamps, Provenance, Base):
    """A mineral occurrence (INSPIRE MineralOccurrence): a point or, where known, its outline."""

    __tablename__ = "deposits"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    # INSPIRE marks the name voidable: a deposit without one is shown by its source id.
    name: Mapped[str | None] = mapped_column(sa.Text)
    occurrence_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    # Commodity codes, main first; commodity_importance[i] is the importance of commodities[i].
    commodities: Mapped[list[str]] = mapped_column(sa.ARRAY(sa.Text), nullable=False)
    commodity_importance: Mapped[list[str]] = mapped_column(sa.ARRAY(sa.Text), nullable=False)
    deposit_type: Mapped[str | None] = mapped_column(sa.String(64))
    size_class: Mapped[str | None] = mapped_column(sa.String(32))
    mine_status: Mapped[str | None] = mapped_column(sa.String(32))
    depth_top_m: Mapped[float | None] = mapped_column(sa.Float)
    depth_bottom_m: Mapped[float | None] = mapped_column(sa.Float)
    location_precision: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    geom = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=False), nullable=False)

    __table_args__ = (
        sa.UniqueConstraint("source", "source_id"),
        one_of("occurrence_type", v.OCCURRENCE_TYPES),
        one_of("deposit_type", v.DEPOSIT_TYPES),
        one_of("size_class", v.SIZE_CLASSES),
        one_of("mine_status", v.MINE_STATUSES),
        one_of("location_precision", v.LOCATION_PRECISIONS),
        all_of("commodity_importance", v.COMMODITY_IMPORTANCE),
        sa.CheckConstraint(
            "cardinality(commodities) >= 1 AND "
            "cardinality(commodities) = cardinality(commodity_importance)",
            name="commodities_shape",
        ),
        depth_interval(),
        Confidentiality.owned(),
        geometry_type("POINT", "MULTIPOLYGON"),
        sa.Index("ix_deposits_geom", "geom", postgresql_using="gist"),
        sa.Index("ix_deposits_commodities", "commodities", postgresql_using="gin"),
    )


class Permit(Confidentiality, Timestamps, Provenance, Base):
    """A mining right under Ley 22/1973 de Minas: a set of whole cuadrículas."""

    __tablename__ = "permits"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    registry_number: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    holder: Mapped[str | None] = mapped_column(sa.Text)
    right_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    section: Mapped[str | None] = mapped_column(sa.String(1))
    status: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    applied_on: Mapped[date | None] = mapped_column(sa.Date)
    granted_on: Mapped[date | None] = mapped_column(sa.Date)
    expires_on: Mapped[date | None] = mapped_column(sa.Date)
    commodities: Mapped[list[str]] = mapped_column(sa.ARRAY(sa.Text), nullable=False, default=list)
    authority: Mapped[str | None] = mapped_column(sa.Text)
    # A right recorded by hand or from a registry without ids has none at its source.
    source_id: Mapped[str | None] = mapped_column(sa.String(128))  # type: ignore[assignment]
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)

    __table_args__ = (
        one_of("right_type", v.RIGHT_TYPES),
        one_of("section", v.SECTIONS),
        one_of("status", v.PERMIT_STATUSES),
        sa.CheckConstraint(
            "granted_on IS NULL OR applied_on IS NULL OR granted_on >= applied_on",
            name="granted_after_applied",
        ),
        Confidentiality.owned(),
        # Only an application can be kept confidential: a right once admitted is public record.
        sa.CheckConstraint(
            "NOT confidential OR status IN ('applied', 'denied')", name="confidential_application"
        ),
        geometry_type("MULTIPOLYGON"),
        sa.Index("ix_permits_geom", "geom", postgresql_using="gist"),
    )


PERMIT_HISTORY_ACTIONS = ("insert", "update", "delete")


class PermitHistory(Base):
    """Every change to a mining right, written by a trigger on permits (migration 0003) so that
    no writer can skip it: when it was recorded, from which day it takes effect, by whom, and
    the whole row before and after (as JSON, geometry as GeoJSON)."""

    __tablename__ = "permit_history"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    # No foreign key: the history of a deleted right outlives it.
    permit_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    registry_number: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )
    # The day the change takes legal effect (`--on`); the day it was recorded unless given.
    effective_on: Mapped[date] = mapped_column(sa.Date, nullable=False)
    changed_by: Mapped[str] = mapped_column(sa.Text, nullable=False)
    action: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)

    __table_args__ = (
        one_of("action", PERMIT_HISTORY_ACTIONS),
        sa.Index("ix_permit_history_permit_id_effective_on", "permit_id", "effective_on", "id"),
        sa.Index("ix_permit_history_effective_on", "effective_on"),
    )


class ProtectionZone(Timestamps, Provenance, Base):
    """A Minatura2020-style land-use zone with a legal effect on mining, optionally 3D."""

    __tablename__ = "protection_zones"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    designation_scheme: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    designation: Mapped[str] = mapped_column(sa.Text, nullable=False)
    legal_effect: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    legal_basis: Mapped[str | None] = mapped_column(sa.Text)
    authority: Mapped[str | None] = mapped_column(sa.Text)
    valid_from: Mapped[date | None] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)
    depth_top_m: Mapped[float | None] = mapped_column(sa.Float)
    depth_bottom_m: Mapped[float | None] = mapped_column(sa.Float)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)

    __table_args__ = (
        sa.UniqueConstraint("source", "source_id"),
        one_of("designation_scheme", v.DESIGNATION_SCHEMES),
        one_of("legal_effect", v.LEGAL_EFFECTS),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from", name="validity"
        ),
        depth_interval(),
        geometry_type("MULTIPOLYGON"),
        sa.Index("ix_protection_zones_geom", "geom", postgresql_using="gist"),
        sa.Index("ix_protection_zones_legal_effect", "legal_effect"),
    )


class ProtectionZonePart(Base):
    """A piece of a protection zone of at most 256 vertices (ST_Subdivide), for fast intersects.

    Kept in step with protection_zones by triggers (migration 0002); never written directly.
    """

    __tablename__ = "protection_zone_parts"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    zone_id: Mapped[int] = mapped_column(
        sa.ForeignKey("protection_zones.id", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False,
        index=True,
    )
    geom = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=False), nullable=False)

    # Two indexes on the parts: an SP-GiST (a quadtree of boxes) finds the parts under a point
    # in about three quarters of the GiST's time, which every deposit's zone check pays
    # (benchmarks/screening); the GiST stays for nearest-part ordering (<->), which SP-GiST
    # does not offer for geometry.
    __table_args__ = (
        sa.Index("ix_protection_zone_parts_geom", "geom", postgresql_using="gist"),
        sa.Index("ix_protection_zone_parts_geom_spgist", "geom", postgresql_using="spgist"),
    )
