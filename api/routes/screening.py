"""POST /screening (one site), POST /screening/batch and GET /screening/deposits (many)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from typing import Literal

import asyncpg
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from api.body_parsing import json_body_openapi, parse_body
from api.feature_lists import whole_list
from api.kept_reports import REPORT_CONTENT, keep_and_answer, report_response
from api.params import (
    COMMODITY_DESCRIPTION,
    admin_area,
    outline_of,
    parse_choices,
    parse_commodities,
    settings_of,
    split_values,
)
from api.streaming import GEOJSON
from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter
from geo.core.settings import Settings
from geo.core.sql import Params, SqlQuery
from geo.features.collections import get_collection
from geo.features.items import ItemsQuery
from geo.io.spreadsheet import safe_row
from geo.queries.areas import AreaRef
from geo.queries.deposits import DepositSearch, deposit_query
from geo.queries.screening import (
    DEFAULT_RADIUS_M,
    MAX_RADIUS_M,
    ScreeningOptions,
    missing_reference,
    report_from_row,
    screen_query,
)
from geo.queries.screening_batch import COLUMNS, batch_query, deposits_source, posted_sites_source
from geo.queries.sites import SITE_FORMS, parse_site, parse_sites
from geo.rasters.batch_values import batch_with_raster_values, chosen_rasters, positions_query
from geo.rasters.screening import screening_raster_statistics
from geo.rasters.storage import raster_dir
from geo.store.reports import kept_report
from geo.store.timed_pool import transaction

router = APIRouter(tags=["screening"])
CSV = "text/csv; charset=utf-8"
SITE_EXAMPLE = {
    "type": "Point",
    "coordinates": [-6.7708, 42.4694],
    "buffer_m": 1000,
    "depth_top_m": 0,
    "depth_bottom_m": 300,
}


def screening_options(
    legal_effect: list[str] | None = Query(
        None,
        description="Legal effects that count towards the verdict, "
        "comma-separated: exclusion, conditional (default both). Every "
        "overlapping zone is listed whatever its effect.",
    ),
    radius_m: float | None = Query(
        None,
        description=f"Radius for nearby zones in metres (default "
        f"{DEFAULT_RADIUS_M:,.0f}, at most {MAX_RADIUS_M:,.0f}).",
    ),
) -> ScreeningOptions:
    effects = parse_choices(legal_effect, v.RESTRICTING_LEGAL_EFFECTS, "legal_effect")
    radius = DEFAULT_RADIUS_M if radius_m is None else radius_m
    if not 0 <= radius <= MAX_RADIUS_M:
        raise InvalidParameter(
            "radius_m", f"{radius:g} is out of range", f"0 to {MAX_RADIUS_M:,.0f} metres"
        )
    return ScreeningOptions(legal_effects=effects or v.RESTRICTING_LEGAL_EFFECTS, radius_m=radius)


async def parsed_body(request: Request, parse: Callable, *args):
    """The body read (api.guard bounds its size), then decoded and validated by `parse` off the
    event loop (api.body_parsing): a large upload never stalls the other clients."""
    return await parse_body(await request.body(), parse, SITE_FORMS, *args)


@router.post(
    "/screening",
    response_class=Response,
    openapi_extra=json_body_openapi(SITE_EXAMPLE, GEOJSON),
    responses={200: {"content": REPORT_CONTENT}},
)
async def screen_site(
    request: Request,
    options: ScreeningOptions = Depends(screening_options),
    f: Literal["json", "geojson", "html", "pdf"] = Query(
        "json",
        description="json (the report), geojson (the site "
        "and its pieces as features), html (a printable report) or pdf (that page printed).",
    ),
    content_crs: str | None = Header(
        None,
        alias="Content-Crs",
        description="CRS of the body's coordinates "
        "(e.g. <http://www.opengis.net/def/crs/EPSG/0/25830>); default CRS84.",
    ),
    settings: Settings = Depends(settings_of),
):
    """What stands in the way of mining a site: the verdict (excluded, conditional, free) and
    why, the ground status (open, applied_for, held: the mining rights on the site), every overlapping zone in hectares and as a share of the site (with the 3D rule:
    footprints and depth intervals must both overlap), zones within `radius_m`, overlapping
    mining rights, free ground and the municipalities touched. The body is a GeoJSON Point
    (with `buffer_m`), Polygon or MultiPolygon, or a Feature of one, in any supported CRS
    (a `crs` member or the Content-Crs header), or `{"deposit": id}` / `{"permit": id}`;
    `depth_top_m` / `depth_bottom_m` give the depth interval in metres below surface."""
    site = await parsed_body(request, parse_site, content_crs, settings.screening_max_area_km2)
    query = screen_query(site, options)
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(query.text, *query.values)
    if row is None:
        raise missing_reference(site)
    report = report_from_row(row, site, options)
    report["rasters"] = await screening_raster_statistics(
        request.app.state.pool, report["site"]["geometry"], settings
    )
    return await keep_and_answer(request, "screening", report, f)


@router.get(
    "/screening/reports/{report_id}",
    response_class=Response,
    responses={
        200: {"content": REPORT_CONTENT},
        404: {"description": "No report has this id."},
    },
)
async def kept_screening_report(
    request: Request,
    report_id: str,
    f: Literal["json", "geojson", "html", "pdf"] = Query(
        "html",
        description="html (printable), pdf (the same "
        "page printed), json (the report) or geojson (the site "
        "and its pieces as features).",
    ),
):
    """A screening or plan-impact report as it was answered, by the permanent link every such
    answer gives (Location header, rel=report link): the request, the answer, its date and the
    data versions it was made from, the site's ETRS89 / UTM coordinates, sources and licences."""
    kind, report = await kept_report(request.app.state.pool, report_id)
    return await report_response(request, kind, report, f)


