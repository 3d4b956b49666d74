"""GET /deposits: the headline search, and GET /deposits/{id}."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.links import same_query
from api.params import (
    admin_area,
    outline_of,
    parse_bbox,
    parse_choices,
    parse_commodities,
    parse_cursor,
    parse_limit,
    settings_of,
)
from api.streaming import GEOJSON, feature_collection_tail, stream_features
from geo.core import vocabulary as v
from geo.core.errors import NotFound
from geo.core.limits import path_id
from geo.core.settings import Settings
from geo.queries.areas import AreaRef
from geo.queries.deposits import DepositSearch, count_query, one_query, page_query

router = APIRouter(tags=["deposits"])


async def deposit_search(
    request: Request,
    commodity: list[str] | None = Query(
        None,
        description="INSPIRE commodity code, name (English or Spanish), symbol or formula, any case; comma-separated or repeated (W,Li). A broader commodity finds its narrower ones (PGM, REE, aggregate).",
    ),
    area: AreaRef | None = Depends(admin_area),
    protection: Literal["any", "inside", "outside"] = Query(
        "any",
        description="outside: no counted zone constrains the deposit; inside: at least one does. A deposit on a zone boundary is inside.",
    ),
    legal_effect: list[str] | None = Query(
        None,
        description="Legal effects that count for `protection` (default exclusion,conditional).",
    ),
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat (CRS84)."),
    limit: int | None = Query(None, description="Features per page: default 100, maximum 10,000."),
    cursor: str | None = Query(None, description="Paging cursor; take it from the `next` link."),
    mdopi: list[str] | None = Query(
        None,
        description="MDoPI classes of the latest assessment, comma-separated "
        "(eu, national, regional, local, none).",
    ),
    settings: Settings = Depends(settings_of),
) -> DepositSearch:
    return DepositSearch(
        commodities=parse_commodities(commodity),
        area=outline_of(area),
        protection=protection,
        legal_effects=parse_choices(legal_effect, v.LEGAL_EFFECTS, "legal_effect")
        or v.RESTRICTING_LEGAL_EFFECTS,
        bbox=parse_bbox(bbox),
        limit=parse_limit(limit, settings),
        after_id=parse_cursor(cursor),
        mdopi=parse_choices(mdopi, v.MDOPI_CLASSES, "mdopi"),
    )


@router.get("/deposits", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
async def list_deposits(request: Request, search: DepositSearch = Depends(deposit_search)):
    """Deposits as a GeoJSON FeatureCollection: *which tungsten or lithium deposits in León lie
    outside protected areas?* is `?commodity=W,Li&area=leon&protection=outside`."""

    def tail(returned, next_key, matched):
        links = [{"rel": "self", "type": GEOJSON, "href": same_query(request)}]
        if next_key is not None:
            links.append(
                {"rel": "next", "type": GEOJSON, "href": same_query(request, cursor=next_key)}
            )
        return feature_collection_tail(returned, matched, links)

    return await stream_features(
        request.app.state.pool,
        page_query(search),
        search.limit,
        count_query(search),
        tail,
        counts=request.app.state.counts,
    )


@router.get(
    "/deposits/{deposit_id}", response_class=Response, responses={200: {"content": {GEOJSON: {}}}}
)
async def get_deposit(request: Request, deposit_id: int):
    """One deposit as a GeoJSON Feature with all its attributes."""
    query = one_query(path_id(deposit_id, "deposit with id"))
    async with request.app.state.pool.acquire() as conn:
        feature = await conn.fetchval(query.text, *query.values)
    if feature is None:
        raise NotFound(f"no deposit with id {deposit_id}")
    return Response(feature, media_type=GEOJSON)
