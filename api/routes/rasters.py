"""Rasters: the catalogue, a Coverages-style description, point values, sampling, zonal
statistics (one zone or a batch) and PNG tiles."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.body_parsing import json_body
from api.links import base_url
from api.ogc.negotiation import CSV, GEOJSON, negotiate
from api.params import settings_of
from geo.core.crs import CRS84_URI
from geo.core.errors import InvalidParameter
from geo.core.settings import Settings
from geo.rasters.catalogue import all_rasters, raster_named
from geo.rasters.sampling import METHODS, check_method, parse_points, sample_points
from geo.rasters.storage import RasterInfo, raster_dir
from geo.rasters.tiles import parse_rescale, raster_tile
from geo.rasters.zonal import (
    parse_percentiles,
    zonal_statistics,
    zonal_statistics_batch,
)
from geo.rasters.zone_batches import is_batch, raster_and_zones
from geo.rasters.zone_output import CSV_MEDIA_TYPE, statistics_collection, statistics_csv
from geo.rasters.zones import statistics_area

router = APIRouter(tags=["rasters"])
PNG = "image/png"
STATISTICS_FORMS = (
    "a GeoJSON Polygon or MultiPolygon (or a Point with buffer_m), a Feature of one, "
    '{"permit": id}, {"deposit": id, "buffer_m": m}, {"zone": id} or {"area": code or name}; '
    "for a batch, a FeatureCollection of those geometries or "
    '{"deposits": {"buffer_m": m, "filter": CQL2 text, "area": code or name}}'
)
BATCH_FORMATS = {"json": GEOJSON, "geojson": GEOJSON, "csv": CSV}
TILES_PATH = "/tiles/WebMercatorQuad/{z}/{x}/{y}.png"


def _summary(request: Request, info: RasterInfo) -> dict:
    url = f"{base_url(request)}/rasters/{info.name}"
    return {
        "name": info.name,
        "title": info.title,
        "description": info.description,
        "units": info.units,
        "crs": info.crs_label,
        "resolution": list(info.resolution),
        "bands": info.band_count,
        "data_type": info.data_type,
        "categorical": info.categorical,
        "screening": info.screening,
        "statistics": info.statistics,
        "extent": _lonlat_bbox(info),
        "links": [
            {"rel": "self", "href": url, "type": "application/json"},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/map",
                "href": url + TILES_PATH,
                "type": PNG,
                "templated": True,
            },
        ],
    }


def _lonlat_bbox(info: RasterInfo) -> list[float]:
    ring = info.footprint["coordinates"][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return [min(xs), min(ys), max(xs), max(ys)]


def _directory(request: Request):
    return raster_dir(request.app.state.settings)


@router.get("/rasters")
async def list_rasters(request: Request):
    """Every registered raster with its CRS, resolution, bands, statistics and extent."""
    async with request.app.state.pool.acquire() as conn:
        rasters = await all_rasters(conn, _directory(request))
    return {
        "rasters": [_summary(request, r) for r in rasters],
        "links": [
            {"rel": "self", "href": f"{base_url(request)}/rasters", "type": "application/json"}
        ],
    }


@router.get("/rasters/{name}")
async def describe_raster(request: Request, name: str):
    """One raster, described in the shape of an OGC API – Coverages collection: its extent (lon/lat
    and native), the grid (domain set) and the bands (range type) with nodata, units and statistics."""
    async with request.app.state.pool.acquire() as conn:
        info = await raster_named(conn, name, _directory(request))
    minx, miny, maxx, maxy = info.bounds
    url = f"{base_url(request)}/rasters/{info.name}"
    description = _summary(request, info)
    description.update(
        {
            "id": info.name,
            "source": info.source,
            "licence": info.licence,
            "extent": {
                "spatial": {
                    "bbox": [_lonlat_bbox(info)],
                    "crs": CRS84_URI,
                    "native_bbox": [minx, miny, maxx, maxy],
                    "native_crs": info.crs_label,
                }
            },
            "crs_wkt": info.crs_wkt,
            "domainset": {
                "type": "DomainSet",
                "generalGrid": {
                    "type": "GeneralGridCoverage",
                    "srsName": info.crs_label,
                    "axisLabels": ["x", "y"],
                    "axis": [
                        {
                            "type": "RegularAxis",
                            "axisLabel": "x",
                            "lowerBound": minx,
                            "upperBound": maxx,
                            "resolution": info.resolution[0],
                        },
                        {
                            "type": "RegularAxis",
                            "axisLabel": "y",
                            "lowerBound": miny,
                            "upperBound": maxy,
                            "resolution": -info.resolution[1],
                        },
                    ],
                    "gridLimits": {
                        "type": "GridLimits",
                        "axis": [
                            {
                                "type": "IndexAxis",
                                "axisLabel": "i",
                                "lowerBound": 0,
                                "upperBound": info.width - 1,
                            },
                            {
                                "type": "IndexAxis",
                                "axisLabel": "j",
                                "lowerBound": 0,
                                "upperBound": info.height - 1,
                            },
                        ],
                    },
                    "transform": list(info.transform),
                },
            },
            "rangetype": {
                "type": "DataRecord",
                "field": [
                    {
                        "type": "Quantity",
                        "name": f"band_{s['band']}",
                        "definition": info.data_type,
                        "uom": {"code": info.units},
                        "nilValues": [] if info.nodata is None else [info.nodata],
                        "statistics": s,
                    }
                    for s in info.statistics
                ],
            },
        }
    )
    description["links"] += [
        {"rel": "point", "href": url + "/point?lon={lon}&lat={lat}", "templated": True},
        {"rel": "sample", "href": url + "/sample", "method": "POST"},
        {"rel": "statistics", "href": url + "/statistics", "method": "POST"},
    ]
    return description


@router.get("/rasters/{name}/point")
async def raster_point(
    request: Request,
    name: str,
    lon: float = Query(..., ge=-180, le=180, description="Longitude (WGS 84)."),
    lat: float = Query(..., ge=-90, le=90, description="Latitude (WGS 84)."),
    method: str = Query("nearest", description=f"One of {', '.join(METHODS)}."),
):
    """The raster's value per band at a point (null: nodata or outside the raster)."""
    check_method(method)
    async with request.app.state.pool.acquire() as conn:
        info = await raster_named(conn, name, _directory(request))
    values = (await run_in_threadpool(sample_points, info, [(lon, lat)], method))[0]
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "raster": info.name,
            "units": info.units,
            "method": method,
            "values": values,
        },
    }


