"""GET /deposits: the headline search, and GET /deposits/{id}."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.feature_lists import LIST_ROUTE, feature_list
from api.list_params import items_of
from api.params import COMMODITY_DESCRIPTION, parse_choices, parse_commodities
from api.streaming import GEOJSON
from geo.core import vocabulary as v
from geo.core.errors import NotFound
from geo.core.limits import path_id
from geo.features.items import ItemsQuery
from geo.queries.deposits import DepositSearch, deposit_query, one_query

router = APIRouter(tags=["deposits"])
# The shared parameters (bbox, limit, cursor, area) of a list over the deposits collection.
deposit_items = items_of("deposits")


def deposit_search(
    commodity: list[str] | None = Query(None, description=COMMODITY_DESCRIPTION),
    protection: Literal["any", "inside", "outside"] = Query(
        "any",
        description="outside: no counted zone constrains the deposit; inside: at least one does. A deposit on a zone boundary is inside.",
    ),
    legal_effect: list[str] | None = Query(
        None,
        description="Legal effects that count for `protection` (default exclusion,conditional).",
    ),
    mdopi: list[str] | None = Query(
        None,
        description="MDoPI classes of the latest assessment, comma-separated "
        "(eu, national, regional, local, none).",
    ),
) -> DepositSearch:
    """FastAPI dependency: the search's own terms (the shared ones come with the items query)."""
    return DepositSearch(
        commodities=parse_commodities(commodity),
        protection=protection,
        legal_effects=parse_choices(legal_effect, v.LEGAL_EFFECTS, "legal_effect")
        or v.RESTRICTING_LEGAL_EFFECTS,
        mdopi=parse_choices(mdopi, v.MDOPI_CLASSES, "mdopi"),
    )


@router.get("/deposits", **LIST_ROUTE)
async def list_deposits(
    request: Request,
    query: ItemsQuery = Depends(deposit_items),
    search: DepositSearch = Depends(deposit_search),
):
    """Deposits as a GeoJSON FeatureCollection: *which tungsten or lithium deposits in León lie
    outside protected areas?* is `?commodity=W,Li&area=leon&protection=outside`."""
    return await feature_list(request, deposit_query(query, search))


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
