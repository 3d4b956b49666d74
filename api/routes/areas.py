"""GET /areas: administrative areas (INE codes) as GeoJSON."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.links import same_query
from api.params import parse_choices
from api.streaming import GEOJSON, feature_collection_tail, stream_features
from geo.core import vocabulary as v
from geo.queries.areas import areas_query

router = APIRouter(tags=["areas"])


@router.get("/areas", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
async def list_areas(
    request: Request,
    level: str | None = Query(
        None, description="country, autonomous_community, province or municipality"
    ),
):
    """Administrative areas (IGN boundaries, CC BY 4.0) with INE codes and geodesic areas."""
    levels = parse_choices([level] if level else None, v.ADMIN_LEVELS, "level")
    query = areas_query(levels[0] if levels else None)

    def tail(returned, _next_key, _matched):
        return feature_collection_tail(
            returned, returned, [{"rel": "self", "type": GEOJSON, "href": same_query(request)}]
        )

    return await stream_features(request.app.state.pool, query, 100_000, None, tail)
