"""GET /permits (the registry, also as of a past day), one right, its history and conflicts,
and POST /permits/validate (is a right's geometry well formed?). Writes go through the CLI."""

from __future__ import annotations

import orjson
import shapely
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from shapely.geometry import shape

from api.feature_lists import LIST_ROUTE, feature_list
from api.list_params import items_of
from api.params import AREA_NAMING, parse_choices, parse_day
from api.streaming import GEOJSON
from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter, NotFound
from geo.core.limits import check_vertices, path_id
from geo.features.items import ItemsQuery
from geo.queries.grid_cells import check_cap
from geo.queries.permits import (
    CONFLICT_REASONS,
    PermitSearch,
    conflicts_query,
    history_query,
    one_query,
    permit_query,
    summary_query,
)
from geo.rules import cuadricula as grid
from geo.rules.permit_rules import validate_right

STATUS_HELP = "Effective status on the day, comma-separated: " + ", ".join(v.PERMIT_STATUSES)
RIGHT_TYPE_HELP = "Right types, comma-separated: " + ", ".join(v.RIGHT_TYPES)

router = APIRouter(tags=["permits"])


def permit_search(
    as_of: str | None = Query(
        None,
        description="Read the registry as it stood on this day (YYYY-MM-DD), "
        "from the history of every right; statuses are read with that day's lapse rule.",
    ),
    status: list[str] | None = Query(
        None,
        description=STATUS_HELP + ". A granted or extended right past "
        "its expires_on date reads as lapsed.",
    ),
    right_type: list[str] | None = Query(None, description=RIGHT_TYPE_HELP),
) -> PermitSearch:
    """FastAPI dependency: the registry query's own terms (the shared ones come with the items query)."""
    return PermitSearch(
        as_of=parse_day(as_of, "as_of"),
        statuses=parse_choices(status, v.PERMIT_STATUSES, "status"),
        right_types=parse_choices(right_type, v.RIGHT_TYPES, "right_type"),
    )


# The shared parameters of a list over the permits collection; `area` is shared ground.
permit_items = items_of(
    "permits",
    f"{AREA_NAMING}; the rights sharing ground with it.",
)


@router.get("/permits", **LIST_ROUTE)
async def list_permits(
    request: Request,
    query: ItemsQuery = Depends(permit_items),
    search: PermitSearch = Depends(permit_search),
):
    """Mining rights with their status as it reads today, or `as_of` a past day. Each has its
    number of cuadrículas and its geodesic area."""
    return await feature_list(request, permit_query(query, search))


async def _fetch_one(request: Request, query) -> str | None:
    async with request.app.state.pool.acquire() as conn:
        return await conn.fetchval(query.text, *query.values)


async def _permit_or_404(request: Request, permit_id: int) -> dict:
    found = await _fetch_one(request, summary_query(path_id(permit_id, "right with id")))
    if found is None:
        raise NotFound(f"no right with id {permit_id}")
    return orjson.loads(found)


@router.get(
    "/permits/{permit_id}", response_class=Response, responses={200: {"content": {GEOJSON: {}}}}
)
async def get_permit(request: Request, permit_id: int):
    """One right as a GeoJSON Feature with all its attributes."""
    feature = await _fetch_one(request, one_query(path_id(permit_id, "right with id")))
    if feature is None:
        raise NotFound(f"no right with id {permit_id}")
    return Response(feature, media_type=GEOJSON)


@router.get("/permits/{permit_id}/history")
async def permit_history(request: Request, permit_id: int):
    """Every recorded change of a right, oldest first: when it was recorded, the day it took
    effect, who made it, and each changed field before and after."""
    permit = await _permit_or_404(request, permit_id)
    query = history_query(permit_id)
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(query.text, *query.values)
    body = (
        b'{"permit":'
        + orjson.dumps(permit)
        + b',"changes":['
        + b",".join(r[0].encode() for r in rows)
        + b"]}"
    )
    return Response(body, media_type="application/json")


CONFLICTS_DESCRIPTION = (
    "The rights standing in this right's way, one Feature each whose geometry is the shared "
    "cells, with their ids, count and hectares. Reasons: "
    + "; ".join(f"`{k}`: {d}" for k, d in CONFLICT_REASONS.items())
    + ". Other rights count while they hold ground today (applied, admitted, granted, extended); "
    "sharing only a side is not sharing a cell."
)


