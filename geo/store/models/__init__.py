"""The database schema: SQLAlchemy + GeoAlchemy2 models, the one source of the tables.

Geometry is stored in lon/lat (EPSG:4326). Code-list columns carry CHECK constraints built
from geo/core/vocabulary.py, so the database refuses what the vocabulary does not allow.
Alembic's revisions are generated from `Base.metadata`, which every module below fills.
"""

from geo.store.models.access import (
    AUDIT_ACTIONS,
    AUDIT_CHANNELS,
    ROLES,
    ApiKey,
    AuditEntry,
    Confidentiality,
    Organisation,
)
from geo.store.models.base import SRID, Base, Provenance, Timestamps
from geo.store.models.operations import (
    IMPORT_LAYERS,
    IMPORT_OUTCOMES,
    ImportRun,
    Raster,
    TableChange,
)
from geo.store.models.planning import (
    DepositAssessment,
    DepositSocietalScore,
    SafeguardingArea,
    SafeguardingGeneration,
    SafeguardingLink,
)
from geo.store.models.records import (
    PERMIT_HISTORY_ACTIONS,
    Deposit,
    Permit,
    PermitHistory,
    ProtectionZone,
    ProtectionZonePart,
)
from geo.store.models.reference import (
    COMMODITY_COLUMNS,
    AdminArea,
    CommodityCode,
    commodity_trigger_sql,
)
from geo.store.models.summaries import DepositCell, DepositCellCommodity

__all__ = [
    "AUDIT_ACTIONS",
    "AUDIT_CHANNELS",
    "ROLES",
    "ApiKey",
    "AuditEntry",
    "Confidentiality",
    "Organisation",
    "COMMODITY_COLUMNS",
    "IMPORT_LAYERS",
    "IMPORT_OUTCOMES",
    "PERMIT_HISTORY_ACTIONS",
    "SRID",
    "AdminArea",
    "Base",
    "CommodityCode",
    "Deposit",
    "DepositCell",
    "DepositCellCommodity",
    "DepositAssessment",
    "DepositSocietalScore",
    "ImportRun",
    "Permit",
    "PermitHistory",
    "Provenance",
    "ProtectionZone",
    "ProtectionZonePart",
    "Raster",
    "SafeguardingArea",
    "ScreeningReport",
    "SafeguardingGeneration",
    "SafeguardingLink",
    "TableChange",
    "Timestamps",
    "commodity_trigger_sql",
]
