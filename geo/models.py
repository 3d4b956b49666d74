"""The database schema: SQLAlchemy + GeoAlchemy2 models, the one source of the tables.

Geometry is stored in lon/lat (EPSG:4326). Code-list columns carry CHECK constraints built
from geo/vocabulary.py, so the database refuses what the vocabulary does not allow.
"""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo import vocabulary as v
from geo.sql import quoted_list, text_array

SRID = 4326

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def one_of(column: str, values: tuple[str, ...], name: str | None = None) -> CheckConstraint:
    """CHECK that a text column holds a value of a code list (NULL allowed)."""
    return CheckConstraint(f"{column} IN ({quoted_list(values)})", name=name or column)


def all_of(column: str, values: tuple[str, ...], name: str | None = None) -> CheckConstraint:
    """CHECK that every element of a text[] column is in a code list."""
    return CheckConstraint(f"{column} <@ {text_array(values)}", name=name or column)


def depth_interval(prefix: str = "depth") -> CheckConstraint:
    """CHECK for a depth interval in metres below surface: top >= 0 and top < bottom."""
    return CheckConstraint(
        f"({prefix}_top_m IS NULL OR {prefix}_top_m >= 0) AND "
        f"({prefix}_bottom_m IS NULL OR {prefix}_bottom_m > coalesce({prefix}_top_m, 0))",
        name=f"{prefix}_interval",
    )


def geometry_type(*types: str) -> CheckConstraint:
    """CHECK for an allowed, non-empty, valid geometry in lon/lat."""
    return CheckConstraint(
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
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class Provenance:
    """Where a record came from: every record keeps its source, its id there and licence."""

    source: Mapped[str] = mapped_column(String(64), nullable=False)
    source_id: Mapped[str] = mapped_column(String(128), nullable=False)
    source_url: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(Text)
    retrieved_at: Mapped[date | None] = mapped_column(Date)
    # Free text on how the record was made: approximations, simplifications, caveats.
    remarks: Mapped[str | None] = mapped_column(Text)


class AdminArea(Base):
    """An administrative area (INE code): country, autonomous community, province, municipality."""

    __tablename__ = "admin_areas"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    # Accent- and case-folded name ('leon') for lookups; filled by the loader from vocabulary.fold.
    name_folded: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    level: Mapped[str] = mapped_column(String(32), nullable=False)
    parent_code: Mapped[str | None] = mapped_column(
        String(8), ForeignKey("admin_areas.code", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    licence: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)

    __table_args__ = (
        one_of("level", v.ADMIN_LEVELS),
        Index("ix_admin_areas_geom", "geom", postgresql_using="gist"),
        Index("ix_admin_areas_level", "level"),
    )


class CommodityCode(Base):
    """A commodity Veta knows (geo/commodities.py): the reference the stored codes are checked
    against, so that adding or renaming a commodity changes rows here, not the deposits table."""

    __tablename__ = "commodities"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    name_es: Mapped[str | None] = mapped_column(Text)
    symbol: Mapped[str | None] = mapped_column(Text)
    broader: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    critical: Mapped[bool] = mapped_column(Boolean, nullable=False)
    strategic: Mapped[bool] = mapped_column(Boolean, nullable=False)
    cgi_id: Mapped[str | None] = mapped_column(Text)
    hierarchy_key: Mapped[str | None] = mapped_column(Text)


# The commodity codes of deposits, permits and resource estimates must be rows of `commodities`.
# A CHECK cannot read another table and a foreign key cannot hold an array, so statement-level
# triggers do it: one set-wise lookup per statement, however many rows a COPY brings.
# (table, column, whether the column is a list)
COMMODITY_COLUMNS = (("deposits", "commodities", True), ("permits", "commodities", True),
                     ("resource_estimates", "commodity", False))


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


class Deposit(Timestamps, Provenance, Base):
    """A mineral occurrence (INSPIRE MineralOccurrence): a point or, where known, its outline."""

    __tablename__ = "deposits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # INSPIRE marks the name voidable: a deposit without one is shown by its source id.
    name: Mapped[str | None] = mapped_column(Text)
    occurrence_type: Mapped[str] = mapped_column(String(32), nullable=False)
    # Commodity codes, main first; commodity_importance[i] is the importance of commodities[i].
    commodities: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    commodity_importance: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    deposit_type: Mapped[str | None] = mapped_column(String(64))
    size_class: Mapped[str | None] = mapped_column(String(32))
    mine_status: Mapped[str | None] = mapped_column(String(32))
    depth_top_m: Mapped[float | None] = mapped_column(Float)
    depth_bottom_m: Mapped[float | None] = mapped_column(Float)
    location_precision: Mapped[str] = mapped_column(String(16), nullable=False)
    geom = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=False), nullable=False)

    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        one_of("occurrence_type", v.OCCURRENCE_TYPES),
        one_of("deposit_type", v.DEPOSIT_TYPES),
        one_of("size_class", v.SIZE_CLASSES),
        one_of("mine_status", v.MINE_STATUSES),
        one_of("location_precision", v.LOCATION_PRECISIONS),
        all_of("commodity_importance", v.COMMODITY_IMPORTANCE),
        CheckConstraint(
            "cardinality(commodities) >= 1 AND "
            "cardinality(commodities) = cardinality(commodity_importance)",
            name="commodities_shape",
        ),
        depth_interval(),
        geometry_type("POINT", "MULTIPOLYGON"),
        Index("ix_deposits_geom", "geom", postgresql_using="gist"),
        Index("ix_deposits_commodities", "commodities", postgresql_using="gin"),
    )


