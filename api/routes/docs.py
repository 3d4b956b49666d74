"""GET /api.html: Swagger UI from the swagger-ui-bundle package, so it works without the internet."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

router = APIRouter(include_in_schema=False)
# Mounted under this path by the app factory.
ASSETS = "/static/swagger-ui"
ASSETS_DIR = str(swagger_ui_path)


@router.get("/api.html")
async def api_html(request: Request) -> HTMLResponse:
    """The OpenAPI document, browsable, with its scripts and styles served by Veta itself."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} – API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png")
