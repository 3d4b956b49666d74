"""The JSON documents of OGC API – Features: landing page, conformance, collection metadata, links."""

from __future__ import annotations

from fastapi import Request

from api.links import base_url, same_query
from api.ogc.negotiation import CSV, FLATGEOBUF, GEOJSON, HTML, JSON, OPENAPI, SCHEMA
from geo.core.crs import STORAGE, SUPPORTED
from geo.editing.records import allowed_methods
from geo.features.collections import Collection
from geo.features.cql2 import CONFORMANCE_CLASSES as CQL2_CLASSES
from geo.store.viewer import VIEWER

_FEATURES_1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
REL_CONFORMANCE = "http://www.opengis.net/def/rel/ogc/1.0/conformance"
REL_DATA = "http://www.opengis.net/def/rel/ogc/1.0/data"
REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
REL_TILESETS = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
REL_TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"

# Exactly what is implemented: Part 1 (core, GeoJSON, HTML, OpenAPI 3.0), Part 2 (crs), Part 3
# and CQL2 as geo.features.cql2 implements them, queryables as query parameters (?name=value) and sortby.
CONFORMANCE = [
    _FEATURES_1 + "core",
    _FEATURES_1 + "geojson",
    _FEATURES_1 + "html",
    _FEATURES_1 + "oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    *CQL2_CLASSES,
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
]

ITEM_FORMATS = (
    ("geojson", GEOJSON, "GeoJSON"),
    ("html", HTML, "HTML"),
    ("csv", CSV, "CSV (WKT geometry)"),
    ("fgb", FLATGEOBUF, "FlatGeobuf"),
)


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    entry = {"href": href, "rel": rel, "type": type_}
    if title:
        entry["title"] = title
    return entry


def self_links(request: Request, json_type: str = JSON) -> list[dict]:
    """self in the format answered, alternate in the other (JSON or HTML)."""
    f = request.query_params.get("f")
    html = f == "html"
    return [
        link(
            same_query(request, f="html" if html else "json"), "self", HTML if html else json_type
        ),
        link(
            same_query(request, f="json" if html else "html"),
            "alternate",
            json_type if html else HTML,
        ),
    ]


def landing(request: Request) -> dict:
    root = base_url(request)
    app = request.app
    return {
        "title": app.title,
        "description": app.description,
        "links": [
            link(f"{root}/", "self", JSON, "This document"),
            link(f"{root}/?f=html", "alternate", HTML, "This document as HTML"),
            link(f"{root}/api", "service-desc", OPENAPI, "The API definition (OpenAPI 3.0)"),
            link(f"{root}/redoc.html", "service-doc", HTML, "The API reference (ReDoc)"),
            link(f"{root}/api.html", "service-doc", HTML, "The API documentation"),
            link(f"{root}/conformance", "conformance", JSON, "Conformance classes implemented"),
            link(f"{root}/conformance", REL_CONFORMANCE, JSON, "Conformance classes implemented"),
            link(f"{root}/collections", "data", JSON, "The feature collections"),
            link(f"{root}/collections", REL_DATA, JSON, "The feature collections"),
            link(
                f"{root}/tileMatrixSets",
                REL_TILING_SCHEMES,
                JSON,
                "Tiling schemes of the vector tiles",
            ),
            link(f"{root}/map", "related", HTML, "The web map"),
        ],
    }


def collection_doc(request: Request, collection: Collection, extent: tuple) -> dict:
    """One collection's metadata; extent is (xmin, ymin, xmax, ymax, first, last) from SQL."""
    href = f"{base_url(request)}/collections/{collection.id}"
    items = f"{href}/items"
    links = [
        link(href, "self", JSON, "This collection"),
        link(f"{href}?f=html", "alternate", HTML, "This collection as HTML"),
        *(
            link(
                f"{items}?f={f}" if f != "geojson" else items,
                "items",
                media,
                f"Features as {title}",
            )
            for f, media, title in ITEM_FORMATS
        ),
        link(f"{href}/queryables", REL_QUERYABLES, SCHEMA, "Properties a filter may name"),
        link(f"{href}/schema", "describedby", SCHEMA, "The features (JSON Schema)"),
        # GDAL 3.6 looks for this spelling only; with it, it types its columns from the schema.
        link(f"{href}/schema", "describedBy", SCHEMA, "The features (JSON Schema)"),
        link(f"{href}/tiles", REL_TILESETS, JSON, "Vector tiles (Mapbox Vector Tile)"),
    ]
    doc: dict = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "keywords": list(collection.keywords),
        "itemType": "feature",
        "links": links,
    }
    xmin, ymin, xmax, ymax, first, last = extent
    if xmin is not None:
        doc["extent"] = {"spatial": {"bbox": [[xmin, ymin, xmax, ymax]], "crs": STORAGE.uri}}
    if collection.temporal:
        doc.setdefault("extent", {})["temporal"] = {
            "interval": [[first, last]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    doc["crs"] = [c.uri for c in SUPPORTED]
    doc["storageCrs"] = STORAGE.uri
    # What the caller may do with the items (as OPTIONS on them answers): editing is by role.
    doc["itemMethods"] = allowed_methods(VIEWER.get(), collection.id)
    return doc


def feature_schema(request: Request, collection: Collection) -> dict:
    """JSON Schema of the features of an items page: the types of their properties."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url(request)}/collections/{collection.id}/schema",
        "title": collection.title,
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": collection.id_type},
            "geometry": {"$ref": f"https://geojson.org/schema/{collection.geometry_type}.json"},
            "properties": {
                "type": "object",
                "properties": {p.name: p.json_schema() for p in collection.properties},
            },
        },
    }