class ResourceEstimate(Base):
    """A resource or reserve estimate of a deposit under a reporting code."""

    __tablename__ = "resource_estimates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deposit_id: Mapped[int] = mapped_column(
        ForeignKey("deposits.id", ondelete="CASCADE"), nullable=False, index=True
    )
    commodity: Mapped[str] = mapped_column(String(32), nullable=False)
    classification: Mapped[str] = mapped_column(String(16), nullable=False)
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    tonnage_t: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[float | None] = mapped_column(Float)
    grade_unit: Mapped[str | None] = mapped_column(String(16))
    cutoff: Mapped[str | None] = mapped_column(Text)
    reported_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        one_of("classification", v.RESOURCE_CLASSIFICATIONS),
        one_of("category", v.RESOURCE_CATEGORIES),
        CheckConstraint("tonnage_t IS NULL OR tonnage_t >= 0", name="tonnage"),
    )


class Permit(Timestamps, Base):
    """A mining right under Ley 22/1973 de Minas: a set of whole cuadrículas."""

    __tablename__ = "permits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registry_number: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    holder: Mapped[str | None] = mapped_column(Text)
    right_type: Mapped[str] = mapped_column(String(32), nullable=False)
    section: Mapped[str | None] = mapped_column(String(1))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    applied_on: Mapped[date | None] = mapped_column(Date)
    granted_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    commodities: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False, default=list)
    authority: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    source_id: Mapped[str | None] = mapped_column(String(128))
    licence: Mapped[str | None] = mapped_column(Text)
    retrieved_at: Mapped[date | None] = mapped_column(Date)
    remarks: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)

    __table_args__ = (
        one_of("right_type", v.RIGHT_TYPES),
        one_of("section", v.SECTIONS),
        one_of("status", v.PERMIT_STATUSES),
        CheckConstraint(
            "granted_on IS NULL OR applied_on IS NULL OR granted_on >= applied_on",
            name="granted_after_applied",
        ),
        geometry_type("MULTIPOLYGON"),
        Index("ix_permits_geom", "geom", postgresql_using="gist"),
    )


