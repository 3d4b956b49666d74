"""OGC API – Tiles: vector tiles of every collection, their tileset metadata and TileJSON."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.auth import OPENS_VIEWER_CONNECTION
from api.links import base_url
from api.params import admin_area, outline_of, parse_filter
from api.tile_cache import TileCache, tile_key
from geo.features.items import CqlFilter, extent_query
from geo.features.tiles import (
    FIELD_TYPES,
    MVT,
    TILE_MATRIX_SET,
    TileLayer,
    checked_tile,
    cluster_fields,
    tile_layer,
    tile_query,
)
from geo.queries.areas import AreaRef
from geo.store.data_state import data_state
from geo.store.viewer import VIEWER

router = APIRouter(tags=["tiles"])

TMS_ID = TILE_MATRIX_SET.id
# Short: edits through the API show on the map within a minute; the ETag makes revalidation cheap.
CACHE_CONTROL = "public, max-age=60"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
REL_TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
ZOOMS = (TILE_MATRIX_SET.minzoom, TILE_MATRIX_SET.maxzoom)
WORLD = [-180.0, -85.0511287798066, 180.0, 85.0511287798066]


def _tiles_url(request: Request, layer: TileLayer) -> str:
    return f"{base_url(request)}/collections/{layer.id}/tiles"


def _etag(request: Request, digest: str) -> str:
    # Weak: gzip may re-encode the body. The app version: new code may make other tiles.
    return f'W/"{request.app.version}-{digest}"'


def _cache_headers(etag: str) -> dict[str, str]:
    return {"Cache-Control": CACHE_CONTROL, "ETag": etag}


def _matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match holds this ETag (weak or strong) or '*'."""
    tags = {t.strip().removeprefix("W/") for t in (if_none_match or "").split(",")}
    return etag.removeprefix("W/") in tags or "*" in tags


async def _extent(request: Request, layer: TileLayer) -> list[float] | None:
    query = extent_query(layer.collection)
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(query.text, *query.values)
    return None if row[0] is None else [row[0], row[1], row[2], row[3]]


def tile_filter(
    filter_: str | None = Query(
        None,
        alias="filter",
        description="A CQL2 filter on the queryables of the collection's tile rows "
        "(deposits: those of deposit_screening, e.g. commodity IN ('W','Li') AND "
        "protection_status = 'free'); below the cluster zoom the clusters count what passes.",
    ),
    filter_lang: str | None = Query(
        None, alias="filter-lang", description="cql2-text (default) or cql2-json."
    ),
    filter_crs: str | None = Query(
        None, alias="filter-crs", description="CRS of the filter's geometries (URI), default CRS84."
    ),
) -> CqlFilter | None:
    """FastAPI dependency: the CQL2 filter of a tile request (checked when its SQL is built)."""
    return parse_filter(filter_, filter_lang, filter_crs)


def _query_string(area: AreaRef | None, cql: CqlFilter | None) -> str:
    """The filters of a tileset request, for the tile URLs it gives."""
    params = {"area": area.code if area else None}
    if cql:
        params.update({"filter": cql.text, "filter-lang": cql.lang, "filter-crs": cql.crs})
    given = {k: v for k, v in params.items() if v is not None}
    return f"?{urlencode(given)}" if given else ""


def _vector_layers(layer: TileLayer) -> list[dict]:
    """TileJSON's vector_layers: the features' layer from its first zoom, the clusters' below."""
    layers = [
        {
            "id": layer.id,
            "description": layer.collection.description,
            "minzoom": layer.features_from(),
            "maxzoom": ZOOMS[1],
            "fields": {name: FIELD_TYPES[p.type] for name, p in layer.fields().items()},
        }
    ]
    if layer.clusters:
        layers.append(
            {
                "id": layer.clusters_id,
                "description": f"{layer.collection.title} counted in cells of the tile grid",
                "minzoom": ZOOMS[0],
                "maxzoom": layer.features_from() - 1,
                "fields": {n: FIELD_TYPES[p.type] for n, p in cluster_fields(layer).items()},
            }
        )
    return layers


