"""GET /map: the web map page; its script, styles and MapLibre GL JS are Veta's own static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["map"])


@router.get("/map", response_class=FileResponse, responses={200: {"content": {"text/html": {}}}})
async def web_map() -> FileResponse:
    """The web map: protection zones, mining rights and deposits from Veta's vector tiles;
    filters, popups and site screening by drawing a polygon or clicking a deposit."""
    return FileResponse(STATIC_DIR / "map" / "index.html", media_type="text/html")