class ProtectionZone(Timestamps, Provenance, Base):
    """A Minatura2020-style land-use zone with a legal effect on mining, optionally 3D."""

    __tablename__ = "protection_zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    designation_scheme: Mapped[str] = mapped_column(String(32), nullable=False)
    designation: Mapped[str] = mapped_column(Text, nullable=False)
    legal_effect: Mapped[str] = mapped_column(String(16), nullable=False)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    authority: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    depth_top_m: Mapped[float | None] = mapped_column(Float)
    depth_bottom_m: Mapped[float | None] = mapped_column(Float)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)

    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        one_of("designation_scheme", v.DESIGNATION_SCHEMES),
        one_of("legal_effect", v.LEGAL_EFFECTS),
        CheckConstraint(
            "valid_to IS NULL OR valid_from IS NULL OR valid_to >= valid_from", name="validity"
        ),
        depth_interval(),
        geometry_type("MULTIPOLYGON"),
        Index("ix_protection_zones_geom", "geom", postgresql_using="gist"),
        Index("ix_protection_zones_legal_effect", "legal_effect"),
    )


# --- Site screening (issue 4) ---------------------------------------------------------------


class ProtectionZonePart(Base):
    """A piece of a protection zone of at most 256 vertices (ST_Subdivide), for fast intersects.

    Kept in step with protection_zones by triggers (migration 0002); never written directly.
    """

    __tablename__ = "protection_zone_parts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    zone_id: Mapped[int] = mapped_column(
        ForeignKey("protection_zones.id", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False, index=True,
    )
    geom = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=False), nullable=False)

    # Two indexes on the parts: an SP-GiST (a quadtree of boxes) finds the parts under a point
    # in about three quarters of the GiST's time, which every deposit's zone check pays
    # (benchmarks/screening); the GiST stays for nearest-part ordering (<->), which SP-GiST
    # does not offer for geometry.
    __table_args__ = (
        Index("ix_protection_zone_parts_geom", "geom", postgresql_using="gist"),
        Index("ix_protection_zone_parts_geom_spgist", "geom", postgresql_using="spgist"),
    )


# --- Import runs (issue 6) -------------------------------------------------------------------

from sqlalchemy import Boolean  # noqa: E402
from sqlalchemy.dialects.postgresql import JSONB  # noqa: E402

IMPORT_LAYERS = ("deposits", "permits", "protection_zones", "admin_areas")
# written: the rows were stored; refused: a problem stopped the run before any write;
# dry_run: validated only.
IMPORT_OUTCOMES = ("written", "refused", "dry_run")


