"""Site screening: what stands in the way of mining a site, in hectares, metres and depth.

PostGIS does the spatial work in one statement per site: overlaps are ST_Intersection areas
on the spheroid (geography), distances ST_Distance on the spheroid, free ground a geometry
difference. Zones are read through their ST_Subdivide parts (protection_zone_parts), and
whether a zone constrains the site is decided by the one rule in geo/rules/protection.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter
from geo.core.sql import Params, SqlQuery
from geo.queries.site_geometry import buffered_sql
from geo.queries.sites import Site
from geo.rules.ground import ground_status_sql, on_site_sql
from geo.rules.protection import zone_constrains, zone_in_force
from geo.rules.registry import HOLDING, effective_status_sql

# The verdict a constraining zone of each legal effect gives, strongest first.
VERDICTS = (("exclusion", "excluded"), ("conditional", "conditional"))
FREE = "free"
DEFAULT_RADIUS_M = 5_000.0
MAX_RADIUS_M = 50_000.0
# Metres per degree of latitude, rounded down so that a search box in degrees is never short.
METRES_PER_DEGREE = 110_000.0


@dataclass(frozen=True)
class ScreeningOptions:
    """What counts towards the verdict, and how far to look for nearby zones."""

    legal_effects: tuple[str, ...] = v.RESTRICTING_LEGAL_EFFECTS
    radius_m: float = DEFAULT_RADIUS_M


def verdict_of(constraining_effects: set[str]) -> str:
    """excluded, conditional or free, from the legal effects of the zones that constrain."""
    return next((verdict for effect, verdict in VERDICTS if effect in constraining_effects), FREE)


def verdict_sql(effects: str) -> str:
    """SQL: the same verdict from a text[] of constraining legal effects."""
    cases = " ".join(
        f"WHEN '{effect}' = ANY({effects}) THEN '{verdict}'" for effect, verdict in VERDICTS
    )
    return f"CASE {cases} ELSE '{FREE}' END"


def _ha(m2: str) -> str:
    return f"round(({m2} / 10000)::numeric, 4)"


def _share(m2: str) -> str:
    # A point site lies wholly inside whatever it touches.
    return f"round(CASE WHEN s.area_m2 > 0 THEN {m2} / s.area_m2 ELSE 1 END::numeric, 6)"


def _free_share(geom: str) -> str:
    # A point site is wholly free or not at all.
    return (
        f"round(CASE WHEN s.area_m2 > 0 THEN {_polygonal_area(geom)} / s.area_m2 "
        f"WHEN ST_IsEmpty({geom}) THEN 0 ELSE 1 END::numeric, 6)"
    )


def _polygonal_area(geom: str) -> str:
    return f"coalesce(ST_Area(ST_CollectionExtract({geom}, 3)::geography), 0)"


def site_source(site: Site, params: Params) -> str:
    """SQL FROM item `s`: the site's geometry (grown by its buffer) and depth interval; no row
    when a referenced deposit or permit does not exist."""
    if site.reference is None:
        base = f"SELECT ST_GeomFromWKB({params(site.wkb)}::bytea, 4326) AS geom, NULL::float8 AS top, NULL::float8 AS bottom"
    elif site.reference[0] == "deposit":
        base = f"SELECT geom, depth_top_m AS top, depth_bottom_m AS bottom FROM deposits WHERE id = {params(site.reference[1])}"
    else:
        base = f"SELECT geom, NULL::float8 AS top, NULL::float8 AS bottom FROM permits WHERE id = {params(site.reference[1])}"
    geom = "b.geom"
    if site.buffer_m:
        geom = buffered_sql("b.geom", params(site.buffer_m))
    top, bottom = "b.top", "b.bottom"
    if site.has_depth:  # the request's interval replaces a deposit's own
        top, bottom = (
            f"{params(site.depth_top_m)}::float8",
            f"{params(site.depth_bottom_m)}::float8",
        )
    return (
        f"(SELECT g.geom, g.geom::geography AS geog, g.depth_top_m, g.depth_bottom_m, "
        f"ST_Area(g.geom::geography) AS area_m2 "
        f"FROM (SELECT {geom} AS geom, {top} AS depth_top_m, {bottom} AS depth_bottom_m FROM ({base}) b) g) s"
    )


def screen_query(site: Site, options: ScreeningOptions) -> SqlQuery:
    """One row: the site, overlapping zones, nearby zones, permits, free ground and
    municipalities, each a JSON text; geometries as GeoJSON written by PostGIS."""
    params = Params()
    counted = list(options.legal_effects)
    radius = f"{params(options.radius_m)}::float8"
    own_permit = site.reference[1] if site.reference and site.reference[0] == "permit" else None
    not_own = f"AND p.id <> {params(own_permit)}" if own_permit else ""
    effective = effective_status_sql("p", "current_date")
    text = f"""
