"""GET /api.html (Swagger UI from the swagger-ui-bundle package) and GET /redoc.html (ReDoc,
vendored in api/static/vendor/redoc): the API's pages work without the internet."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from api.security_headers import content_security_policy

router = APIRouter(include_in_schema=False)
# Mounted under this path by the app factory.
ASSETS = "/static/swagger-ui"
ASSETS_DIR = str(swagger_ui_path)
# Swagger UI's page with its start in a script file of Veta's (api/static/docs), not inline as
# FastAPI writes it: the pages' content security policy runs no inline script.
SWAGGER_UI_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/docs/swagger_ui.js"></script>
</body>
</html>
"""
# ReDoc's menu shows its maker's logo from their CDN, unconditionally: the browser is told to load
# nothing from elsewhere (ReDoc then drops the image). Its styles are inline, its search a blob worker.
REDOC_CSP = content_security_policy(
    script_src=("blob:",), style_src=("'unsafe-inline'",), font_src=("data:",)
)


@router.get("/api.html")
async def api_html(request: Request) -> HTMLResponse:
    """The OpenAPI document, browsable, with its scripts and styles served by Veta itself."""
    return HTMLResponse(
        SWAGGER_UI_PAGE.format(
            title=escape(f"{request.app.title} – API"),
            assets=ASSETS,
            openapi_url=escape(request.app.openapi_url or ""),
        )
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