class ImportRun(Base):
    """One run of `veta import`: which file, by whom, when, and what it changed (an audit trail)."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file: Mapped[str] = mapped_column(Text, nullable=False)
    checksum: Mapped[str] = mapped_column(String(64), nullable=False)  # sha256, hex
    layer: Mapped[str] = mapped_column(String(32), nullable=False)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    rows_read: Mapped[int] = mapped_column(Integer, nullable=False)
    inserted: Mapped[int] = mapped_column(Integer, nullable=False)
    updated: Mapped[int] = mapped_column(Integer, nullable=False)
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False)
    deleted: Mapped[int] = mapped_column(Integer, nullable=False)
    rejected: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The operating-system user who ran the import ("user" is a reserved word in SQL).
    imported_by: Mapped[str] = mapped_column(Text, nullable=False)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # Options, CRS and transformation used, and every problem found (the --report document).
    report: Mapped[dict] = mapped_column(JSONB, nullable=False)

    __table_args__ = (
        one_of("layer", IMPORT_LAYERS),
        one_of("outcome", IMPORT_OUTCOMES),
        Index("ix_import_runs_source", "source"),
    )


# --- Permit history and the cuadrícula registry rules (issue 5) ------------------------------

from sqlalchemy import BigInteger as _BigInteger  # noqa: E402
from sqlalchemy import Identity as _Identity  # noqa: E402

PERMIT_HISTORY_ACTIONS = ("insert", "update", "delete")


class PermitHistory(Base):
    """Every change to a mining right, written by a trigger on permits (migration 0003) so that
    no writer can skip it: when it was recorded, from which day it takes effect, by whom, and
    the whole row before and after (as JSON, geometry as GeoJSON)."""

    __tablename__ = "permit_history"

    id: Mapped[int] = mapped_column(_BigInteger, _Identity(), primary_key=True)
    # No foreign key: the history of a deleted right outlives it.
    permit_id: Mapped[int] = mapped_column(Integer, nullable=False)
    registry_number: Mapped[str] = mapped_column(String(64), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    # The day the change takes legal effect (`--on`); the day it was recorded unless given.
    effective_on: Mapped[date] = mapped_column(Date, nullable=False)
    changed_by: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(String(8), nullable=False)
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)

    __table_args__ = (
        one_of("action", PERMIT_HISTORY_ACTIONS),
        Index("ix_permit_history_permit_id_effective_on", "permit_id", "effective_on", "id"),
        Index("ix_permit_history_effective_on", "effective_on"),
    )


# --- Table change counters for ETags (issue 3) ----------------------------------------------

from sqlalchemy import BigInteger  # noqa: E402


class TableChange(Base):
    """How often a table has changed: statement-level triggers (migration 0005) bump `version`
    on every write, so an ETag built from it changes exactly when the data may have."""

    __tablename__ = "table_changes"

    table_name: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="0", nullable=False)
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


# --- Rasters (issue 14) -----------------------------------------------------------------------


class Raster(Base):
    """A registered raster: a Cloud-Optimised GeoTIFF under the raster directory, described here
    (its own CRS and grid; the footprint in lon/lat for finding it on a map)."""

    __tablename__ = "rasters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    units: Mapped[str | None] = mapped_column(Text)
    # The COG's file name inside the raster directory (VETA_RASTER_DIR).
    file_name: Mapped[str] = mapped_column(Text, nullable=False)
    crs_wkt: Mapped[str] = mapped_column(Text, nullable=False)
    epsg: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    band_count: Mapped[int] = mapped_column(Integer, nullable=False)
    data_type: Mapped[str] = mapped_column(String(16), nullable=False)
    nodata: Mapped[float | None] = mapped_column(Float)
    # The affine transform (a, b, c, d, e, f) and the bounds (minx, miny, maxx, maxy) in the CRS.
    transform: Mapped[list[float]] = mapped_column(ARRAY(Float), nullable=False)
    bounds: Mapped[list[float]] = mapped_column(ARRAY(Float), nullable=False)
    footprint = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=False), nullable=False)
    # Per band: min, max, mean, std and the valid cell count, computed on registration.
    statistics: Mapped[list] = mapped_column(JSONB, nullable=False)
    # Categorical: values are class codes (hectares per class in zonal statistics).
    categorical: Mapped[bool] = mapped_column(Boolean, server_default="false", nullable=False)
    # Screening: every screening report includes this raster's statistics over the site.
    screening: Mapped[bool] = mapped_column(Boolean, server_default="false", nullable=False)
    source: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint("name ~ '^[a-z0-9][a-z0-9_-]*$'", name="name_slug"),
    )


# --- Land-use planning for minerals (issue 13) -----------------------------------------------


class DepositAssessment(Base):
    """One MDoPI assessment of a deposit under a method: never updated, a re-run adds a row."""

    __tablename__ = "deposit_assessments"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    deposit_id: Mapped[int] = mapped_column(
        ForeignKey("deposits.id", ondelete="CASCADE"), nullable=False
    )
    method_name: Mapped[str] = mapped_column(Text, nullable=False)
    method_version: Mapped[str] = mapped_column(Text, nullable=False)
    # The day the data was read as of, and when the assessment was written.
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    assessed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    geological: Mapped[float] = mapped_column(Float, nullable=False)
    technical_economic: Mapped[float] = mapped_column(Float, nullable=False)
    land_use: Mapped[float] = mapped_column(Float, nullable=False)
    societal: Mapped[float] = mapped_column(Float, nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    mdopi_class: Mapped[str] = mapped_column(String(16), nullable=False)
    # What the method saw (the deposit's attributes, constraining zones, societal score) and
    # why it gave the class: the record stands even after the deposit changes.
    inputs: Mapped[dict] = mapped_column(JSONB, nullable=False)
    reasons: Mapped[list] = mapped_column(JSONB, nullable=False)

    __table_args__ = (
        one_of("mdopi_class", v.MDOPI_CLASSES),
        # The latest assessment of a deposit is the one with the highest id.
        Index("ix_deposit_assessments_deposit_id_id", "deposit_id", "id"),
    )


class DepositSocietalScore(Base):
    """The societal score (0-100) an authority records for a deposit; absent = the method's neutral default."""

    __tablename__ = "deposit_societal_scores"

    deposit_id: Mapped[int] = mapped_column(
        ForeignKey("deposits.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float, nullable=False)
    recorded_on: Mapped[date] = mapped_column(Date, server_default=func.current_date(), nullable=False)
    recorded_by: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (CheckConstraint("score >= 0 AND score <= 100", name="score_range"),)


class SafeguardingGeneration(Base):
    """One run of `veta mdopi safeguard`: the areas it designated replace the previous run's."""

    __tablename__ = "safeguarding_generations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    # The day a later generation replaced this one (NULL: in force).
    superseded_on: Mapped[date | None] = mapped_column(Date)
    method_name: Mapped[str] = mapped_column(Text, nullable=False)
    method_version: Mapped[str] = mapped_column(Text, nullable=False)
    classes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)

    __table_args__ = (all_of("classes", v.MDOPI_CLASSES),)


class SafeguardingArea(Base):
    """A mineral safeguarding area as designated by a generation: the history record. While its
    generation is in force it is also a protection zone (zone_id) that screening and tiles see."""

    __tablename__ = "safeguarding_areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("safeguarding_generations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # SET NULL: a zone replaced the day it was designated is removed from protection_zones
    # (it was never in force a whole day); this row keeps what it was.
    zone_id: Mapped[int | None] = mapped_column(
        ForeignKey("protection_zones.id", ondelete="SET NULL"), index=True
    )
    area_ha: Mapped[float] = mapped_column(Float, nullable=False)
    depth_top_m: Mapped[float | None] = mapped_column(Float)
    depth_bottom_m: Mapped[float | None] = mapped_column(Float)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)

    __table_args__ = (depth_interval(),)