WITH s AS (SELECT * FROM {site_source(site, params)}),
hits AS (
    SELECT part.zone_id, ST_Intersection(part.geom, s.geom) AS piece
    FROM protection_zone_parts part, s WHERE ST_Intersects(part.geom, s.geom)),
zones AS (
    SELECT z.id, z.name, z.designation_scheme, z.designation, z.legal_effect,
           z.depth_top_m, z.depth_bottom_m, h.piece, h.overlap_m2,
           depth_intervals_overlap(z.depth_top_m, z.depth_bottom_m, s.depth_top_m, s.depth_bottom_m) AS depth_overlap,
           {zone_constrains("z", "s", counted, params)} AS constrains
    FROM (SELECT zone_id, ST_UnaryUnion(ST_Collect(piece)) AS piece,
                 sum({_polygonal_area("piece")}) AS overlap_m2  -- parts do not overlap: areas add up
          FROM hits GROUP BY zone_id) h
    JOIN protection_zones z ON z.id = h.zone_id CROSS JOIN s
    WHERE {zone_in_force("z")}),
nearby AS (
    -- Parts in a box at least radius_m wide around the site; one geodesic distance each.
    SELECT z.id, z.name, z.designation_scheme, z.designation, z.legal_effect,
           z.depth_top_m, z.depth_bottom_m,
           min(ST_Distance(part.geom::geography, s.geog)) AS distance_m
    FROM s JOIN protection_zone_parts part
      ON part.geom && ST_Expand(s.geom, {radius} / {METRES_PER_DEGREE}
             / cos(radians(least(89, greatest(abs(ST_YMin(s.geom)), abs(ST_YMax(s.geom))) + {radius} / {METRES_PER_DEGREE}))),
           {radius} / {METRES_PER_DEGREE})
    JOIN protection_zones z ON z.id = part.zone_id
    WHERE {zone_in_force("z")} AND z.id NOT IN (SELECT zone_id FROM hits)
    GROUP BY z.id
    HAVING min(ST_Distance(part.geom::geography, s.geog)) <= {radius}),
rights AS (
    SELECT p.id, p.registry_number, p.name, p.right_type, p.holder, {effective} AS status,
           {effective} = ANY({params(list(HOLDING))}::text[]) AS holds_ground,
           ST_Intersection(p.geom, s.geom) AS piece, {on_site_sql("p.geom", "s.geom")} AS on_site
    FROM permits p, s WHERE ST_Intersects(p.geom, s.geom) {not_own}),
free AS (
    -- Pieces of the site's own dimension: a point inside a zone or right is a point piece,
    -- and a polygon site only loses the polygons it shares (not lines along an edge).
    SELECT ST_Difference(s.geom, coalesce((SELECT ST_Union(ST_CollectionExtract(b.piece, ST_Dimension(s.geom) + 1)) FROM (
        SELECT piece FROM zones WHERE legal_effect = 'exclusion' AND depth_overlap
        UNION ALL SELECT piece FROM rights WHERE holds_ground) b),
        ST_GeomFromText('GEOMETRYCOLLECTION EMPTY', 4326))) AS geom
    FROM s)