@router.post("/rasters/{name}/sample")
async def raster_sample(
    request: Request,
    name: str,
    method: str = Query("nearest", description=f"One of {', '.join(METHODS)}."),
    content_crs: str | None = Header(
        None, alias="Content-Crs", description="CRS of the points; default CRS84."
    ),
    settings: Settings = Depends(settings_of),
):
    """Values per band at each Point of a FeatureCollection (up to 10,000): the features come back
    with a `values` property added (null: nodata or outside)."""
    check_method(method)
    body = await json_body(request, "a GeoJSON FeatureCollection of Points")
    points = parse_points(body, content_crs, settings.raster_max_points)
    async with request.app.state.pool.acquire() as conn:
        info = await raster_named(conn, name, _directory(request))
    values = await run_in_threadpool(sample_points, info, points, method)
    features = [
        {**f, "properties": {**(f.get("properties") or {}), "values": v}}
        for f, v in zip(body["features"], values)  # type: ignore[index]  # parse_points took it: a FeatureCollection
    ]
    return {
        "type": "FeatureCollection",
        "raster": info.name,
        "method": method,
        "features": features,
    }


@router.post(
    "/rasters/{name}/statistics",
    responses={200: {"content": {"application/json": {}, GEOJSON: {}, CSV: {}}}},
)
async def raster_statistics(
    request: Request,
    name: str,
    band: int = Query(1, description="The band to summarise."),
    percentiles: str | None = Query(None, description="Percentiles to add, e.g. 10,50,90."),
    f: Literal["json", "geojson", "csv"] | None = Query(
        None, description="A batch's format: geojson (json) or csv; default from Accept."
    ),
    content_crs: str | None = Header(
        None, alias="Content-Crs", description="CRS of the body's coordinates."
    ),
    settings: Settings = Depends(settings_of),
):
    """Zonal statistics with exact cell coverage fractions over a GeoJSON Polygon or MultiPolygon
    (or a Point with buffer_m; in any supported CRS), {"permit": id}, {"deposit": id, "buffer_m": m},
    {"zone": id} or {"area": INE code or name}: coverage-weighted
    count, min, max, mean, std, median, the chosen percentiles, the share of nodata, hectares, and
    for a categorical raster the hectares of each class. The geometry is reprojected to the
    raster's CRS; the raster is never resampled.

    A batch: a FeatureCollection (up to VETA_RASTER_MAX_ZONES features), or the deposits of a
    search, {"deposits": {"buffer_m": m, "filter": CQL2 text, "area": code or name}} (chosen
    as /collections/deposits/items chooses them, grown geodesically by PostGIS): the features
    back in order with their ids and properties and a `statistics` property, as GeoJSON or CSV."""
    chosen = parse_percentiles(percentiles)
    body = await json_body(request, STATISTICS_FORMS)
    if is_batch(body):
        return await _batch_statistics(request, name, body, band, chosen, content_crs, settings)
    if f == "csv":
        raise InvalidParameter("f", "one zone's statistics are a JSON object", ["json"])
    async with request.app.state.pool.acquire() as conn:
        info = await raster_named(conn, name, _directory(request))
        area = await statistics_area(conn, body, content_crs, settings.screening_max_area_km2)
    as_sent = (
        (area.srid, area.as_sent) if area.srid is not None and area.as_sent is not None else None
    )
    return await run_in_threadpool(
        lambda: zonal_statistics(info, area.lonlat, band=band, percentiles=chosen, as_sent=as_sent)
    )


