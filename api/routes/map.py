"""GET /map: the web map page; its script, styles and MapLibre GL JS are Veta's own static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from api.security_headers import content_security_policy

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# The pages' policy, but the map may also fetch the OpenStreetMap basemap's tiles (api/static/map/
# map.js), which the user switches on.
BASEMAP_TILES = "https://tile.openstreetmap.org"
MAP_CSP = content_security_policy(connect_src=(BASEMAP_TILES,), img_src=(BASEMAP_TILES,))

router = APIRouter(tags=["map"])


@router.get("/map", response_class=FileResponse, responses={200: {"content": {"text/html": {}}}})
async def web_map(
    # A shared link's state, applied by the page's script (api/static/map/map.js), which writes
    # them as the user works; the view (zoom/lat/lon) travels in the hash.
    commodity: str | None = Query(None, description="Commodity codes shown, comma-separated."),
    protection: str | None = Query(None, description="Protection statuses shown, comma-separated."),
    area: str | None = Query(None, description="INE code of the area filter."),
    layers: str | None = Query(None, description="Layers switched on, comma-separated."),
) -> FileResponse:
    """The web map: protection zones, mining rights and deposits from Veta's vector tiles;
    filters, popups and site screening by drawing a polygon or clicking a deposit. The address
    carries the filters and layers (query) and the view (hash), so a copied link restores them."""
    return FileResponse(
        STATIC_DIR / "map" / "index.html",
        media_type="text/html",
        headers={"Content-Security-Policy": MAP_CSP},
    )
