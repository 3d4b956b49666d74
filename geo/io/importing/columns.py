"""The importable tables' columns, written from geo.store.models by
`python -m geo.io.importing.table_columns` (do not edit: run it, then `ruff format`, after
changing a model)."""

from __future__ import annotations

from typing import NamedTuple


class Column(NamedTuple):
    """One column of a table: its name, the kind of value an import reads into it, whether it
    may be NULL, whether the database has a default for it, and its maximum length (text)."""

    name: str
    kind: str
    nullable: bool
    server_default: bool
    max_length: int | None


COLUMNS: dict[str, tuple[Column, ...]] = {
    "deposits": (
        Column("id", "integer", False, False, None),
        Column("name", "text", True, False, None),
        Column("occurrence_type", "text", False, False, 32),
        Column("commodities", "list", False, False, None),
        Column("commodity_importance", "list", False, False, None),
        Column("deposit_type", "text", True, False, 64),
        Column("size_class", "text", True, False, 32),
        Column("mine_status", "text", True, False, 32),
        Column("depth_top_m", "number", True, False, None),
        Column("depth_bottom_m", "number", True, False, None),
        Column("location_precision", "text", False, False, 16),
        Column("geom", "text", False, False, None),
        Column("confidential", "text", False, True, None),
        Column("owner_org", "integer", True, False, None),
        Column("created_at", "text", False, True, None),
        Column("updated_at", "text", False, True, None),
        Column("source", "text", False, False, 64),
        Column("source_id", "text", False, False, 128),
        Column("source_url", "text", True, False, None),
        Column("licence", "text", True, False, None),
        Column("retrieved_at", "date", True, False, None),
        Column("remarks", "text", True, False, None),
    ),
    "permits": (
        Column("id", "integer", False, False, None),
        Column("registry_number", "text", False, False, 64),
        Column("name", "text", False, False, None),
        Column("holder", "text", True, False, None),
        Column("right_type", "text", False, False, 32),
        Column("section", "text", True, False, 1),
        Column("status", "text", False, False, 16),
        Column("applied_on", "date", True, False, None),
        Column("granted_on", "date", True, False, None),
        Column("expires_on", "date", True, False, None),
        Column("commodities", "list", False, False, None),
        Column("authority", "text", True, False, None),
        Column("source_id", "text", True, False, 128),
        Column("geom", "text", False, False, None),
        Column("confidential", "text", False, True, None),
        Column("owner_org", "integer", True, False, None),
        Column("created_at", "text", False, True, None),
        Column("updated_at", "text", False, True, None),
        Column("source", "text", False, False, 64),
        Column("source_url", "text", True, False, None),
        Column("licence", "text", True, False, None),
        Column("retrieved_at", "date", True, False, None),
        Column("remarks", "text", True, False, None),
    ),
    "protection_zones": (
        Column("id", "integer", False, False, None),
        Column("name", "text", False, False, None),
        Column("designation_scheme", "text", False, False, 32),
        Column("designation", "text", False, False, None),
        Column("legal_effect", "text", False, False, 16),
        Column("legal_basis", "text", True, False, None),
        Column("authority", "text", True, False, None),
        Column("valid_from", "date", True, False, None),
        Column("valid_to", "date", True, False, None),
        Column("depth_top_m", "number", True, False, None),
        Column("depth_bottom_m", "number", True, False, None),
        Column("geom", "text", False, False, None),
        Column("created_at", "text", False, True, None),
        Column("updated_at", "text", False, True, None),
        Column("source", "text", False, False, 64),
        Column("source_id", "text", False, False, 128),
        Column("source_url", "text", True, False, None),
        Column("licence", "text", True, False, None),
        Column("retrieved_at", "date", True, False, None),
        Column("remarks", "text", True, False, None),
    ),
    "admin_areas": (
        Column("code", "text", False, False, 8),
        Column("name", "text", False, False, None),
        Column("name_folded", "text", False, False, None),
        Column("level", "text", False, False, 32),
        Column("parent_code", "text", True, False, 8),
        Column("source", "text", False, False, 64),
        Column("licence", "text", True, False, None),
        Column("geom", "text", False, False, None),
    ),
}
