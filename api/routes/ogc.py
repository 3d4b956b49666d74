"""OGC API – Features, the service and its collections: /, /conformance, /collections, queryables."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from api.links import base_url
from api.ogc import documents
from api.ogc.caching import cache_headers, data_etag, etag_of, not_modified
from api.ogc.html import render
from api.ogc.negotiation import DOCUMENT_FORMATS, JSON, SCHEMA, negotiate
from api.ogc.params import check_known
from geo.collections import Collection, all_collections, get_collection
from geo.cql2 import queryables_schema
from geo.items import extent_query, queryables

router = APIRouter(tags=["OGC API – Features"])

_JSON_OR_HTML = {200: {"content": {JSON: {}, "text/html": {}}}}


def _document(request: Request, body: dict, template: str, etag: str | None, **context) -> Response:
    headers = cache_headers(etag)
    if negotiate(request, DOCUMENT_FORMATS) == "html":
        return render(request, template, headers, root=base_url(request), **context)
    return JSONResponse(body, headers=headers)


def _static(request: Request) -> tuple[str, Response | None]:
    """The ETag of a document that only changes with the code, and a 304 if it is current."""
    check_known(request, ("f",))
    negotiate(request, DOCUMENT_FORMATS)
    etag = etag_of(request)
    return etag, not_modified(request, etag)


@router.get("/", response_class=Response, responses=_JSON_OR_HTML)
async def landing_page(request: Request):
    """The landing page: links to the API definition, conformance and the collections."""
    etag, unchanged = _static(request)
    if unchanged:
        return unchanged
    doc = documents.landing(request)
    return _document(request, doc, "ogc_landing.html", etag, doc=doc)


@router.get("/conformance", response_class=Response, responses=_JSON_OR_HTML)
async def conformance(request: Request):
    """The conformance classes implemented (OGC API – Features Parts 1, 2 and 3, CQL2)."""
    etag, unchanged = _static(request)
    if unchanged:
        return unchanged
    return _document(request, {"conformsTo": documents.CONFORMANCE}, "ogc_conformance.html", etag,
                     classes=documents.CONFORMANCE)


async def _extent(request: Request, collection: Collection) -> tuple:
    query = extent_query(collection)
    async with request.app.state.pool.acquire() as conn:
        return tuple(await conn.fetchrow(query.text, *query.values))


@router.get("/collections", response_class=Response, responses=_JSON_OR_HTML)
async def list_collections(request: Request):
    """Every feature collection with its extent, CRSs and links."""
    check_known(request, ("f",))
    negotiate(request, DOCUMENT_FORMATS)
    collections = all_collections()
    etag = await data_etag(request, tuple(t for c in collections for t in c.tables))
    if unchanged := not_modified(request, etag):
        return unchanged
    docs = [documents.collection_doc(request, c, await _extent(request, c)) for c in collections]
    body = {"links": documents.self_links(request), "collections": docs}
    return _document(request, body, "ogc_collections.html", etag, collections=docs)


@router.get("/collections/{collectionId}", response_class=Response, responses=_JSON_OR_HTML)
async def describe_collection(request: Request, collection_id: str = Path(alias="collectionId")):
    """One collection's metadata: extent, CRS list and storageCrs, links to items and queryables."""
    collection = get_collection(collection_id)
    check_known(request, ("f",))
    negotiate(request, DOCUMENT_FORMATS)
    etag = await data_etag(request, collection.tables)
    if unchanged := not_modified(request, etag):
        return unchanged
    doc = documents.collection_doc(request, collection, await _extent(request, collection))
    return _document(request, doc, "ogc_collection.html", etag, doc=doc, properties=collection.properties)


@router.get("/collections/{collectionId}/queryables", response_class=Response,
            responses={200: {"content": {SCHEMA: {}}}})
async def collection_queryables(request: Request, collection_id: str = Path(alias="collectionId")):
    """The properties a filter may name, as JSON Schema (OGC API – Features Part 3)."""
    collection = get_collection(collection_id)
    check_known(request, ("f",))
    negotiate(request, {"json": SCHEMA})
    etag = etag_of(request)
    if unchanged := not_modified(request, etag):
        return unchanged
    schema = queryables_schema(collection.id, collection.title, queryables(collection), base_url(request))
    return JSONResponse(schema, media_type=SCHEMA, headers=cache_headers(etag))


@router.get("/collections/{collectionId}/schema", response_class=Response,
            responses={200: {"content": {SCHEMA: {}}}})
async def collection_schema(request: Request, collection_id: str = Path(alias="collectionId")):
    """The JSON Schema of the collection's features (GDAL types its columns from it)."""
    collection = get_collection(collection_id)
    check_known(request, ("f",))
    negotiate(request, {"json": SCHEMA})
    etag = etag_of(request)
    if unchanged := not_modified(request, etag):
        return unchanged
    return JSONResponse(documents.feature_schema(request, collection), media_type=SCHEMA,
                        headers=cache_headers(etag))
