"""GET /api.html (Swagger UI from the swagger-ui-bundle package) and GET /redoc.html (ReDoc,
vendored in api/static/vendor/redoc): the API's pages work without the internet."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

router = APIRouter(include_in_schema=False)
# Mounted under this path by the app factory.
ASSETS = "/static/swagger-ui"
ASSETS_DIR = str(swagger_ui_path)
# ReDoc's menu shows its maker's logo from their CDN, unconditionally: the browser is told to load
# nothing from elsewhere (ReDoc then drops the image). Its styles are inline, its search a blob worker.
REDOC_CSP = (
    "default-src 'self'; script-src 'self' blob:; worker-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:"
)


@router.get("/api.html")
async def api_html(request: Request) -> HTMLResponse:
    """The OpenAPI document, browsable, with its scripts and styles served by Veta itself."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} – API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
    )


@router.get("/redoc.html")
async def redoc_html(request: Request) -> HTMLResponse:
    """The OpenAPI document as a ReDoc reference, with no web fonts or scripts from elsewhere."""
    page = get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} – API reference",
        redoc_js_url="/static/vendor/redoc/redoc.standalone.js",
        redoc_favicon_url="data:,",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = REDOC_CSP
    return page
