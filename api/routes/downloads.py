"""GET /downloads/{layer}: a whole layer (or a CQL2-filtered part) as a file, in any export format."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.auth import confirm_remembered_key
from api.params import admin_area, outline_of
from geo.core.errors import NotFound
from geo.io.export_plans import EXPORT_LAYERS, plan_export
from geo.io.exporting import FORMATS, write_export
from geo.queries.areas import AreaRef
from geo.store.db import service_url
from geo.store.viewer import VIEWER

router = APIRouter(tags=["downloads"])


MEDIA_TYPES: dict[str, dict] = {f.media_type: {} for f in FORMATS.values()} | {
    "application/zip": {}
}


@router.get(
    "/downloads/{layer}", response_class=FileResponse, responses={200: {"content": MEDIA_TYPES}}
)
async def download(
    request: Request,
    layer: str,
    format: str = Query("gpkg", description="gpkg, shp (zipped), geojson, fgb, parquet or csv"),
    crs: str | None = Query(
        None, description="Output CRS, e.g. EPSG:25830 (default EPSG:4326 lon/lat)"
    ),
    filter: str | None = Query(None, description="A CQL2 filter on the layer's fields"),
    filter_lang: str = Query(
        "cql2-text", alias="filter-lang", description="cql2-text or cql2-json"
    ),
    filter_crs: str | None = Query(
        None, alias="filter-crs", description="CRS of the filter's geometries"
    ),
    area: AreaRef | None = Depends(admin_area),
):
    """The layer written to a temporary file from the database in batches, then streamed."""
    if layer not in EXPORT_LAYERS:
        raise NotFound(f"no layer {layer!r}; layers: {', '.join(EXPORT_LAYERS)}")
    plan = plan_export(layer, format, crs, filter, filter_lang, filter_crs, outline_of(area))
    await confirm_remembered_key(request)
    folder = Path(tempfile.mkdtemp(prefix="veta-download-"))
    (folder / "data").mkdir()
    path = folder / "data" / f"{layer}{plan.format.suffix}"
    try:
        settings = request.app.state.settings
        await run_in_threadpool(
            write_export,
            service_url(settings),
            plan,
            path,
            statement_timeout_s=settings.statement_timeout_export_s,
            viewer=VIEWER.get(),
        )
        media_type, filename = plan.format.media_type, path.name
        if format == "shp":  # a Shapefile is several files: sent as one zip
            path = Path(shutil.make_archive(str(folder / layer), "zip", folder / "data"))
            media_type, filename = "application/zip", f"{layer}.shp.zip"
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