@router.get("/tileMatrixSets")
async def list_tile_matrix_sets(request: Request) -> dict:
    """The tiling schemes Veta serves tiles in (WebMercatorQuad)."""
    href = f"{base_url(request)}/tileMatrixSets/{TMS_ID}"
    return {
        "tileMatrixSets": [
            {
                "id": TMS_ID,
                "title": TILE_MATRIX_SET.title,
                "uri": TILE_MATRIX_SET.uri,
                "links": [{"rel": "self", "type": "application/json", "href": href}],
            }
        ]
    }


@router.get(f"/tileMatrixSets/{TMS_ID}")
async def get_tile_matrix_set() -> dict:
    """The WebMercatorQuad tile matrix set (OGC 2DTileMatrixSet)."""
    return TILE_MATRIX_SET.model_dump(mode="json", exclude_none=True)


@router.get("/collections/{collection_id}/tiles")
async def list_tilesets(request: Request, collection_id: str) -> dict:
    """The collection's vector tilesets (one: WebMercatorQuad)."""
    layer = tile_layer(collection_id)
    tiles = _tiles_url(request, layer)
    return {
        "tilesets": [
            {
                "title": f"{layer.collection.title} ({TMS_ID})",
                "dataType": "vector",
                "crs": TILE_MATRIX_SET.crs.root,
                "tileMatrixSetURI": TILE_MATRIX_SET.uri,
                "links": [
                    {"rel": "self", "type": "application/json", "href": f"{tiles}/{TMS_ID}"},
                    {
                        "rel": REL_TILING_SCHEME,
                        "type": "application/json",
                        "href": f"{base_url(request)}/tileMatrixSets/{TMS_ID}",
                    },
                ],
            }
        ],
        "links": [{"rel": "self", "type": "application/json", "href": tiles}],
    }


@router.get(f"/collections/{{collection_id}}/tiles/{TMS_ID}")
async def get_tileset(request: Request, collection_id: str) -> dict:
    """OGC API – Tiles tileset description: the layer, its properties, bounds and tile template."""
    layer = tile_layer(collection_id)
    tiles = _tiles_url(request, layer)
    extent = await _extent(request, layer)
    description: dict[str, Any] = {
        "id": layer.id,
        "title": layer.collection.title,
        "description": layer.collection.description,
        "dataType": "vector",
        "minTileMatrix": str(ZOOMS[0]),
        "maxTileMatrix": str(ZOOMS[1]),
        "propertiesSchema": {
            "type": "object",
            "properties": {name: p.json_schema() for name, p in layer.fields().items()},
        },
    }
    if layer.geometry_dimension is not None:
        description["geometryDimension"] = layer.geometry_dimension
    layers = [description]
    if layer.clusters:
        description["minTileMatrix"] = str(layer.features_from())
        layers.append(
            {
                "id": layer.clusters_id,
                "title": f"{layer.collection.title}: clusters",
                "description": f"{layer.collection.title} counted in cells of the tile grid, "
                f"below zoom {layer.features_from()}",
                "dataType": "vector",
                "geometryDimension": 0,
                "minTileMatrix": str(ZOOMS[0]),
                "maxTileMatrix": str(layer.features_from() - 1),
                "propertiesSchema": {
                    "type": "object",
                    "properties": {n: p.json_schema() for n, p in cluster_fields(layer).items()},
                },
            }
        )
    tileset: dict[str, Any] = {
        "title": layer.collection.title,
        "dataType": "vector",
        "crs": TILE_MATRIX_SET.crs.root,
        "tileMatrixSetURI": TILE_MATRIX_SET.uri,
        "layers": layers,
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{tiles}/{TMS_ID}"},
            {
                "rel": REL_TILING_SCHEME,
                "type": "application/json",
                "href": f"{base_url(request)}/tileMatrixSets/{TMS_ID}",
            },
            {
                "rel": "item",
                "type": MVT,
                "templated": True,
                # The path is z/x/y (TileJSON order): column before row.
                "href": f"{tiles}/{TMS_ID}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}",
            },
            {
                "rel": "describedby",
                "type": "application/json",
                "href": f"{tiles}/{TMS_ID}/tilejson.json",
            },
        ],
    }
    if extent:
        tileset["boundingBox"] = {"lowerLeft": extent[:2], "upperRight": extent[2:], "crs": CRS84}
    if layer.attribution:
        tileset["attribution"] = layer.attribution
    return tileset


