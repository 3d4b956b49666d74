"""Veta's own feature collections: deposits, permits, protection zones, admin areas."""

from __future__ import annotations

from geo.core import commodities
from geo.core import vocabulary as v
from geo.core.sql import Sql, text_array
from geo.features.collections import Collection, ListQueryable, Property
from geo.rules.registry import effective_status_sql

# The polygon collections' area, computed and described alike in each.
AREA_HA = Property(
    "area_ha",
    Sql("round((ST_Area(t.geom::geography) / 10000)::numeric, 2)::float8"),
    "number",
    "Geodesic area in hectares",
)
SOURCE_ID = Property("source_id", Sql("t.source_id"), "string", "The record's id at its source")
LICENCE = Property(
    "licence", Sql("t.licence"), "string", "Licence of the source data", sortable=False
)
PROVENANCE = (
    Property(
        "source", Sql("t.source"), "string", "Where the record comes from (IGME, EEA, synthetic, …)"
    ),
    SOURCE_ID,
    LICENCE,
)
PROVENANCE_DETAIL = (
    Property("source_url", Sql("t.source_url"), "string", "Where the source record can be read"),
    Property(
        "remarks", Sql("t.remarks"), "string", "How the record was made: approximations, caveats"
    ),
    Property(
        "created_at", Sql("t.created_at"), "string", "When the record was created here", "date-time"
    ),
    Property(
        "updated_at",
        Sql("t.updated_at"),
        "string",
        "When the record last changed here",
        "date-time",
    ),
)

# A deposit's first commodity: its own property, and that of records about deposits.
MAIN_COMMODITY = Property(
    "main_commodity",
    Sql("t.commodities[1]"),
    "string",
    "Main commodity (INSPIRE code)",
    enum=v.COMMODITY_CODES,
)

DEPOSIT_PROPERTIES = (
    Property(
        "name",
        Sql("coalesce(t.name, t.source_id)"),
        "string",
        "Name of the mineral occurrence; its source id where the source gives no name",
    ),
    MAIN_COMMODITY,
    Property(
        "commodities",
        Sql("array_to_string(t.commodities, ', ')"),
        "string",
        "All commodities, main first, comma-separated INSPIRE codes",
    ),
    Property(
        "critical_raw_material",
        Sql(f"t.commodities && {text_array(c.code for c in v.COMMODITIES if c.critical)}"),
        "boolean",
        "Holds a critical raw material (Regulation (EU) 2024/1252, Annex II)",
    ),
    Property(
        "strategic_raw_material",
        Sql(f"t.commodities && {text_array(c.code for c in v.COMMODITIES if c.strategic)}"),
        "boolean",
        "Holds a strategic raw material (Regulation (EU) 2024/1252, Annex I)",
    ),
    Property(
        "occurrence_type",
        Sql("t.occurrence_type"),
        "string",
        "INSPIRE mineral occurrence type",
        enum=v.OCCURRENCE_TYPES,
    ),
    Property("deposit_type", Sql("t.deposit_type"), "string", "Deposit type", enum=v.DEPOSIT_TYPES),
    Property(
        "size_class",
        Sql("t.size_class"),
        "string",
        "INSPIRE deposit size class",
        enum=v.SIZE_CLASSES,
    ),
    Property(
        "mine_status", Sql("t.mine_status"), "string", "INSPIRE mine status", enum=v.MINE_STATUSES
    ),
    Property(
        "depth_top_m", Sql("t.depth_top_m"), "number", "Top of the deposit, metres below surface"
    ),
    Property(
        "depth_bottom_m",
        Sql("t.depth_bottom_m"),
        "number",
        "Bottom of the deposit, metres below surface",
    ),
    Property(
        "location_precision",
        Sql("t.location_precision"),
        "string",
        "Whether the position is exact",
        enum=v.LOCATION_PRECISIONS,
    ),
    *PROVENANCE,
    Property(
        "retrieved_at",
        Sql("t.retrieved_at"),
        "string",
        "When the source record was retrieved",
        "date",
    ),
    Property(
        "mdopi",
        Sql(
            "(SELECT x.mdopi_class FROM deposit_assessments x WHERE x.deposit_id = t.id "
            "ORDER BY x.id DESC LIMIT 1)"
        ),
        "string",
        "MDoPI class of the latest assessment (empty: never assessed; see deposit_assessments)",
        enum=v.MDOPI_CLASSES,
    ),
)
# Filters ask for a commodity anywhere in the list, not only the main one.
COMMODITY_QUERYABLE = ListQueryable(
    "commodity",
    Sql("t.commodities"),
    "Any commodity of the deposit (INSPIRE code): commodity IN ('tungsten','lithium') matches a "
    "deposit holding either, as its main commodity or a by-product; a broader commodity matches "
    "its narrower ones (commodity = 'platinumGroupMetal' finds platinum and palladium)",
    v.COMMODITY_CODES,
    narrower=commodities.matching,
)
DEPOSIT_DETAIL = (
    Property(
        "commodity_importance",
        Sql("array_to_string(t.commodity_importance, ', ')"),
        "string",
        "Importance of each commodity, in the order of `commodities`",
    ),
    *PROVENANCE_DETAIL,
)

