"""Veta's own collections, declared for geo.features: deposits, deposit screening, permits,
protection zones, admin areas, the cuadrícula and the MDoPI assessments.

Nothing is registered by importing this package: the app (api.app.create_app) and the command
line call `register_catalog()` before they serve or export anything.
"""

from __future__ import annotations

from dataclasses import replace

from geo.catalog.areas import AREA_QUERYABLE, area_codes_sql
from geo.catalog.assessments import DEPOSIT_ASSESSMENTS
from geo.catalog.collections import ADMIN_AREAS, DEPOSITS, PERMITS, PROTECTION_ZONES
from geo.catalog.grid import GRID_CELLS
from geo.catalog.screening import DEPOSIT_SCREENING
from geo.features.collections import (
    ClusterSummary,
    Collection,
    ListQueryable,
    TileClusters,
    register,
)

IGN_ATTRIBUTION = "© Instituto Geográfico Nacional de España, CC BY 4.0"

# Below zoom 10 a tile of the province's deposits would carry tens of thousands of them (4 MB
# at z8 over 100,000): the map gets clusters there, with their count and main commodities.
# Unfiltered, they are summed from the cells the database keeps of deposits (migration 0016):
# the z13 grid, i.e. the cluster cells of a z9 tile, the last clustered zoom.
DEPOSIT_CELLS = ClusterSummary(
    cells="deposit_cells",
    values="deposit_cell_commodities",
    value_column="commodity",
    zoom=13,
)
DEPOSIT_CLUSTERS = TileClusters(
    below_zoom=10,
    top_of="commodity",
    top_field="commodities",
    label="name",
    summary=DEPOSIT_CELLS,
)

# How each collection is tiled: the properties styling and popups need, and where the rows
# come from. Deposit tiles read deposit_screening's rows: the same deposits, with their
# protection_status computed by the one zone rule (geo/rules/protection.py), 3D included.
_TILES: dict[str, dict] = {
    "deposits": {
        "tile_properties": (
            "name",
            "main_commodity",
            "commodities",
            "mine_status",
            "protection_status",
        ),
        "tile_rows": "deposit_screening",
        "tile_clusters": DEPOSIT_CLUSTERS,
    },
    "deposit_screening": {
        "tile_properties": (
            "name",
            "main_commodity",
            "commodities",
            "protection_status",
            "protection_zones",
            "nearest_zone_name",
            "nearest_zone_distance_m",
        ),
        # The same deposits: clustered alike (filtered ones, by protection status say, from
        # the deposits with their zone rule; unfiltered ones from the same cells).
        "tile_clusters": DEPOSIT_CLUSTERS,
    },
    "permits": {"tile_properties": ("registry_number", "name", "right_type", "status", "holder")},
    "protection_zones": {"tile_properties": ("name", "designation", "legal_effect")},
    "admin_areas": {"tile_properties": ("code", "name", "level"), "attribution": IGN_ATTRIBUTION},
}


def _served(collection: Collection) -> Collection:
    """The collection with its tile settings and the `area` queryable (the INE codes of the
    admin areas a feature meets) that every collection of Veta's offers."""
    area = ListQueryable("area", area_codes_sql(collection.geometry_sql), AREA_QUERYABLE)
    return replace(
        collection,
        list_queryables=(*collection.list_queryables, area),
        **_TILES.get(collection.id, {}),
    )


CATALOG: tuple[Collection, ...] = tuple(
    _served(c)
    for c in (
        DEPOSITS,
        DEPOSIT_SCREENING,
        PERMITS,
        PROTECTION_ZONES,
        ADMIN_AREAS,
        GRID_CELLS,
        DEPOSIT_ASSESSMENTS,
    )
)


def register_catalog() -> None:
    """Register Veta's collections (again: a no-op)."""
    for collection in CATALOG:
        register(collection)
