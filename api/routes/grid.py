"""GET /grid/cells (by bbox or point), GET /grid/cells/{id}, GET /grid/free: the cuadrícula."""

from __future__ import annotations

import math

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.feature_lists import feature_list
from api.links import same_query
from api.params import AREA_NAMING, LONLAT_BBOX, parse_bbox, parse_choices
from api.streaming import GEOJSON, collection_bytes, feature_collection_tail
from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter, NotFound
from geo.features.collections import get_collection
from geo.features.items import ItemsQuery
from geo.queries.areas import resolve_area
from geo.queries.grid_cells import (
    GroundQuery,
    area_bounds_query,
    cell_query,
    cells_query,
    check_cap,
    free_query,
)
from geo.rules import cuadricula as grid

router = APIRouter(tags=["grid"])

GRID_DESCRIPTION = (
    "Cells are 20″ × 20″ on the ETRS89 graticule (Ley 22/1973 de Minas, Art. 75–76). A cell's id "
    "is its south-west corner in 20″ units: W01080N07650 is 1080 × 20″ west and 7650 × 20″ north "
    "(6°00′00″W 42°30′00″N). West and south edges belong to the cell; a coordinate within 1e-9° "
    "of a line is on it. Areas are exact on the GRS80 ellipsoid."
)
FREE_DESCRIPTION = (
    "Free ground: the cells meeting the area (sharing a positive area with it) that are held by no "
    "right today (applied, admitted, granted or extended; a right past its expiry no longer holds "
    "ground) and meet no protection zone in force whose legal effect is counted (`legal_effect`, "
    "default exclusion). **A cell partly inside a counted zone is not free**: a cell is "
    "indivisible, so a right on it would take the protected part as well. A cell touching a zone "
    "or right only along its side is free. `cell_count` and `area_ha` total the answer; with "
    "`merge=true` the free cells come merged into polygons of cells joined along full sides. "
    + GRID_DESCRIPTION
)


def _geojson_route(path: str, description: str):
    """A GET of the cuadrícula, answered with GeoJSON the database wrote."""
    return router.get(
        path,
        response_class=Response,
        description=description,
        responses={200: {"content": {GEOJSON: {}}}},
    )


def _parse_point(text: str) -> tuple[float, float]:
    allowed = "lon,lat in degrees (CRS84), e.g. -5.57,42.6"
    parts = text.split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise InvalidParameter("point", f"expected two numbers, got {text!r}", allowed) from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon < 180 and -90 <= lat < 90):
        raise InvalidParameter("point", f"{text!r} is not a lon/lat position", allowed)
    return lon, lat


@_geojson_route("/grid/cells", GRID_DESCRIPTION)
async def list_cells(
    request: Request,
    bbox: str | None = Query(
        None,
        description=f"{LONLAT_BBOX}: every cell whose interior meets the box; "
        "capped (see VETA_GRID_MAX_CELLS).",
    ),
    point: str | None = Query(None, description="lon,lat: the one cell the point falls in."),
):
    """Cells of the cuadrícula minera over a bbox, or the cell of a point."""
    if (bbox is None) == (point is None):
        raise InvalidParameter(
            "bbox",
            "give exactly one of bbox and point",
            "bbox=minLon,minLat,maxLon,maxLat or point=lon,lat",
        )
    if point is not None:
        cell = grid.cell_at(*_parse_point(point))
        i_range, j_range = range(cell.i, cell.i + 1), range(cell.j, cell.j + 1)
    else:
        box = parse_bbox(bbox)
        assert box is not None  # a point or a bbox is required, checked above
        i_range, j_range = grid.cells_in_bbox(*box)
        check_cap(i_range, j_range, request.app.state.settings.grid_max_cells, "bbox", "the bbox")

    every = ItemsQuery(get_collection("grid_cells"), limit=len(i_range) * len(j_range))
    return await feature_list(request, cells_query(every, i_range, j_range), counted=False)


@_geojson_route("/grid/cells/{cell_id}", GRID_DESCRIPTION)
async def get_cell(
    request: Request,
    cell_id: str,
    legal_effect: list[str] | None = Query(
        None, description="Zone legal effects that make a cell not free (default exclusion)."
    ),
):
    """One cell with the rights holding it today, the protection zones in force it meets, and
    whether it is free ground."""
    cell = grid.parse_id(cell_id, "cell_id")
    effects = parse_choices(legal_effect, v.LEGAL_EFFECTS, "legal_effect") or ("exclusion",)
    query = cell_query(cell, effects)
    async with request.app.state.pool.acquire() as conn:
        feature = await conn.fetchval(query.text, *query.values)
    if feature is None:
        raise NotFound(f"no cell {cell_id}")
    return Response(feature, media_type=GEOJSON)


@_geojson_route("/grid/free", FREE_DESCRIPTION)
async def free_ground(
    request: Request,
    area: str | None = Query(None, description=f"{AREA_NAMING}; instead of a bbox."),
    bbox: str | None = Query(None, description=f"{LONLAT_BBOX}, instead of an area."),
    legal_effect: list[str] | None = Query(
        None,
        description="Zone legal effects that make a cell not free, "
        "comma-separated (default exclusion; add conditional to be stricter).",
    ),
    merge: bool = Query(
        False, description="Merge the free cells into polygons (cells joined along full sides)."
    ),
):
    """The free cells of an area or bbox, as cells or merged polygons, with totals."""
    if (area is None) == (bbox is None):
        raise InvalidParameter(
            "area",
            "give exactly one of area and bbox",
            "area=INE code or name, or bbox=minLon,minLat,maxLon,maxLat",
        )
    settings = request.app.state.settings
    effects = parse_choices(legal_effect, v.LEGAL_EFFECTS, "legal_effect") or ("exclusion",)
    pool = request.app.state.pool
    area_ref = None
    async with pool.acquire() as conn:
        if area is not None:
            area_ref = await resolve_area(conn, area)
            bounds_query = area_bounds_query(area_ref.code)
            bounds = tuple(await conn.fetchrow(bounds_query.text, *bounds_query.values))
            check_cap(
                *grid.cells_in_bbox(*bounds),
                settings.grid_max_cells,
                "area",
                f"area {area_ref.name}",
            )
            ground = GroundQuery(area_ref.code, None, effects, merge)
        else:
            box = parse_bbox(bbox)
            assert box is not None  # an area or a bbox is required, checked above
            check_cap(*grid.cells_in_bbox(*box), settings.grid_max_cells, "bbox", "the bbox")
            ground = GroundQuery(None, box, effects, merge)
        query = free_query(ground)
        rows = await conn.fetch(query.text, *query.values)

    members = {
        "cell_count": sum(r[0] for r in rows),
        "area_ha": round(sum(r[1] for r in rows), 2),
        "area": {"code": area_ref.code, "name": area_ref.name, "level": area_ref.level}
        if area_ref
        else None,
        "bbox": list(ground.bbox) if ground.bbox else None,
        "excluding_legal_effects": list(effects),
        "merged": merge,
        **feature_collection_tail(
            len(rows), len(rows), [{"rel": "self", "type": GEOJSON, "href": same_query(request)}]
        ),
    }
    return Response(collection_bytes([r[2] for r in rows], members), media_type=GEOJSON)