DEPOSITS = Collection(
    id="deposits",
    title="Mineral deposits",
    description="Mineral occurrences of León (INSPIRE Mineral Resources): points, or outlines where known.",
    table="deposits",
    reads=("deposit_assessments",),
    properties=DEPOSIT_PROPERTIES,
    list_queryables=(COMMODITY_QUERYABLE,),
    detail=DEPOSIT_DETAIL,
    temporal=("retrieved_at",),
    keywords=("mineral resources", "INSPIRE", "deposits"),
)


PERMITS = Collection(
    id="permits",
    title="Mining rights",
    description="Mining rights under Ley 22/1973 de Minas (Catastro Minero): sets of whole cuadrículas.",
    table="permits",
    geometry_type="MultiPolygon",
    properties=(
        Property(
            "registry_number", Sql("t.registry_number"), "string", "Registry number of the right"
        ),
        Property("name", Sql("t.name"), "string", "Name of the right"),
        Property("holder", Sql("t.holder"), "string", "Holder (company)"),
        Property("right_type", Sql("t.right_type"), "string", "Kind of right", enum=v.RIGHT_TYPES),
        Property("section", Sql("t.section"), "string", "Resource section (A-D)", enum=v.SECTIONS),
        # As /permits: a granted or extended right past expires_on reads as lapsed (geo/rules/registry.py).
        Property(
            "status",
            Sql(effective_status_sql("t", "current_date")),
            "string",
            "Status today: the registry status, lapsed from expires_on on",
            enum=v.PERMIT_STATUSES,
        ),
        Property(
            "registry_status",
            Sql("t.status"),
            "string",
            "Status as recorded in the registry",
            enum=v.PERMIT_STATUSES,
        ),
        Property("applied_on", Sql("t.applied_on"), "string", "Application date", "date"),
        Property("granted_on", Sql("t.granted_on"), "string", "Grant date", "date"),
        Property("expires_on", Sql("t.expires_on"), "string", "Expiry date", "date"),
        Property(
            "commodities",
            Sql("array_to_string(t.commodities, ', ')"),
            "string",
            "Commodities, comma-separated INSPIRE codes",
        ),
        Property("authority", Sql("t.authority"), "string", "Granting authority"),
        AREA_HA,
        Property("source", Sql("t.source"), "string", "Where the record comes from"),
        SOURCE_ID,
        LICENCE,
    ),
    list_queryables=(
        ListQueryable(
            "commodity",
            Sql("t.commodities"),
            "Any commodity the right covers (INSPIRE code)",
            v.COMMODITY_CODES,
            narrower=commodities.matching,
        ),
    ),
    # The provenance details but the source URL, which the registry's records do not have.
    detail=PROVENANCE_DETAIL[1:],
    temporal=("granted_on", "expires_on"),
    keywords=("mining rights", "Catastro Minero", "permits"),
)

PROTECTION_ZONES = Collection(
    id="protection_zones",
    title="Land-use protection zones",
    description=(
        "Minatura2020-style zones with a legal effect on mining (exclusion, conditional, "
        "safeguarding, informative), optionally limited to a depth interval."
    ),
    table="protection_zones",
    geometry_type="MultiPolygon",
    properties=(
        Property("name", Sql("t.name"), "string", "Name of the zone"),
        Property(
            "designation_scheme",
            Sql("t.designation_scheme"),
            "string",
            "Designation scheme",
            enum=v.DESIGNATION_SCHEMES,
        ),
        Property(
            "designation",
            Sql("t.designation"),
            "string",
            "Designation (SPA, SAC, national park, …)",
        ),
        Property(
            "legal_effect",
            Sql("t.legal_effect"),
            "string",
            "Legal effect on mining",
            enum=v.LEGAL_EFFECTS,
        ),
        Property("legal_basis", Sql("t.legal_basis"), "string", "Legal basis", sortable=False),
        Property("authority", Sql("t.authority"), "string", "Responsible authority"),
        Property(
            "valid_from", Sql("t.valid_from"), "string", "In force from (open if empty)", "date"
        ),
        Property("valid_to", Sql("t.valid_to"), "string", "In force until (open if empty)", "date"),
        Property(
            "depth_top_m",
            Sql("t.depth_top_m"),
            "number",
            "Top of the protected interval, metres below surface",
        ),
        Property(
            "depth_bottom_m",
            Sql("t.depth_bottom_m"),
            "number",
            "Bottom of the protected interval, metres below surface (empty: unbounded)",
        ),
        AREA_HA,
        *PROVENANCE,
    ),
    detail=PROVENANCE_DETAIL,
    temporal=("valid_from", "valid_to"),
    keywords=("protected areas", "Natura 2000", "Minatura2020"),
)

ADMIN_AREAS = Collection(
    id="admin_areas",
    title="Administrative areas",
    description="Country, autonomous community, province and municipalities with their INE codes (IGN, CC BY 4.0).",
    table="admin_areas",
    geometry_type="MultiPolygon",
    id_sql=Sql("t.code"),
    id_type="string",
    properties=(
        Property("code", Sql("t.code"), "string", "INE code"),
        Property("name", Sql("t.name"), "string", "Name"),
        Property("level", Sql("t.level"), "string", "Administrative level", enum=v.ADMIN_LEVELS),
        Property("parent_code", Sql("t.parent_code"), "string", "INE code of the enclosing area"),
        AREA_HA,
        Property("source", Sql("t.source"), "string", "Where the boundary comes from"),
        LICENCE,
    ),
    keywords=("administrative units", "INE"),
)