@router.get(f"/collections/{{collection_id}}/tiles/{TMS_ID}/tilejson.json")
async def get_tilejson(
    request: Request,
    collection_id: str,
    area: AreaRef | None = Depends(admin_area),
    cql: CqlFilter | None = Depends(tile_filter),
) -> dict:
    """TileJSON 3.0 of the collection's vector tiles, for MapLibre, OpenLayers and QGIS; with
    `area` or `filter`, of the tiles filtered so (the tile URLs carry them)."""
    layer = tile_layer(collection_id)
    extent = await _extent(request, layer) or WORLD
    template = f"{_tiles_url(request, layer)}/{TMS_ID}/{{z}}/{{x}}/{{y}}"
    tilejson = {
        "tilejson": "3.0.0",
        "name": layer.id,
        "description": layer.collection.title,
        "scheme": "xyz",
        "tiles": [template + _query_string(area, cql)],
        "minzoom": ZOOMS[0],
        "maxzoom": ZOOMS[1],
        "bounds": extent,
        "vector_layers": _vector_layers(layer),
    }
    if layer.attribution:
        tilejson["attribution"] = layer.attribution
    return tilejson


@router.get(
    f"/collections/{{collection_id}}/tiles/{TMS_ID}/{{z}}/{{x}}/{{y}}",
    response_class=Response,
    dependencies=OPENS_VIEWER_CONNECTION,
    responses={200: {"content": {MVT: {}}}, 204: {"description": "No feature in this tile"}},
)
async def get_tile(
    request: Request,
    collection_id: str,
    z: int,
    x: int,
    y: int,
    area: AreaRef | None = Depends(admin_area),
    cql: CqlFilter | None = Depends(tile_filter),
):
    """A Mapbox Vector Tile (extent 4096, buffer 64) with one layer named after the collection,
    of the features in `area` if given and passing `filter`; below a collection's cluster zoom
    (deposits: 10) one layer of clusters instead (`{collection}_clusters`: a point per occupied
    cell of the tile grid with its `count`). 204 when no feature falls in the tile."""
    layer = tile_layer(collection_id)
    tile = checked_tile(z, x, y)
    cache: TileCache = request.app.state.tiles
    tables, cache_name = layer.tables, layer.id + _query_string(area, cql)
    if area is not None:  # another tile, which also changes with the area's outline
        tables = (*tables, "admin_areas")
    # Only SELECTs: nothing to reset in the session when the connection goes back (an
    # anonymous tile is then two round trips, the change counters and the tile).
    async with request.app.state.pool.acquire(keeps_session=True) as conn:
        state = await data_state(conn, tables)
        # Tracked tables: the ETag names the data state, so a revalidation costs no tile.
        key = tile_key(cache_name, tile, state, VIEWER.get().audience) if state else None
        if key and _matches(request.headers.get("if-none-match"), _etag(request, key)):
            return Response(status_code=304, headers=_cache_headers(_etag(request, key)))
        data = cache.get(key) if key else None
        if data is None:
            query = tile_query(layer, tile, outline_of(area), cql)
            data = await conn.fetchval(query.text, *query.values) or b""
            if key:
                cache.put(key, data)
    etag = _etag(request, key or hashlib.blake2b(data, digest_size=16).hexdigest())
    if not data:
        return Response(status_code=204, headers=_cache_headers(etag))
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=_cache_headers(etag))
    return Response(data, media_type=MVT, headers=_cache_headers(etag))