@router.get(
    "/permits/{permit_id}/conflicts",
    response_class=Response,
    description=CONFLICTS_DESCRIPTION,
    responses={200: {"content": {GEOJSON: {}}}},
)
async def permit_conflicts(request: Request, permit_id: int):
    permit = await _permit_or_404(request, permit_id)
    return await feature_list(
        request, conflicts_query(permit_id), counted=False, members={"permit": permit}
    )


VALIDATE_EXAMPLE = {
    "type": "Feature",
    "properties": {"right_type": "investigation"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [
                [-6.3, 42.9333333333],
                [-6.2777777778, 42.9333333333],
                [-6.2777777778, 42.95],
                [-6.3, 42.95],
                [-6.3, 42.9333333333],
            ]
        ],
    },
}


def _geometry_and_type(body: dict, right_type: str | None) -> tuple[shapely.Geometry, str]:
    allowed = "a GeoJSON Polygon or MultiPolygon, or a Feature of one with properties.right_type"
    if not isinstance(body, dict) or "type" not in body:
        raise InvalidParameter("body", "not a GeoJSON object", allowed)
    if body["type"] == "Feature":
        declared = (body.get("properties") or {}).get("right_type")
        if declared and right_type and declared != right_type:
            raise InvalidParameter(
                "right_type",
                f"the query says {right_type!r}, the Feature {declared!r}",
                "one right type, in either place",
            )
        right_type = right_type or declared
        body = body.get("geometry")  # type: ignore[assignment]  # checked just below
        if not isinstance(body, dict):
            raise InvalidParameter("body.geometry", "the Feature has no geometry", allowed)
    if body.get("type") not in ("Polygon", "MultiPolygon"):
        raise InvalidParameter("body", f"a right is an area, got {body.get('type')!r}", allowed)
    check_vertices(body.get("coordinates"), "body")
    try:
        geometry = shape(body)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise InvalidParameter("body", f"malformed {body['type']}: {exc}", allowed) from None
    west, south, east, north = geometry.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidParameter(
            "body",
            "coordinates are not lon/lat",
            "longitude within ±180, latitude within ±90 (EPSG:4326)",
        )
    if right_type is None:
        raise InvalidParameter(
            "right_type",
            "missing: give it as a query parameter or in the Feature's properties",
            v.RIGHT_TYPES,
        )
    return geometry, right_type


# A plain function: FastAPI runs it in a worker thread, so a large right never stalls the loop.
@router.post("/permits/validate")
def validate_permit(
    request: Request,
    body: dict = Body(..., examples=[VALIDATE_EXAMPLE]),
    right_type: str | None = Query(
        None, description="Right type, if the body is a bare geometry: " + ", ".join(v.RIGHT_TYPES)
    ),
):
    """Check a right's geometry against the cuadrícula: vertices on 20″ lines (within 1e-7°),
    whole cells, cells joined along full sides (a corner is not a join), and the number of cells
    allowed for its type. Every problem found is listed; `proposal` is the cell-aligned right
    the geometry snaps to (the cells it covers at least half of), which may have problems of
    its own (they are listed too). Answers 200 whether or not the right is valid."""
    geometry, kind = _geometry_and_type(body, right_type)
    settings = request.app.state.settings
    check_cap(
        *grid.cells_in_bbox(*geometry.bounds), settings.grid_max_cells, "body", "the right's bbox"
    )
    result = validate_right(geometry, kind, settings.right_cell_limits)
    low, high = result.limits
    # A Feature's own properties travel with its proposal.
    given = (body.get("properties") if body.get("type") == "Feature" else None) or {}
    proposal = {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(result.proposal_geometry())
        if result.proposal
        else None,
        "properties": {
            **given,
            "right_type": kind,
            "cell_count": len(result.proposal),
            "area_ha": round(result.area_ha, 4),
            "cells": [c.id for c in result.proposal],
        },
    }
    return {
        "valid": result.valid,
        "right_type": kind,
        "cell_limits": {"min": low, "max": high},
        "cell_count": len(result.proposal),
        "area_ha": round(result.area_ha, 4),
        "problems": [
            {"code": p.code, "message": p.message, "cells": list(p.cells)} for p in result.problems
        ],
        "proposal": proposal,
    }
