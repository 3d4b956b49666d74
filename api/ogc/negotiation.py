"""Choosing a response format from `f` or, without it, from the Accept header."""

from __future__ import annotations

from fastapi import Request
from starlette.exceptions import HTTPException

from geo.core.errors import InvalidParameter

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
CSV = "text/csv"
FLATGEOBUF = "application/flatgeobuf"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"

# f value -> media type. f=json gives GeoJSON where the resource is features: GDAL's GeoJSON
# reader (used by QGIS on a URL) and many scripts ask for application/json.
FEATURE_FORMATS = {"json": GEOJSON, "geojson": GEOJSON, "html": HTML, "csv": CSV, "fgb": FLATGEOBUF}
DOCUMENT_FORMATS = {"json": JSON, "html": HTML}
_ACCEPT_ALIASES = {
    JSON: "json",
    GEOJSON: "geojson",
    HTML: "html",
    "application/xhtml+xml": "html",
    CSV: "csv",
    FLATGEOBUF: "fgb",
    SCHEMA: "json",
}


def _accepted(header: str) -> list[tuple[float, int, str]]:
    """(quality, position, media range) of an Accept header, best first."""
    ranges = []
    for position, part in enumerate(header.split(",")):
        media, *params = [x.strip() for x in part.split(";")]
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranges.append((-quality, position, media.lower()))
    return sorted(ranges)


def negotiate(request: Request, formats: dict[str, str]) -> str:
    """The f value to answer with: `f` if given (400 if unknown), else the best Accept match
    (JSON for */* or no Accept; 406 when nothing offered is acceptable)."""
    f = request.query_params.get("f")
    if f is not None:
        if f not in formats:
            raise InvalidParameter("f", f"unknown format {f!r}", list(formats))
        return f
    header = request.headers.get("accept")
    if not header:
        return "json"
    for _, _, media in _accepted(header):
        if media in ("*/*", "application/*"):
            return "json"
        if media == "text/*" and "html" in formats:
            return "html"
        alias = _ACCEPT_ALIASES.get(media)
        if alias in formats:
            return alias
    offered = ", ".join(sorted(set(formats.values())))
    raise HTTPException(
        406, f"none of the accepted media types is offered here; offered: {offered}"
    )


def f_parameter(formats: dict[str, str]) -> dict:
    """The `f` query parameter for the OpenAPI document (it is read by negotiate, not by FastAPI)."""
    return {
        "parameters": [
            {
                "name": "f",
                "in": "query",
                "required": False,
                "description": "Response format; without it, the Accept header decides (JSON by default).",
                "schema": {"type": "string", "enum": list(formats)},
            }
        ]
    }
