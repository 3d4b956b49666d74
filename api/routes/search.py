"""GET /search: places, deposits and mining rights by name or registry number, for the map's
search box and anyone else."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.streaming import GEOJSON
from geo.queries.search import search_query

router = APIRouter(tags=["search"])


@router.get("/search", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
async def search(
    request: Request,
    q: str = Query(..., description="A name (any case, any accents) or a registry number."),
    limit: int = Query(10, ge=1, le=100, description="The most results."),
):
    """Municipalities, provinces, deposits and rights matching q, those that start with it first;
    each a Feature with its `bbox` (to zoom to), a point on it and its kind, id and title."""
    query = search_query(q, limit)
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(query.text, *query.values)
    body = '{"type":"FeatureCollection","features":[' + ",".join(r[3] for r in rows) + "]}"
    return Response(body, media_type=GEOJSON)