class SafeguardingLink(Base):
    """Which deposits a safeguarding area protects, and the assessment that qualified each."""

    __tablename__ = "safeguarding_links"

    area_id: Mapped[int] = mapped_column(
        ForeignKey("safeguarding_areas.id", ondelete="CASCADE"), primary_key=True
    )
    deposit_id: Mapped[int] = mapped_column(
        ForeignKey("deposits.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    assessment_id: Mapped[int] = mapped_column(
        ForeignKey("deposit_assessments.id", ondelete="CASCADE"), nullable=False
    )


# --- Screening reports (issue 16) -------------------------------------------------------------


class ScreeningReport(Base):
    """A screening answer kept for its permanent link: the request, the answer and the state of
    the data it was made from. The id is a random UUID: the link is the only way to find it."""

    __tablename__ = "screening_reports"

    id: Mapped[str] = mapped_column(UUID(as_uuid=False), primary_key=True,
                                    server_default=func.gen_random_uuid())
    # What was screened: 'screening' (POST /screening) or 'plan_impact' (POST /planning/impact).
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    request: Mapped[dict] = mapped_column(JSONB, nullable=False)
    report: Mapped[dict] = mapped_column(JSONB, nullable=False)
    data_versions: Mapped[dict] = mapped_column(JSONB, nullable=False)

    __table_args__ = (CheckConstraint("kind IN ('screening', 'plan_impact')", name="kind"),)
