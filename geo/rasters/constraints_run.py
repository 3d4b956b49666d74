"""`veta constraints`: the constraint map of an area or box written to a file, optionally registered."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from geo.core.crs import parse_crs
from geo.core.errors import InvalidParameter
from geo.core.settings import Settings
from geo.rasters.constraints import (
    ConstraintRequest,
    area_bbox,
    check_request,
    fetch_sources,
    render,
)

BBOX_RULE = "minx,miny,maxx,maxy: four numbers in the CRS"


def parse_projected_bbox(text: str, parameter: str = "bbox") -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InvalidParameter(parameter, f"{text!r} is not four numbers", BBOX_RULE) from None
    if len(values) != 4:
        raise InvalidParameter(parameter, f"{len(values)} numbers", BBOX_RULE)
    return values


async def plan_constraints(
    conn,
    settings: Settings,
    *,
    area: str | None,
    bbox: str | None,
    crs: str,
    resolution: float,
    day: date | None,
    depth_top_m: float | None,
    depth_bottom_m: float | None,
) -> ConstraintRequest:
    """The checked request: the box from `bbox` or the area's bounds, the area's outline."""
    from geo.queries.areas import resolve_area

    map_crs = parse_crs(crs, "crs")
    if map_crs.geographic:
        raise InvalidParameter(
            "crs", f"{map_crs.label} is not projected", "a projected CRS in metres, e.g. EPSG:25830"
        )
    outline = None
    if area is None and bbox is None:
        raise InvalidParameter(
            "bbox", "neither a box nor an area given", "bbox=minx,miny,maxx,maxy or area=…"
        )
    if area is not None:
        ref = await resolve_area(conn, area)
        outline = bytes(ref.outline)
    if bbox is not None:
        box = parse_projected_bbox(bbox)
    else:
        box = await area_bbox(conn, ref.code, map_crs)
    request = ConstraintRequest(
        box, map_crs, resolution, day or date.today(), depth_top_m, depth_bottom_m, outline
    )
    return check_request(request, settings.constraints_max_cells)


def run_constraints(
    settings: Settings,
    output: Path,
    *,
    free_share_output: Path | None = None,
    register: str | None = None,
    **options,
) -> str:
    """Render the classes to `output`, the free-ground share to `free_share_output` when given,
    and register the classes as `register`; a one-line summary."""
    import asyncpg

    from geo.store.db import database_url, libpq_url, sync_engine

    url = database_url(settings)

    async def prepare():
        conn = await asyncpg.connect(libpq_url(url))
        try:
            request = await plan_constraints(conn, settings, **options)
            return request, *await fetch_sources(
                conn, request, with_free=free_share_output is not None
            )
        finally:
            await conn.close()

    request, zones, free = asyncio.run(prepare())
    output = Path(output).resolve()
    render(
        request,
        zones,
        free,
        output,
        Path(free_share_output).resolve() if free_share_output else None,
    )
    rows, cols = request.shape
    summary = f"{output}: {cols} x {rows} cells of {request.resolution:g} m, {request.crs.label}, zones in force on {request.day}"
    if register:
        from geo.rasters.storage import register as register_raster

        engine = sync_engine(url)
        try:
            register_raster(
                engine,
                settings,
                output,
                register,
                title=f"Constraint map, {request.day}",
                description="Legal-effect classes in force: 1 exclusion, 2 conditional, 3 safeguarding, "
                "4 free",
                source="veta constraints",
                categorical=True,
            )
        finally:
            engine.dispose()
        summary += f"; registered as {register}"
    return summary
