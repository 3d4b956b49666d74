"""GET /map: the web map page; its script, styles and MapLibre GL JS are Veta's own static files.
GET /map/labels: where the map writes the names of the admin areas."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response

from api.security_headers import content_security_policy
from api.streaming import GEOJSON
from geo.queries.place_labels import place_labels_query

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
# The hosts of the online basemaps the user may choose (api/static/map/basemaps.js): the IGN's
# WMTS (IGN Base, PNOA orthophoto) and OpenStreetMap's tiles. The pages' policy plus these,
# for images and for the fetches MapLibre loads tiles with; nothing else leaves Veta.
BASEMAP_HOSTS = ("https://www.ign.es", "https://tile.openstreetmap.org")
MAP_CSP = content_security_policy(connect_src=BASEMAP_HOSTS, img_src=BASEMAP_HOSTS)
# Boundaries change with an import, rarely: a minute, as the tiles.
LABELS_CACHE = "public, max-age=60"

router = APIRouter(tags=["map"])


@router.get("/map", response_class=FileResponse, responses={200: {"content": {"text/html": {}}}})
async def web_map(
    # A shared link's state, applied by the page's script (api/static/map/map.js), which writes
    # them as the user works; the view (zoom/lat/lon) travels in the hash.
    commodity: str | None = Query(None, description="Commodity codes shown, comma-separated."),
    protection: str | None = Query(None, description="Protection statuses shown, comma-separated."),
    area: str | None = Query(None, description="INE code of the area filter."),
    layers: str | None = Query(None, description="Layers switched on, comma-separated."),
    basemap: str | None = Query(
        None, description="The basemap: offline (default), ign-base, pnoa or osm."
    ),
) -> FileResponse:
    """The web map: protection zones, mining rights and deposits from Veta's vector tiles;
    filters, popups and site screening by drawing a polygon or clicking a deposit. The address
    carries the filters, layers and basemap (query) and the view (hash), so a copied link
    restores them."""
    return FileResponse(
        STATIC_DIR / "map" / "index.html",
        media_type="text/html",
        headers={"Content-Security-Policy": MAP_CSP},
    )


@router.get("/map/labels", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
async def place_labels(request: Request) -> Response:
    """The label point of every admin area (code, name, level, area_ha): the centre of the
    largest circle inside its outline, where the web map writes its name."""
    query = place_labels_query()
    async with request.app.state.pool.acquire() as conn:
        body = await conn.fetchval(query.text, *query.values)
    return Response(body, media_type=GEOJSON, headers={"Cache-Control": LABELS_CACHE})
