"""The statistics of every raster marked `screening` over a screened site, for its report."""

from __future__ import annotations

import asyncpg
from shapely.geometry import shape
from starlette.concurrency import run_in_threadpool

from geo.core.settings import Settings
from geo.rasters.catalogue import all_rasters
from geo.rasters.sampling import sample_points
from geo.rasters.storage import raster_dir
from geo.rasters.zonal import zonal_statistics


async def screening_raster_statistics(
    pool: asyncpg.Pool, site_geometry: dict, settings: Settings
) -> list[dict]:
    """Zonal statistics of each screening raster over the site (its value there, for a bare
    point site); an empty list when no raster is marked."""
    async with pool.acquire() as conn:
        rasters = await all_rasters(conn, raster_dir(settings), screening_only=True)
    if not rasters:
        return []
    site = shape(site_geometry)

    def compute() -> list[dict]:
        if site.geom_type == "Point":
            return [
                {
                    "raster": r.name,
                    "units": r.units,
                    "values": sample_points(r, [(site.x, site.y)])[0],
                }
                for r in rasters
            ]
        return [zonal_statistics(r, site) for r in rasters]

    return await run_in_threadpool(compute)