async def _batch_statistics(
    request: Request,
    name: str,
    body: dict,
    band: int,
    percentiles: tuple[int, ...],
    content_crs: str | None,
    settings: Settings,
) -> Response:
    """The statistics of each zone of a batch body, on the service's shared worker processes."""
    output = negotiate(request, BATCH_FORMATS)
    async with request.app.state.pool.acquire() as conn:
        info, zones = await raster_and_zones(conn, name, body, content_crs, band, settings)
    statistics = await run_in_threadpool(
        lambda: zonal_statistics_batch(
            info,
            [z.lonlat for z in zones],
            band=band,
            percentiles=percentiles,
            as_sent=[z.as_sent for z in zones],
            workers=request.app.state.zonal_workers,
        )
    )
    if output == "csv":
        return StreamingResponse(
            statistics_csv(zones, statistics),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{info.name}-statistics.csv"'},
        )
    return JSONResponse(statistics_collection(info, band, zones, statistics), media_type=GEOJSON)


@router.get(
    "/rasters/{name}" + TILES_PATH, response_class=Response, responses={200: {"content": {PNG: {}}}}
)
async def raster_tile_png(
    request: Request,
    name: str,
    z: int,
    x: int,
    y: int,
    band: int = Query(1, description="The band to show."),
    colormap: str | None = Query(
        None,
        description="A rio-tiler colour map name (default viridis; tab20 for categorical rasters).",
    ),
    rescale: str | None = Query(
        None,
        description="min,max of the values spread over the colour map "
        "(default the band's minimum and maximum).",
    ),
):
    """A 256 × 256 PNG tile of the raster in WebMercatorQuad; nodata and outside are transparent."""
    scale = parse_rescale(rescale)
    async with request.app.state.pool.acquire() as conn:
        info = await raster_named(conn, name, _directory(request))
    png = await run_in_threadpool(
        lambda: raster_tile(info, z, x, y, band=band, colormap=colormap, rescale=scale)
    )
    return Response(png, media_type=PNG, headers={"Cache-Control": "public, max-age=60"})
