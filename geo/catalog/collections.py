"""Veta's own feature collections: deposits, deposit screening, permits, protection zones, areas."""

from __future__ import annotations

from geo.core import commodities
from geo.core import vocabulary as v
from geo.core.sql import Params, Sql, text_array
from geo.features.collections import Collection, ListQueryable, Property
from geo.rules.ground import DESCRIPTION as GROUND_DESCRIPTION
from geo.rules.ground import GROUND_STATUSES, ground_status_sql, on_site_sql
from geo.rules.protection import zone_constrains, zone_in_force
from geo.rules.registry import effective_status_sql


def _area_ha(geom: str = "t.geom") -> Sql:
    return Sql(f"round((ST_Area({geom}::geography) / 10000)::numeric, 2)::float8")


PROVENANCE = (
    Property(
        "source", Sql("t.source"), "string", "Where the record comes from (IGME, EEA, synthetic, …)"
    ),
    Property("source_id", Sql("t.source_id"), "string", "The record's id at its source"),
    Property("licence", Sql("t.licence"), "string", "Licence of the source data", sortable=False),
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

DEPOSIT_PROPERTIES = (
    Property(
        "name",
        Sql("coalesce(t.name, t.source_id)"),
        "string",
        "Name of the mineral occurrence; its source id where the source gives no name",
    ),
    Property(
        "main_commodity",
        Sql("t.commodities[1]"),
        "string",
        "Main commodity (INSPIRE code)",
        enum=v.COMMODITY_CODES,
    ),
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
    source=Sql("deposits t"),
    table="deposits",
    reads=("deposit_assessments",),
    properties=DEPOSIT_PROPERTIES,
    list_queryables=(COMMODITY_QUERYABLE,),
    detail=DEPOSIT_DETAIL,
    temporal=("retrieved_at",),
    keywords=("mineral resources", "INSPIRE", "deposits"),
)


def _screening_source(params: Params) -> Sql:
    # Each computed group is a LEFT JOIN LATERAL to an aggregate without GROUP BY: exactly one
    # row per deposit, so the planner drops the join when a query uses none of its columns
    # (a count, or a page without them) and evaluates it once when it does.
    restricting = list(v.RESTRICTING_LEGAL_EFFECTS)
    rights_statuses = f"array_agg({effective_status_sql('p', 'current_date')}::text)"
    return Sql(
        "(SELECT d.*, CASE WHEN inside.excluded THEN 'excluded' WHEN inside.zones > 0 THEN 'conditional' "
        "ELSE 'free' END AS protection_status, ground.ground_status, inside.names AS zone_names, inside.ids AS zone_ids, "
        "near.id AS nearest_zone_id, near.name AS nearest_zone_name, near.distance_m AS nearest_zone_distance_m "
        "FROM deposits d "
        "LEFT JOIN LATERAL (SELECT count(*) AS zones, bool_or(z.legal_effect = 'exclusion') AS excluded, "
        "string_agg(z.name, '; ' ORDER BY z.name, z.id) AS names, "
        "string_agg(z.id::text, ',' ORDER BY z.name, z.id) AS ids "
        f"FROM protection_zones z WHERE {zone_constrains('z', 'd', restricting, params)}) inside ON TRUE "
        # Nearest restricting zone: the 10 zone parts (ST_Subdivide pieces, GiST-indexed) nearest
        # in degrees are re-ranked in degrees of longitude scaled by cos(latitude), which is locally
        # proportional to ground distance; the metres are the geodesic length of the shortest line
        # found there. Geography distance to every candidate polygon would cost 100x more.
        "LEFT JOIN LATERAL (SELECT (array_agg(c.id ORDER BY c.scaled, c.id))[1] AS id, "
        "(array_agg(c.name ORDER BY c.scaled, c.id))[1] AS name, "
        "round((array_agg(c.metres ORDER BY c.scaled, c.id))[1]::numeric, 1)::float8 AS distance_m "
        "FROM (SELECT z.id, z.name, ST_Distance(part.scaled, part.target) AS scaled, "
        "ST_Length(ST_Scale(ST_ShortestLine(part.scaled, part.target), 1 / part.k, 1)::geography) AS metres "
        "FROM (SELECT part.zone_id, k.k, ST_Scale(part.geom, k.k, 1) AS scaled, ST_Scale(d.geom, k.k, 1) AS target "
        "FROM protection_zone_parts part JOIN protection_zones z ON z.id = part.zone_id "
        "CROSS JOIN (SELECT cosd(ST_Y(ST_Centroid(d.geom))) AS k) k "
        f"WHERE z.legal_effect = ANY({params(restricting)}::text[]) AND {zone_in_force('z')} "
        "AND depth_intervals_overlap(z.depth_top_m, z.depth_bottom_m, d.depth_top_m, d.depth_bottom_m) "
        "ORDER BY part.geom <-> d.geom LIMIT 10) part JOIN protection_zones z ON z.id = part.zone_id) c) near ON TRUE "
        f"LEFT JOIN LATERAL (SELECT {ground_status_sql(rights_statuses)} "
        f"AS ground_status FROM permits p WHERE {on_site_sql('p.geom', 'd.geom')}) ground ON TRUE"
        ") t"
    )


DEPOSIT_SCREENING = Collection(
    id="deposit_screening",
    title="Deposit screening",
    description=(
        "Every deposit with its protection status today under the zone rule (footprint and depth "
        "interval overlap; exclusion and conditional zones count), the zones it falls in and the "
        "nearest restricting zone with its geodesic distance. Ask e.g. "
        "filter=commodity IN ('tungsten','lithium') AND protection_status = 'free'."
    ),
    source=_screening_source,
    table="deposits",
    reads=("protection_zones", "deposit_assessments"),
    properties=(
        Property(
            "protection_status",
            Sql("t.protection_status"),
            "string",
            "excluded: an exclusion zone constrains the deposit; conditional: only conditional "
            "zones do; free: none does",
            enum=("free", "conditional", "excluded"),
        ),
        Property(
            "ground_status",
            Sql("t.ground_status"),
            "string",
            "Mining rights on the deposit today, beside protection_status: " + GROUND_DESCRIPTION,
            enum=GROUND_STATUSES,
        ),
        Property(
            "protection_zones",
            Sql("t.zone_names"),
            "string",
            "Names of the restricting zones that constrain the deposit, '; '-separated",
        ),
        Property(
            "protection_zone_ids",
            Sql("t.zone_ids"),
            "string",
            "Ids of those zones (collection protection_zones), comma-separated",
            sortable=False,
        ),
        Property(
            "nearest_zone_id",
            Sql("t.nearest_zone_id"),
            "integer",
            "Id of the nearest restricting zone whose depth interval overlaps the deposit's",
        ),
        Property("nearest_zone_name", Sql("t.nearest_zone_name"), "string", "Name of that zone"),
        Property(
            "nearest_zone_distance_m",
            Sql("t.nearest_zone_distance_m"),
            "number",
            "Geodesic distance to that zone in metres (0 inside it)",
        ),
        *DEPOSIT_PROPERTIES,
    ),
    list_queryables=(COMMODITY_QUERYABLE,),
    detail=DEPOSIT_DETAIL,
    temporal=("retrieved_at",),
    keywords=("screening", "protection", "Minatura2020"),
)

PERMITS = Collection(
    id="permits",
    title="Mining rights",
    description="Mining rights under Ley 22/1973 de Minas (Catastro Minero): sets of whole cuadrículas.",
    source=Sql("permits t"),
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
        Property("area_ha", _area_ha(), "number", "Geodesic area in hectares"),
        Property("source", Sql("t.source"), "string", "Where the record comes from"),
        Property("source_id", Sql("t.source_id"), "string", "The record's id at its source"),
        Property(
            "licence", Sql("t.licence"), "string", "Licence of the source data", sortable=False
        ),
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
    source=Sql("protection_zones t"),
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
        Property("area_ha", _area_ha(), "number", "Geodesic area in hectares"),
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
    source=Sql("admin_areas t"),
    table="admin_areas",
    geometry_type="MultiPolygon",
    id_sql=Sql("t.code"),
    id_type="string",
    properties=(
        Property("code", Sql("t.code"), "string", "INE code"),
        Property("name", Sql("t.name"), "string", "Name"),
        Property("level", Sql("t.level"), "string", "Administrative level", enum=v.ADMIN_LEVELS),
        Property("parent_code", Sql("t.parent_code"), "string", "INE code of the enclosing area"),
        Property("area_ha", _area_ha(), "number", "Geodesic area in hectares"),
        Property("source", Sql("t.source"), "string", "Where the boundary comes from"),
        Property(
            "licence", Sql("t.licence"), "string", "Licence of the source data", sortable=False
        ),
    ),
    keywords=("administrative units", "INE"),
)
