"""GET /search: places, deposits and mining rights by name, for the map's search box."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.streaming import GEOJSON
from geo.core.errors import InvalidParameter
from geo.queries.search import search_query

router = APIRouter(tags=["search"])

MIN_LENGTH = 2
MAX_LIMIT = 50


def _feature(row) -> dict:
    kind, key = row["kind"], row["key"]
    properties: dict = {"kind": kind, "title": row["title"]}
    if kind == "area":
        properties |= {"code": key, "level": row["detail"]}
    elif kind == "permit":
        properties |= {"code": key, "status": row["detail"]}
    else:
        properties |= {"id": int(key), "main_commodity": row["detail"]}
    return {
        "type": "Feature",
        # Unique across kinds: an area's INE code and a deposit's id may be the same digits.
        "id": f"{kind}:{key}",
        "bbox": [round(x, 6) for x in row["bbox"]],
        "geometry": orjson.Fragment(row["geometry"]),
        "properties": properties,
    }


@router.get("/search", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
async def search(
    request: Request,
    q: str = Query(
        ...,
        description="Text to find, 2 characters or more, any case or accents: a municipality or "
        "province (leon, ponferrada), a deposit's name, a mining right's name or registry number.",
    ),
    limit: int = Query(10, description=f"Most results, 1 to {MAX_LIMIT}."),
):
    """Admin areas, mining rights and deposits whose name holds `q` (rights also by registry
    number), as GeoJSON features with `kind` (area, permit, deposit), `title`, `code` or `id` and
    a `bbox` to zoom to: names equal to `q` first, then names starting with it, areas before
    rights before deposits."""
    text = q.strip()
    if len(text) < MIN_LENGTH:
        raise InvalidParameter("q", f"{q!r} is too short", f"{MIN_LENGTH} characters or more")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameter("limit", f"{limit} is out of range", f"1 to {MAX_LIMIT}")
    query = search_query(text, limit)
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(query.text, *query.values)
    features = [_feature(row) for row in rows]
    body = {"type": "FeatureCollection", "numberReturned": len(features), "features": features}
    return Response(orjson.dumps(body), media_type=GEOJSON)
