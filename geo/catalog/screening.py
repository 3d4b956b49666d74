"""The deposit_screening collection: every deposit with its protection and ground status today."""

from __future__ import annotations

from geo.catalog.collections import COMMODITY_QUERYABLE, DEPOSIT_DETAIL, DEPOSIT_PROPERTIES
from geo.core import vocabulary as v
from geo.core.sql import Params, Sql
from geo.features.collections import Collection, Property
from geo.rules.ground import DESCRIPTION as GROUND_DESCRIPTION
from geo.rules.ground import GROUND_STATUSES, ground_status_sql, on_site_sql
from geo.rules.protection import zone_constrains, zone_in_force
from geo.rules.registry import effective_status_sql


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
