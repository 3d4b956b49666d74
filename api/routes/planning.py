"""POST /planning/impact (one plan), POST /planning/impact/batch (alternatives), GET /deposits/{id}/assessments."""

from __future__ import annotations

from typing import Literal

import orjson
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from api.body_parsing import json_body_openapi, parse_body
from api.kept_reports import REPORT_CONTENT, keep_and_answer
from api.params import settings_of
from api.planning_output import alternatives_json
from geo.core.errors import NotFound
from geo.core.settings import Settings
from geo.planning.impact import impact_query, rank_alternatives, report_from_row
from geo.planning.plans import parse_alternatives, parse_plan

router = APIRouter(tags=["planning"])
MAX_ALTERNATIVES = 20
PLAN_EXAMPLE = {
    "type": "Feature",
    "properties": {
        "name": "Solar park",
        "land_use": "energy",
        "legal_effect": "exclusion",
        "depth_top_m": 0,
        "depth_bottom_m": 5,
    },
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[-6.80, 42.45], [-6.74, 42.45], [-6.74, 42.49], [-6.80, 42.49], [-6.80, 42.45]]
        ],
    },
}
PLAN_FORMS = (
    "a GeoJSON Feature of a Polygon or MultiPolygon with `land_use` and `legal_effect` properties "
    "(a FeatureCollection of them for alternatives)"
)
CRS_HEADER = Header(
    None, alias="Content-Crs", description="CRS of the body's coordinates; default CRS84."
)


async def _impact(request: Request, plan) -> dict:
    query = impact_query(plan)
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(query.text, *query.values)
    return report_from_row(row, plan)


@router.post(
    "/planning/impact",
    response_class=Response,
    openapi_extra=json_body_openapi(PLAN_EXAMPLE),
    responses={200: {"content": REPORT_CONTENT}},
)
async def plan_impact(
    request: Request,
    f: Literal["json", "geojson", "html", "pdf"] = Query(
        "json",
        description="json (the report), geojson (the plan "
        "and the deposits under it), html (a printable report) or pdf (that page printed).",
    ),
    content_crs: str | None = CRS_HEADER,
    settings: Settings = Depends(settings_of),
):
    """What a proposed plan would sterilise: the deposits under it by MDoPI class and commodity
    (with the 3D rule), the safeguarding areas it overlaps, the mining rights by status, the
    free cuadrículas it would remove, and a verdict (conflict, caution, clear). The body is a
    GeoJSON Feature of a Polygon or MultiPolygon whose properties give `land_use`,
    `legal_effect` and optionally `name`, `depth_top_m`, `depth_bottom_m`."""
    plan = await parse_body(
        await request.body(), parse_plan, PLAN_FORMS, content_crs, settings.screening_max_area_km2
    )
    report = await _impact(request, plan)
    return await keep_and_answer(request, "plan_impact", report, f)


@router.post(
    "/planning/impact/batch",
    response_class=Response,
    openapi_extra=json_body_openapi({"type": "FeatureCollection", "features": [PLAN_EXAMPLE]}),
)
async def plan_alternatives(
    request: Request,
    content_crs: str | None = CRS_HEADER,
    settings: Settings = Depends(settings_of),
):
    """Several alternatives for the same plan (a FeatureCollection of plans, at most 20), each
    with its impact report, the least-impact alternative first."""
    plans = await parse_body(
        await request.body(),
        parse_alternatives,
        PLAN_FORMS,
        content_crs,
        settings.screening_max_area_km2,
        MAX_ALTERNATIVES,
    )
    reports = [await _impact(request, plan) for plan in plans]
    return Response(alternatives_json(rank_alternatives(reports)), media_type="application/json")


@router.get("/deposits/{deposit_id}/assessments", response_class=Response)
async def deposit_assessments(request: Request, deposit_id: int):
    """Every MDoPI assessment of a deposit, newest first: method name and version, as-of date,
    per-dimension scores, class, the inputs it saw and the reasons."""
    async with request.app.state.pool.acquire() as conn:
        if not await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM deposits WHERE id = $1)", deposit_id
        ):
            raise NotFound(f"no deposit with id {deposit_id}")
        text = await conn.fetchval(
            "SELECT coalesce(json_agg(json_build_object('id', id, 'method_name', method_name, "
            "'method_version', method_version, 'as_of', as_of, 'assessed_at', assessed_at, "
            "'scores', json_build_object('geological', geological, 'technical_economic', technical_economic, "
            "'land_use', land_use, 'societal', societal), 'score', score, 'mdopi_class', mdopi_class, "
            "'inputs', inputs, 'reasons', reasons) ORDER BY id DESC), '[]')::text "
            "FROM deposit_assessments WHERE deposit_id = $1",
            deposit_id,
        )
    body = {"deposit_id": deposit_id, "assessments": orjson.loads(text)}
    return Response(orjson.dumps(body), media_type="application/json")