SELECT
  json_build_object('area_ha', {_ha("s.area_m2")}, 'depth_top_m', s.depth_top_m,
      'depth_bottom_m', s.depth_bottom_m, 'geometry', ST_AsGeoJSON(s.geom)::json)::text,
  (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'designation_scheme', designation_scheme,
      'designation', designation, 'legal_effect', legal_effect, 'overlap_ha', {_ha("overlap_m2")},
      'share', {_share("overlap_m2")}, 'depth_top_m', depth_top_m, 'depth_bottom_m', depth_bottom_m,
      'depth_overlap', depth_overlap, 'constrains', constrains, 'geometry', ST_AsGeoJSON(piece)::json)
      ORDER BY array_position({params(list(v.LEGAL_EFFECTS))}::text[], legal_effect::text), overlap_m2 DESC, id), '[]')
   FROM zones)::text,
  (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'designation_scheme', designation_scheme,
      'designation', designation, 'legal_effect', legal_effect, 'depth_top_m', depth_top_m,
      'depth_bottom_m', depth_bottom_m, 'distance_m', round(distance_m::numeric, 2))
      ORDER BY distance_m, id), '[]') FROM nearby)::text,
  (SELECT coalesce(json_agg(json_build_object('id', id, 'registry_number', registry_number, 'name', name,
      'right_type', right_type, 'status', status, 'holder', holder, 'holds_ground', holds_ground,
      'overlap_ha', {_ha(_polygonal_area("piece"))}, 'share', {_share(_polygonal_area("piece"))},
      'geometry', ST_AsGeoJSON(piece)::json)
      ORDER BY {_polygonal_area("piece")} DESC, id), '[]') FROM rights)::text,
  (SELECT json_build_object('area_ha', {_ha(_polygonal_area("geom"))}, 'share', {_free_share("geom")},
      'geometry', ST_AsGeoJSON(geom)::json) FROM free)::text,
  (SELECT coalesce(json_agg(json_build_object('code', a.code, 'name', a.name) ORDER BY a.code), '[]')
   FROM admin_areas a WHERE a.level = 'municipality' AND ST_Intersects(a.geom, s.geom))::text,
  (SELECT {ground_status_sql("array_agg(status::text) FILTER (WHERE on_site)")} FROM rights)
FROM s
"""
    return SqlQuery(text, tuple(params.values))


def _zone_ref(zone: dict) -> dict:
    return {"zone_id": zone["id"], "name": zone["name"], "legal_effect": zone["legal_effect"]}


def reasons_for(verdict: str, zones: list[dict], counted: tuple[str, ...]) -> list[dict]:
    """The zones of the deciding legal effect that constrain the site, and the overlaps that
    the 3D rule set aside."""
    deciding = next((effect for effect, v in VERDICTS if v == verdict), None)
    reasons = [
        {
            **_zone_ref(z),
            "rule": f"{z['legal_effect']} zone overlaps the site in footprint and depth",
        }
        for z in zones
        if z["constrains"] and z["legal_effect"] == deciding
    ]
    reasons += [
        {
            **_zone_ref(z),
            "rule": "footprints overlap but depth intervals do not (3D rule): "
            "the zone does not constrain the site",
        }
        for z in zones
        if z["legal_effect"] in counted and not z["depth_overlap"]
    ]
    if not any(z["constrains"] for z in zones):
        reasons.append(
            {
                "rule": "no zone of a counted legal effect ("
                + ", ".join(counted)
                + ") in force overlaps the site in footprint and depth"
            }
        )
    return reasons


def report_from_row(row, site: Site, options: ScreeningOptions) -> dict:
    """The screening report (a plain dict, ready for JSON, GeoJSON or the HTML page)."""
    site_json, zones, nearby, permits, free_ground, municipalities = (
        orjson.loads(c) for c in row[:6]
    )
    if site.reference:
        site_json["reference"] = {site.reference[0]: site.reference[1]}
    if site.buffer_m:
        site_json["buffer_m"] = site.buffer_m
    verdict = verdict_of({z["legal_effect"] for z in zones if z["constrains"]})
    return {
        "verdict": verdict,
        "ground_status": row[6],
        "reasons": reasons_for(verdict, zones, options.legal_effects),
        "counted_legal_effects": list(options.legal_effects),
        "radius_m": options.radius_m,
        "site": site_json,
        "zones": zones,
        "nearby": nearby,
        "permits": permits,
        "free_ground": free_ground,
        "municipalities": municipalities,
    }


def missing_reference(site: Site) -> InvalidParameter:
    assert site.reference is not None  # only a site given by reference can be missing
    kind, ident = site.reference
    return InvalidParameter(
        kind, f"no {kind} with id {ident}", f"the id of an existing {kind} (see /{kind}s)"
    )
