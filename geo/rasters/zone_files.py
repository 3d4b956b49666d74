"""`veta raster statistics`: a batch of zonal statistics written to a CSV or GeoJSON file, by the
same steps as POST /rasters/{name}/statistics (zones read as the viewer, measured on shared
worker processes, written as the route writes them)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from geo.core.errors import InvalidParameter
from geo.core.settings import Settings
from geo.rasters.storage import RasterInfo
from geo.rasters.zonal import zonal_statistics_batch
from geo.rasters.zonal_pool import ZonalWorkers
from geo.rasters.zone_batches import Zone, raster_and_zones
from geo.rasters.zone_output import statistics_collection, statistics_csv
from geo.store.db import async_viewer_connection
from geo.store.viewer import Viewer

FORMATS = {".csv": "csv", ".geojson": "geojson", ".json": "geojson"}


def write_statistics(
    settings: Settings,
    url: str,
    viewer: Viewer,
    name: str,
    body: dict,
    output: Path,
    *,
    band: int = 1,
    percentiles: tuple[int, ...] = (),
) -> int:
    """Write the statistics of each zone of `body` (a FeatureCollection or {"deposits": …}) to
    `output`, replaced only once it is whole; how many zones were written."""
    kind = FORMATS.get(output.suffix.lower())
    if kind is None:
        raise InvalidParameter(
            "--output", f"{output.name}: unknown file type", "a .csv, .geojson or .json file"
        )
    info, zones = asyncio.run(_zones(settings, url, viewer, name, body, band))
    workers = ZonalWorkers(settings.raster_workers)
    try:
        statistics = zonal_statistics_batch(
            info,
            [z.lonlat for z in zones],
            band=band,
            percentiles=percentiles,
            as_sent=[z.as_sent for z in zones],
            workers=workers,
        )
    finally:
        workers.close()
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            if kind == "csv":
                out.writelines(statistics_csv(zones, statistics))
            else:
                json.dump(statistics_collection(info, band, zones, statistics), out)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return len(zones)


async def _zones(
    settings: Settings, url: str, viewer: Viewer, name: str, body: dict, band: int
) -> tuple[RasterInfo, list[Zone]]:
    async with async_viewer_connection(url, viewer) as conn:
        return await raster_and_zones(conn, name, body, None, band, settings)
