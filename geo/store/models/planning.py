"""Land-use planning for minerals: MDoPI assessments, societal scores and safeguarding areas."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.core import vocabulary as v
from geo.store.models.base import (
    SRID,
    Base,
    all_of,
    depth_interval,
    one_of,
)


class DepositAssessment(Base):
    """One MDoPI assessment of a deposit under a method: never updated, a re-run adds a row."""

    __tablename__ = "deposit_assessments"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    deposit_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deposits.id", ondelete="CASCADE"), nullable=False
    )
    method_name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    method_version: Mapped[str] = mapped_column(sa.Text, nullable=False)
    # The day the data was read as of, and when the assessment was written.
    as_of: Mapped[date] = mapped_column(sa.Date, nullable=False)
    assessed_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )
    geological: Mapped[float] = mapped_column(sa.Float, nullable=False)
    technical_economic: Mapped[float] = mapped_column(sa.Float, nullable=False)
    land_use: Mapped[float] = mapped_column(sa.Float, nullable=False)
    societal: Mapped[float] = mapped_column(sa.Float, nullable=False)
    score: Mapped[float] = mapped_column(sa.Float, nullable=False)
    mdopi_class: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    # What the method saw (the deposit's attributes, constraining zones, societal score) and
    # why it gave the class: the record stands even after the deposit changes.
    inputs: Mapped[dict] = mapped_column(JSONB, nullable=False)
    reasons: Mapped[list] = mapped_column(JSONB, nullable=False)

    __table_args__ = (
        one_of("mdopi_class", v.MDOPI_CLASSES),
        # The latest assessment of a deposit is the one with the highest id.
        sa.Index("ix_deposit_assessments_deposit_id_id", "deposit_id", "id"),
    )


class DepositSocietalScore(Base):
    """The societal score (0-100) an authority records for a deposit; absent = the method's neutral default."""

    __tablename__ = "deposit_societal_scores"

    deposit_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deposits.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(sa.Float, nullable=False)
    recorded_on: Mapped[date] = mapped_column(
        sa.Date, server_default=sa.func.current_date(), nullable=False
    )
    recorded_by: Mapped[str | None] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.CheckConstraint("score >= 0 AND score <= 100", name="score_range"),)


class SafeguardingGeneration(Base):
    """One run of `veta mdopi safeguard`: the areas it designated replace the previous run's."""

    __tablename__ = "safeguarding_generations"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )
    valid_from: Mapped[date] = mapped_column(sa.Date, nullable=False)
    # The day a later generation replaced this one (NULL: in force).
    superseded_on: Mapped[date | None] = mapped_column(sa.Date)
    method_name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    method_version: Mapped[str] = mapped_column(sa.Text, nullable=False)
    classes: Mapped[list[str]] = mapped_column(sa.ARRAY(sa.Text), nullable=False)

    __table_args__ = (all_of("classes", v.MDOPI_CLASSES),)


class SafeguardingArea(Base):
    """A mineral safeguarding area as designated by a generation: the history record. While its
    generation is in force it is also a protection zone (zone_id) that screening and tiles see."""

    __tablename__ = "safeguarding_areas"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("safeguarding_generations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # SET NULL: a zone replaced the day it was designated is removed from protection_zones
    # (it was never in force a whole day); this row keeps what it was.
    zone_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("protection_zones.id", ondelete="SET NULL"), index=True
    )
    area_ha: Mapped[float] = mapped_column(sa.Float, nullable=False)
    depth_top_m: Mapped[float | None] = mapped_column(sa.Float)
    depth_bottom_m: Mapped[float | None] = mapped_column(sa.Float)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)

    __table_args__ = (depth_interval(),)


class SafeguardingLink(Base):
    """Which deposits a safeguarding area protects, and the assessment that qualified each."""

    __tablename__ = "safeguarding_links"

    area_id: Mapped[int] = mapped_column(
        sa.ForeignKey("safeguarding_areas.id", ondelete="CASCADE"), primary_key=True
    )
    deposit_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deposits.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assessment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("deposit_assessments.id", ondelete="CASCADE"), nullable=False
    )
