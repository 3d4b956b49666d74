"""The layers a file can be imported into: their fields, keys and code lists. The columns are
geo.store.models', as written out in columns.json: an import does not load the ORM models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

from geo.core import vocabulary as v
from geo.io.importing.columns import COLUMNS

FieldKind = Literal["text", "number", "integer", "date", "list"]

# Filled by Veta, never read from a file: the surrogate id, time stamps, the run's source, the
# folded name (made from `name`), and who may see the record (the writer's, not the file's, say).
_MANAGED = {
    "id",
    "created_at",
    "updated_at",
    "geom",
    "source",
    "name_folded",
    "confidential",
    "owner_org",
}


@dataclass(frozen=True)
class Field:
    """One importable column: its kind, whether a row must have it, and its limits."""

    name: str
    kind: FieldKind
    required: bool
    max_length: int | None = None
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Layer:
    """A target table: what a row needs, which geometry it takes and how a record is matched."""

    name: str  # the table's
    # The columns that identify a record across imports (the upsert's conflict target).
    key: tuple[str, ...]
    geometry_types: tuple[str, ...]
    fields: dict[str, Field] = field(default_factory=dict)
    # Values a required field takes when the file has no column for it (the report says so).
    defaults: dict[str, str] = field(default_factory=dict)
    # Every column of the table, managed ones included.
    columns: tuple[str, ...] = ()
    # Whether its records are split into parts for screening (protection_zone_parts), which a
    # bulk write may do for all its new records at once (zone_parts.split_new_zones).
    has_parts: bool = False

    @property
    def record_id(self) -> str:
        """The field a report names a row by (the id the record has at its source)."""
        return self.key[-1]


def _layer(
    table: str,
    key: tuple[str, ...],
    geometry_types: tuple[str, ...],
    code_lists: dict[str, tuple[str, ...]],
    optional: tuple[str, ...] = (),
    defaults: dict[str, str] | None = None,
    has_parts: bool = False,
) -> Layer:
    fields = {}
    for column in COLUMNS[table]:
        if column.name in _MANAGED:
            continue
        required = (
            not column.nullable and not column.server_default and column.name not in optional
        ) or column.name in key
        fields[column.name] = Field(
            column.name,
            cast(FieldKind, column.kind),
            required,
            column.max_length,
            code_lists.get(column.name),
        )
    columns = tuple(c.name for c in COLUMNS[table])
    return Layer(table, key, geometry_types, fields, defaults or {}, columns, has_parts)


LAYERS: dict[str, Layer] = {
    "deposits": _layer(
        "deposits",
        ("source", "source_id"),
        ("Point", "MultiPolygon"),
        {
            "occurrence_type": v.OCCURRENCE_TYPES,
            "deposit_type": v.DEPOSIT_TYPES,
            "size_class": v.SIZE_CLASSES,
            "mine_status": v.MINE_STATUSES,
            "location_precision": v.LOCATION_PRECISIONS,
            "commodities": v.COMMODITY_CODES,
            "commodity_importance": v.COMMODITY_IMPORTANCE,
        },
        # Without importances the first commodity is the main one and the rest by-products.
        optional=("commodity_importance",),
        # Most sources say neither what kind of occurrence a record is nor how exact its position.
        defaults={"occurrence_type": "occurrence", "location_precision": "unknown"},
    ),
    # A mining right is identified by its registry number, whichever source reports it.
    "permits": _layer(
        "permits",
        ("registry_number",),
        ("MultiPolygon",),
        {
            "right_type": v.RIGHT_TYPES,
            "section": v.SECTIONS,
            "status": v.PERMIT_STATUSES,
            "commodities": v.COMMODITY_CODES,
        },
        optional=("commodities",),
    ),
    "protection_zones": _layer(
        "protection_zones",
        ("source", "source_id"),
        ("MultiPolygon",),
        {"designation_scheme": v.DESIGNATION_SCHEMES, "legal_effect": v.LEGAL_EFFECTS},
        has_parts=True,
    ),
    # An administrative area is identified by its INE code.
    "admin_areas": _layer(
        "admin_areas",
        ("code",),
        ("MultiPolygon",),
        {"level": v.ADMIN_LEVELS},
    ),
}

# Shapefile (dBase) field names have at most 10 characters: the names Veta writes there, and
# reads back as the same fields.
SHAPEFILE_NAMES = {
    "occurrence_type": "occ_type",
    "commodities": "commodity",
    "commodity_importance": "importance",
    "deposit_type": "dep_type",
    "mine_status": "mine_stat",
    "depth_top_m": "depth_top",
    "depth_bottom_m": "depth_bot",
    "location_precision": "loc_prec",
    "retrieved_at": "retrieved",
    "registry_number": "registry",
    "designation_scheme": "desig_sch",
    "designation": "desig",
    "legal_effect": "effect",
    "legal_basis": "basis",
    "parent_code": "parent",
}
