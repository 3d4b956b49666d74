"""GET /constraints.tif: the constraint map (legal-effect classes, free ground) as a COG."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.params import AREA_NAMING, settings_of
from geo.core.settings import Settings
from geo.rasters.constraints import fetch_sources, render
from geo.rasters.constraints_run import plan_constraints

router = APIRouter(tags=["rasters"])


@router.get(
    "/constraints.tif", response_class=Response, responses={200: {"content": {"image/tiff": {}}}}
)
async def constraint_map(
    request: Request,
    bbox: str | None = Query(
        None, description="minx,miny,maxx,maxy in `crs` (default: the area's bounds)."
    ),
    area: str | None = Query(None, description=f"{AREA_NAMING}; cells outside it are nodata."),
    crs: str = Query("EPSG:25830", description="A projected CRS Veta serves (URI or EPSG:n)."),
    resolution: float = Query(100.0, description="Cell size in metres."),
    date_: date | None = Query(
        None, alias="date", description="Zones in force on this day (default today)."
    ),
    depth_top_m: float | None = Query(None, description="Top of the depth interval (3D rule)."),
    depth_bottom_m: float | None = Query(None, description="Bottom of the depth interval."),
    layer: Literal["classes", "free_share"] = Query(
        "classes",
        description="classes (the legal effects) or "
        "free_share (percent of each cell in free cuadrícula ground).",
    ),
    settings: Settings = Depends(settings_of),
):
    """The constraint map as a Cloud-Optimised GeoTIFF (uint8, 255 nodata): the most restrictive
    legal effect in force at each cell centre (1 exclusion, 2 conditional, 3 safeguarding,
    4 free; colour table), or with layer=free_share the percentage of each cell that is free
    cuadrícula ground, on the same grid."""
    async with request.app.state.pool.acquire() as conn:
        plan = await plan_constraints(
            conn,
            settings,
            area=area,
            bbox=bbox,
            crs=crs,
            resolution=resolution,
            day=date_,
            depth_top_m=depth_top_m,
            depth_bottom_m=depth_bottom_m,
        )
        zones, free = await fetch_sources(conn, plan, with_free=layer == "free_share")
    scratch = Path(tempfile.mkdtemp(prefix="veta-constraints-"))
    classes = scratch / "classes.tif"
    output = classes if layer == "classes" else scratch / "free_share.tif"
    try:
        await run_in_threadpool(
            render, plan, zones, free, classes, None if layer == "classes" else output
        )
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    # Sent from disk and deleted once sent: a province at 25 m is hundreds of megabytes.
    return FileResponse(
        output,
        media_type="image/tiff; application=geotiff; profile=cloud-optimized",
        filename=f"constraints-{layer}.tif",
        background=BackgroundTask(shutil.rmtree, scratch, True),
    )