@router.post(
    "/screening/batch",
    response_class=Response,
    openapi_extra=json_body_openapi(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "target-1",
                    "geometry": SITE_EXAMPLE,
                    "properties": {"name": "Target 1"},
                }
            ],
        },
        GEOJSON,
    ),
    responses={200: {"content": {GEOJSON: {}, "text/csv": {}}}},
)
async def screen_batch(
    request: Request,
    options: ScreeningOptions = Depends(screening_options),
    f: Literal["geojson", "csv"] = Query(
        "geojson", description="geojson or csv (one row per site)."
    ),
    content_crs: str | None = Header(
        None, alias="Content-Crs", description="CRS of the body's coordinates."
    ),
    settings: Settings = Depends(settings_of),
):
    """Screen a FeatureCollection of up to 10,000 sites (Points with `buffer_m`, Polygons,
    MultiPolygons; `buffer_m`, `depth_top_m`, `depth_bottom_m` in each feature's properties):
    one row per site, in input order, with its verdict, the zones that decided it, the rights
    holding ground there and the municipalities (INE codes). Streamed."""
    sites = await parsed_body(
        request,
        parse_sites,
        content_crs,
        settings.screening_max_area_km2,
        settings.screening_max_batch,
    )
    params = Params()
    source = posted_sites_source(sites, params)
    return await _stream(
        request, batch_query(source, params, options, geojson=f == "geojson"), f, "screening"
    )


@router.get(
    "/screening/deposits",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}, "text/csv": {}}}},
)
async def screen_deposits(
    request: Request,
    options: ScreeningOptions = Depends(screening_options),
    commodity: list[str] | None = Query(
        None, description=COMMODITY_DESCRIPTION + " Default: every commodity."
    ),
    area: AreaRef | None = Depends(admin_area),
    f: Literal["geojson", "csv"] = Query(
        "geojson", description="geojson or csv (one row per deposit)."
    ),
    raster_values: list[str] | None = Query(
        None,
        description="Registered rasters whose value (band 1, nearest "
        "cell) at each deposit is added, comma-separated (not streamed).",
    ),
):
    """Screen every deposit of the chosen commodities in an area, as one streamed table:
    verdict, constraining zones (3D rule with each deposit's own depth interval), holding
    rights and municipalities."""
    params = Params()
    deposits = deposit_query(
        ItemsQuery(get_collection("deposits"), area=outline_of(area)),
        DepositSearch(commodities=parse_commodities(commodity)),
    )
    source = deposits_source(deposits, params)
    if raster_values:
        return await deposits_with_raster_values(
            request, deposits, source, params, options, f, split_values(raster_values)
        )
    return await _stream(
        request,
        batch_query(source, params, options, geojson=f == "geojson"),
        f,
        "deposit-screening",
    )


async def deposits_with_raster_values(
    request: Request,
    deposits: ItemsQuery,
    source,
    params: Params,
    options: ScreeningOptions,
    f: str,
    names: list[str],
) -> Response:
    async with request.app.state.pool.acquire() as conn:
        rasters = await chosen_rasters(conn, names, raster_dir(request.app.state.settings))
    positions = Params()
    body = await batch_with_raster_values(
        request.app.state.pool,
        batch_query(source, params, options, geojson=f == "geojson"),
        positions_query(deposits_source(deposits, positions), positions),
        rasters,
        f == "geojson",
    )
    if f == "csv":
        return Response(
            body,
            media_type=CSV,
            headers={"Content-Disposition": 'attachment; filename="deposit-screening.csv"'},
        )
    return Response(body, media_type=GEOJSON)


async def _stream(request: Request, query: SqlQuery, f: str, filename: str) -> Response:
    pool = request.app.state.pool
    if f == "csv":
        return await _stream_csv(
            pool, query, {"Content-Disposition": f'attachment; filename="{filename}.csv"'}
        )

    return await whole_list(request, query)


async def _csv_chunks(pool: asyncpg.Pool, query: SqlQuery) -> AsyncIterator[bytes]:
    async with pool.acquire() as conn, transaction(conn, readonly=True):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(COLUMNS)
        async for record in conn.cursor(query.text, *query.values, prefetch=1000):
            writer.writerow(safe_row(record[1:]))
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()


async def _stream_csv(pool: asyncpg.Pool, query: SqlQuery, headers: dict) -> StreamingResponse:
    """CSV rows as PostgreSQL gives them; the query starts before the response does, so its
    errors still come back as problem+json."""
    chunks = _csv_chunks(pool, query)
    first = await chunks.__anext__()

    async def rest() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(rest(), media_type=CSV, headers=headers)
