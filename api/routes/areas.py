"""GET /areas: administrative areas (INE codes) as GeoJSON."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.feature_lists import feature_list
from api.params import parse_choices
from api.streaming import GEOJSON
from geo.core import vocabulary as v
from geo.features.collections import get_collection
from geo.features.items import ItemsQuery

router = APIRouter(tags=["areas"])
# Every area in one answer: a few thousand municipalities at most.
ALL_AREAS = 100_000


@router.get("/areas", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
async def list_areas(
    request: Request,
    level: str | None = Query(
        None, description="country, autonomous_community, province or municipality"
    ),
):
    """Administrative areas (IGN boundaries, CC BY 4.0) with INE codes and geodesic areas."""
    levels = parse_choices([level] if level else None, v.ADMIN_LEVELS, "level")
    query = ItemsQuery(
        get_collection("admin_areas"),
        limit=ALL_AREAS,
        equals=(("level", levels[0]),) if levels else (),
    )
    return await feature_list(request, query, counted=False)
