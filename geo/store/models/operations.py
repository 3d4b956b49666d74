"""What Veta records about its own work: import runs, the tables' change counters, rasters,
kept screening reports."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from geo.store.models.access import Confidentiality
from geo.store.models.base import (
    SRID,
    Base,
    one_of,
)

IMPORT_LAYERS = ("deposits", "permits", "protection_zones", "admin_areas")

# written: the rows were stored; refused: a problem stopped the run before any write;
# dry_run: validated only.
IMPORT_OUTCOMES = ("written", "refused", "dry_run")


class ImportRun(Base):
    """One run of `veta import`: which file, by whom, when, and what it changed (an audit trail)."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    file: Mapped[str] = mapped_column(sa.Text, nullable=False)
    checksum: Mapped[str] = mapped_column(sa.String(64), nullable=False)  # sha256, hex
    layer: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    source: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    outcome: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    rows_read: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    inserted: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    updated: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    unchanged: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    deleted: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    rejected: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    finished_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    # The operating-system user who ran the import ("user" is a reserved word in SQL).
    imported_by: Mapped[str] = mapped_column(sa.Text, nullable=False)
    dry_run: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)
    # Options, CRS and transformation used, and every problem found (the --report document).
    report: Mapped[dict] = mapped_column(JSONB, nullable=False)

    __table_args__ = (
        one_of("layer", IMPORT_LAYERS),
        one_of("outcome", IMPORT_OUTCOMES),
        sa.Index("ix_import_runs_source", "source"),
    )


class TableChange(Base):
    """How often a table has changed: statement-level triggers (migration 0005) bump `version`
    on every write, so an ETag built from it changes exactly when the data may have."""

    __tablename__ = "table_changes"

    table_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    version: Mapped[int] = mapped_column(sa.BigInteger, server_default="0", nullable=False)
    changed_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


class Raster(Base):
    """A registered raster: a Cloud-Optimised GeoTIFF under the raster directory, described here
    (its own CRS and grid; the footprint in lon/lat for finding it on a map)."""

    __tablename__ = "rasters"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    title: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    units: Mapped[str | None] = mapped_column(sa.Text)
    # The COG's file name inside the raster directory (VETA_RASTER_DIR).
    file_name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    crs_wkt: Mapped[str] = mapped_column(sa.Text, nullable=False)
    epsg: Mapped[int | None] = mapped_column(sa.Integer)
    width: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    height: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    band_count: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    data_type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    nodata: Mapped[float | None] = mapped_column(sa.Float)
    # The affine transform (a, b, c, d, e, f) and the bounds (minx, miny, maxx, maxy) in the CRS.
    transform: Mapped[list[float]] = mapped_column(sa.ARRAY(sa.Float), nullable=False)
    bounds: Mapped[list[float]] = mapped_column(sa.ARRAY(sa.Float), nullable=False)
    footprint = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=False), nullable=False)
    # Per band: min, max, mean, std and the valid cell count, computed on registration.
    statistics: Mapped[list] = mapped_column(JSONB, nullable=False)
    # Categorical: values are class codes (hectares per class in zonal statistics).
    categorical: Mapped[bool] = mapped_column(sa.Boolean, server_default="false", nullable=False)
    # Screening: every screening report includes this raster's statistics over the site.
    screening: Mapped[bool] = mapped_column(sa.Boolean, server_default="false", nullable=False)
    source: Mapped[str | None] = mapped_column(sa.Text)
    licence: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )

    __table_args__ = (sa.CheckConstraint("name ~ '^[a-z0-9][a-z0-9_-]*$'", name="name_slug"),)


class ScreeningReport(Confidentiality, Base):
    """A screening answer kept for its permanent link: the request, the answer and the state of
    the data it was made from. The id is a random UUID: the link is the only way to find it."""

    __tablename__ = "screening_reports"

    id: Mapped[str] = mapped_column(
        UUID(as_uuid=False), primary_key=True, server_default=sa.func.gen_random_uuid()
    )
    # What was screened: 'screening' (POST /screening) or 'plan_impact' (POST /planning/impact).
    kind: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )
    request: Mapped[dict] = mapped_column(JSONB, nullable=False)
    report: Mapped[dict] = mapped_column(JSONB, nullable=False)
    data_versions: Mapped[dict] = mapped_column(JSONB, nullable=False)

    __table_args__ = (
        sa.CheckConstraint("kind IN ('screening', 'plan_impact')", name="kind"),
        Confidentiality.owned(),
    )
