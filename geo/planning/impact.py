"""What a proposed plan would do to mining: sterilised deposits, safeguarding, rights, free cells.

One statement per plan. A plan of exclusion or conditional effect sterilises a deposit when
their footprints intersect and their depth intervals overlap (the 3D rule of
geo/rules/protection.py: a surface-only plan over a deep deposit leaves it workable). Deposits are
classed by their latest MDoPI assessment. The verdict: `conflict` when a deposit of regional
or higher importance is sterilised; `caution` when the plan sterilises or touches only
lower-class deposits or overlaps a safeguarding area at its depth; `clear` otherwise.
"""

from __future__ import annotations

import orjson

from geo.core import vocabulary as v
from geo.core.sql import Params, SqlQuery, text_array
from geo.planning.plans import Plan
from geo.queries.screening import site_source
from geo.rules import cuadricula as grid
from geo.rules.ground import held_or_excluded
from geo.rules.protection import zone_in_force
from geo.rules.registry import effective_status_sql

CONFLICT_CLASSES = ("eu", "national", "regional")
UNASSESSED = "unassessed"
# The free-ground rule counts exclusion zones only: a plan of exclusion effect removes free cells.
CELL_REMOVING_EFFECT = "exclusion"
PART_VERTICES = 32


def _ha(m2: str) -> str:
    return f"round(({m2} / 10000)::numeric, 4)::float8"


def impact_query(plan: Plan) -> SqlQuery:
    """One row of JSON texts: the plan, its deposits, safeguarding overlaps, rights, free cells."""
    params = Params()
    critical = text_array(c.code for c in v.COMMODITIES if c.critical)
    strategic = text_array(c.code for c in v.COMMODITIES if c.strategic)
    sterilises = f"{params(plan.sterilises)}::boolean"
    removes_cells = f"{params(plan.legal_effect == CELL_REMOVING_EFFECT)}::boolean"
    text = f"""
WITH s AS (SELECT * FROM {site_source(plan.site, params)}),
deps AS (
    SELECT d.id, d.name, d.commodities, d.depth_top_m, d.depth_bottom_m,
           coalesce(a.mdopi_class, '{UNASSESSED}') AS mdopi_class, a.id AS assessment_id,
           depth_intervals_overlap(d.depth_top_m, d.depth_bottom_m, s.depth_top_m, s.depth_bottom_m) AS depth_overlap,
           CASE WHEN GeometryType(d.geom) = 'POINT' THEN NULL
                ELSE ST_Area(ST_Intersection(d.geom, s.geom)::geography) END AS overlap_m2,
           d.commodities && {critical} AS critical, d.commodities && {strategic} AS strategic,
           ST_AsGeoJSON(d.geom)::json AS geometry
    FROM deposits d CROSS JOIN s
    LEFT JOIN LATERAL (SELECT id, mdopi_class FROM deposit_assessments x WHERE x.deposit_id = d.id
                       ORDER BY x.id DESC LIMIT 1) a ON TRUE
    WHERE ST_Intersects(d.geom, s.geom)),
sg AS (
    SELECT z.id, z.name, z.depth_top_m, z.depth_bottom_m, sum(h.m2) AS overlap_m2,
           ST_Area(z.geom::geography) AS zone_m2,
           depth_intervals_overlap(z.depth_top_m, z.depth_bottom_m, min(s.depth_top_m), min(s.depth_bottom_m)) AS depth_overlap
    FROM (SELECT part.zone_id, ST_Area(ST_Intersection(part.geom, s.geom)::geography) AS m2
          FROM protection_zone_parts part, s WHERE ST_Intersects(part.geom, s.geom)) h
    JOIN protection_zones z ON z.id = h.zone_id CROSS JOIN s
    WHERE z.legal_effect = 'safeguarding' AND {zone_in_force("z")}
    GROUP BY z.id),
rights AS (
    SELECT {effective_status_sql("p", "current_date")} AS status, count(*) AS n,
           sum(ST_Area(ST_Intersection(p.geom, s.geom)::geography)) AS overlap_m2,
           json_agg(p.registry_number ORDER BY p.registry_number) AS registry_numbers
    FROM permits p, s WHERE ST_Intersects(p.geom, s.geom) GROUP BY 1),
parts AS (SELECT ST_Subdivide(s.geom, {PART_VERTICES}) AS geom FROM s WHERE {removes_cells}),
cells AS (
    SELECT DISTINCT ON (c.j, c.i) c.* FROM parts CROSS JOIN LATERAL {grid.sql_cells("parts.geom")}
    WHERE ST_Intersects(c.core, parts.geom) ORDER BY c.j, c.i),
free AS (SELECT c.area_ha FROM cells c WHERE NOT {held_or_excluded("c", text_array([CELL_REMOVING_EFFECT]))})
SELECT
  json_build_object('area_ha', {_ha("s.area_m2")}, 'depth_top_m', s.depth_top_m,
                    'depth_bottom_m', s.depth_bottom_m, 'geometry', ST_AsGeoJSON(s.geom)::json)::text,
  (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'commodities', commodities,
       'critical_raw_material', critical, 'strategic_raw_material', strategic, 'mdopi_class', mdopi_class,
       'assessment_id', assessment_id, 'depth_top_m', depth_top_m, 'depth_bottom_m', depth_bottom_m,
       'depth_overlap', depth_overlap, 'sterilised', {sterilises} AND depth_overlap,
       'overlap_ha', {_ha("overlap_m2")}, 'geometry', geometry)
       ORDER BY array_position({text_array((*v.MDOPI_CLASSES, UNASSESSED))}, mdopi_class), id), '[]')
   FROM deps)::text,
  (SELECT coalesce(json_agg(json_build_object('zone_id', id, 'name', name, 'overlap_ha', {_ha("overlap_m2")},
       'share', round((overlap_m2 / nullif(zone_m2, 0))::numeric, 6)::float8,
       'depth_top_m', depth_top_m, 'depth_bottom_m', depth_bottom_m, 'depth_overlap', depth_overlap)
       ORDER BY overlap_m2 DESC, id), '[]')
   FROM sg)::text,
  (SELECT coalesce(json_agg(json_build_object('status', status, 'count', n, 'overlap_ha', {_ha("overlap_m2")},
       'registry_numbers', registry_numbers) ORDER BY status), '[]') FROM rights)::text,
  (SELECT json_build_object('count', count(*), 'area_ha', round(coalesce(sum(area_ha), 0)::numeric, 4)::float8)
   FROM free)::text
FROM s
"""
    return SqlQuery(text, tuple(params.values))


