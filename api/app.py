"""The FastAPI application factory: settings, the database pool, routers, error handlers."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api import errors, health, telemetry
from api.auth import Authenticate
from api.body_parsing import stop_processes
from api.guard import Guard
from api.language import Language
from api.ogc import openapi as ogc_openapi
from api.params import reject_unknown_query_parameters
from api.routes import (
    areas,
    constraints,
    deposits,
    downloads,
    editing,
    grid,
    i18n,
    imports,
    ogc,
    ogc_items,
    permits,
    planning,
    rasters,
    screening,
    search,
    tiles,
    vocabularies,
)
from api.routes import docs as api_docs
from api.routes import map as web_map
from api.security_headers import SecurityHeaders
from api.tile_cache import TileCache
from api.trusted_hosts import TrustedHosts
from geo.catalog import register_catalog
from geo.core.crs import remember_postgis_srids
from geo.core.settings import Settings, get_settings
from geo.rasters.zonal_pool import ZonalWorkers
from geo.store.counts import CountCache
from geo.store.db import create_pool, service_url, sync_engine
from geo.store.pooler import behind_pooler
from geo.store.row_security import LEAKPROOF_FUNCTIONS, MISSING_SQL_ASYNCPG

log = logging.getLogger("veta")


def create_app(settings: Settings | None = None) -> FastAPI:
    """A Veta app; settings are read here, at start-up, never at import."""
    settings = settings or get_settings()
    register_catalog()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool = await create_pool(service_url(settings), settings)
        # Writes (geo.editing) run on a synchronous engine in worker threads, as the service.
        app.state.writer = sync_engine(service_url(settings), behind_pooler(settings))
        async with app.state.pool.acquire() as conn:
            remember_postgis_srids(
                r[0] for r in await conn.fetch("SELECT srid FROM spatial_ref_sys")
            )
            missing = await conn.fetch(MISSING_SQL_ASYNCPG, list(LEAKPROOF_FUNCTIONS))
        if missing:
            log.warning(
                "spatial and commodity searches of deposits and rights cannot use their indexes "
                "under row-level security until a superuser marks these LEAKPROOF: %s",
                ", ".join(r[0] for r in missing),
            )
        await health.warn_of_an_old_schema(app.state.pool)
        # Batches of zonal statistics share these processes, started by the first large one.
        app.state.zonal_workers = ZonalWorkers(settings.raster_workers)
        try:
            yield
        finally:
            await app.state.pool.close()
            app.state.writer.dispose()
            await run_in_threadpool(app.state.zonal_workers.close)
            await run_in_threadpool(stop_processes)

    app = FastAPI(
        title="Veta",
        version="0.1.0",
        description="Mineral deposits, mining rights and land-use protection zones of Castilla y León.",
        lifespan=lifespan,
        openapi_url="/api",
        docs_url=None,  # api/routes/docs.py: served from the package, offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = telemetry.Metrics(app)
    app.state.counts = CountCache(settings.count_cache_size)
    app.state.tiles = TileCache(settings.tile_cache_mb * 2**20)
    app.state.pdf_printers = asyncio.Semaphore(settings.pdf_max_concurrent)
    # Level 1: gzip at the default level 6 halves the throughput of big pages (measured on 1,000-feature pages).
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=1)
    # Inside CORS, so that a refused credential's 401 still reaches the page that sent it.
    app.add_middleware(Authenticate, settings=settings)
    if settings.cors_origins:
        # Other sites' web maps read the collections, tiles and screening from the browser; the
        # headers they need to see (caching, the CRS of the coordinates, download names) exposed.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Content-Crs",
                "Accept",
                "If-None-Match",
                "If-Match",
            ],
            expose_headers=["ETag", "Content-Crs", "Content-Disposition", "Location"],
            max_age=3600,
        )
    # Outermost but for the error handlers: URL, body and NUL checks before anything else.
    app.add_middleware(Guard, settings=settings)
    errors.install(app)
    # Outermost: the error handlers' problems are translated too.
    app.add_middleware(Language)
    # Outside everything that builds a URL from the request: a forged Host never reaches a link.
    app.add_middleware(TrustedHosts, settings=settings)
    # Around every answer, the Host refusals and the 500s included.
    app.add_middleware(SecurityHeaders)
    # Outermost of all: one log line per request, whatever answered it.
    app.add_middleware(telemetry.RequestLog)
    ogc_openapi.install(app)
    # A request is matched against each included router in turn (a few µs each), so the most
    # asked come first: the features (QGIS, GDAL, the map) and the tiles (benchmarks/
    # route_matching.py). No two routes answer the same method and path (tests/test_routes.py),
    # so the order changes nothing else.
    app.include_router(ogc_items.router)
    for router in (
        tiles.router,
        deposits.router,
        areas.router,
        vocabularies.router,
        permits.router,
        grid.router,
        downloads.router,
        web_map.router,
        screening.router,
        rasters.router,
        constraints.router,
        planning.router,
        i18n.router,
        editing.router,
        imports.router,
        search.router,
    ):
        app.include_router(router, dependencies=[Depends(reject_unknown_query_parameters)])
    app.include_router(health.router)
    app.include_router(telemetry.router)
    app.include_router(ogc.router)
    app.include_router(api_docs.router, dependencies=[Depends(reject_unknown_query_parameters)])
    app.mount(api_docs.ASSETS, StaticFiles(directory=api_docs.ASSETS_DIR), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=web_map.STATIC_DIR), name="static")
    return app
