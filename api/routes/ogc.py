"""OGC API – Features, the service and its collections: /, /conformance, /collections, queryables."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from api.links import base_url
from api.ogc import documents
from api.ogc.caching import cached
from api.ogc.html import render
from api.ogc.negotiation import DOCUMENT_FORMATS, JSON, SCHEMA, f_parameter, negotiate
from api.ogc.params import check_known
from geo.features.collections import Collection, all_collections, get_collection
from geo.features.cql2 import queryables_schema
from geo.features.items import extent_query, queryables

router = APIRouter(tags=["OGC API – Features"])

_JSON_OR_HTML = {200: {"content": {JSON: {}, "text/html": {}}}}
_F = f_parameter(DOCUMENT_FORMATS)


def _document(request: Request, body: dict, template: str, **context) -> Response:
    """The document as JSON or, if asked for, as an HTML page; with its ETag."""
    check_known(request, ("f",))
    if negotiate(request, DOCUMENT_FORMATS) == "html":
        return cached(request, render(request, template, root=base_url(request), **context))
    return cached(request, JSONResponse(body))


def _schema(request: Request, schema: dict) -> Response:
    check_known(request, ("f",))
    negotiate(request, {"json": SCHEMA})
    return cached(request, JSONResponse(schema, media_type=SCHEMA))


@router.get("/", response_class=Response, responses=_JSON_OR_HTML, openapi_extra=_F)
async def landing_page(request: Request):
    """The landing page: links to the API definition, conformance and the collections."""
    doc = documents.landing(request)
    return _document(request, doc, "ogc_landing.html", doc=doc)


@router.get("/conformance", response_class=Response, responses=_JSON_OR_HTML, openapi_extra=_F)
async def conformance(request: Request):
    """The conformance classes implemented (OGC API – Features Parts 1, 2 and 3, CQL2)."""
    return _document(
        request,
        {"conformsTo": documents.CONFORMANCE},
        "ogc_conformance.html",
        classes=documents.CONFORMANCE,
    )


async def _extent(request: Request, collection: Collection) -> tuple:
    query = extent_query(collection)
    async with request.app.state.pool.acquire() as conn:
        return tuple(await conn.fetchrow(query.text, *query.values))


@router.get("/collections", response_class=Response, responses=_JSON_OR_HTML, openapi_extra=_F)
async def list_collections(request: Request):
    """Every feature collection with its extent, CRSs and links."""
    check_known(request, ("f",))
    negotiate(request, DOCUMENT_FORMATS)
    docs = [
        documents.collection_doc(request, c, await _extent(request, c)) for c in all_collections()
    ]
    body = {"links": documents.self_links(request), "collections": docs}
    return _document(request, body, "ogc_collections.html", collections=docs)


@router.get(
    "/collections/{collectionId}",
    response_class=Response,
    responses=_JSON_OR_HTML,
    openapi_extra=_F,
)
async def describe_collection(request: Request, collection_id: str = Path(alias="collectionId")):
    """One collection's metadata: extent, CRS list and storageCrs, links to items and queryables."""
    collection = get_collection(collection_id)
    check_known(request, ("f",))
    negotiate(request, DOCUMENT_FORMATS)
    doc = documents.collection_doc(request, collection, await _extent(request, collection))
    return _document(request, doc, "ogc_collection.html", doc=doc, properties=collection.properties)


@router.get(
    "/collections/{collectionId}/queryables",
    response_class=Response,
    responses={200: {"content": {SCHEMA: {}}}},
)
async def collection_queryables(request: Request, collection_id: str = Path(alias="collectionId")):
    """The properties a filter may name, as JSON Schema (OGC API – Features Part 3)."""
    collection = get_collection(collection_id)
    return _schema(
        request,
        queryables_schema(
            collection.id, collection.title, queryables(collection), base_url(request)
        ),
    )


@router.get(
    "/collections/{collectionId}/schema",
    response_class=Response,
    responses={200: {"content": {SCHEMA: {}}}},
)
async def collection_schema(request: Request, collection_id: str = Path(alias="collectionId")):
    """The JSON Schema of the collection's features (GDAL types its columns from it)."""
    return _schema(request, documents.feature_schema(request, get_collection(collection_id)))