def verdict_of(deposits: list[dict], safeguarding: list[dict]) -> str:
    if any(d["sterilised"] and d["mdopi_class"] in CONFLICT_CLASSES for d in deposits):
        return "conflict"
    if deposits or any(z["depth_overlap"] for z in safeguarding):
        return "caution"
    return "clear"


def _summary(deposits: list[dict]) -> dict:
    """Sterilised deposits counted by class and by commodity (with the EU flags)."""
    by_class = {c: 0 for c in (*v.MDOPI_CLASSES, UNASSESSED)}
    by_commodity: dict[str, dict] = {}
    for d in deposits:
        if not d["sterilised"]:
            continue
        by_class[d["mdopi_class"]] += 1
        for code in d["commodities"]:
            commodity = v.COMMODITY_BY_CODE.get(code)
            entry = by_commodity.setdefault(
                code,
                {
                    "commodity": code,
                    "deposits": 0,
                    "critical_raw_material": bool(commodity and commodity.critical),
                    "strategic_raw_material": bool(commodity and commodity.strategic),
                },
            )
            entry["deposits"] += 1
    return {
        "by_class": by_class,
        "by_commodity": sorted(
            by_commodity.values(), key=lambda e: (-e["deposits"], e["commodity"])
        ),
    }


def reasons_for(
    verdict: str, plan: Plan, deposits: list[dict], safeguarding: list[dict]
) -> list[str]:
    reasons = []
    for d in deposits:
        if d["sterilised"]:
            reasons.append(
                f"sterilises deposit {d['id']} ({d['name']}), of {d['mdopi_class']} importance"
            )
        elif not d["depth_overlap"]:
            reasons.append(
                f"over deposit {d['id']} ({d['name']}) but not at its depth (3D rule): not sterilised"
            )
        else:
            reasons.append(
                f"over deposit {d['id']} ({d['name']}); a plan of {plan.legal_effect} effect "
                "does not restrict mining"
            )
    reasons += [
        f"overlaps safeguarding area {z['zone_id']} ({z['name']}) by {z['overlap_ha']} ha"
        + ("" if z["depth_overlap"] else ", but not at its depth (3D rule)")
        for z in safeguarding
    ]
    if verdict == "clear":
        reasons.append("no deposit and no safeguarding area within the plan")
    return reasons


def report_from_row(row, plan: Plan) -> dict:
    """The impact report (a plain dict, ready for JSON, GeoJSON or HTML)."""
    plan_json, deposits, safeguarding, rights, free = (orjson.loads(c) for c in row)
    verdict = verdict_of(deposits, safeguarding)
    return {
        "verdict": verdict,
        "reasons": reasons_for(verdict, plan, deposits, safeguarding),
        "plan": {
            "name": plan.name,
            "land_use": plan.land_use,
            "legal_effect": plan.legal_effect,
            "sterilises": plan.sterilises,
            **plan_json,
        },
        "sterilised": _summary(deposits),
        "deposits": deposits,
        "safeguarding_areas": safeguarding,
        "permits_by_status": rights,
        "free_cells_removed": free,
    }


def rank_alternatives(reports: list[dict]) -> list[dict]:
    """Alternatives, least impact first: verdict, then sterilised deposits by class, then
    safeguarded hectares, then hectares of rights affected."""

    def impact(report: dict) -> tuple:
        by_class = report["sterilised"]["by_class"]
        return (
            v.PLAN_VERDICTS[::-1].index(report["verdict"]),
            *(by_class[c] for c in (*v.MDOPI_CLASSES, UNASSESSED)),
            sum(z["overlap_ha"] for z in report["safeguarding_areas"]),
            sum(r["overlap_ha"] for r in report["permits_by_status"]),
        )

    return sorted(reports, key=impact)
