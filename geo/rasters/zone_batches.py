"""The zones of a batch of zonal statistics: the features of a GeoJSON FeatureCollection, or the
deposits of a search grown by a buffer, each a lon/lat (multi)polygon with what to echo of it.

Deposits are chosen as /collections/deposits/items chooses them (a CQL2 filter, an admin area)
on the caller's connection, so row-level security shows each viewer the deposits it may see;
PostGIS grows them, geodesically, as the single form grows {"deposit": id, "buffer_m": m}.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import TypeGuard

import asyncpg
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.catalog.collections import DEPOSITS
from geo.core.errors import InvalidParameter
from geo.core.settings import Settings
from geo.core.sql import Params, SqlQuery
from geo.features.items import CqlFilter, ItemsQuery, where_sql
from geo.queries.areas import resolve_area
from geo.queries.site_geometry import buffered_sql
from geo.queries.sites import Site, body_crs, parse_sites
from geo.rasters.catalogue import raster_named
from geo.rasters.storage import RasterInfo, raster_dir
from geo.rasters.zonal import measures_of

DEPOSITS_FORM = '{"deposits": {"buffer_m": metres, "filter": CQL2 text, "area": INE code or name}}'
DEPOSITS_MEMBERS = ("buffer_m", "filter", "area")


@dataclass(frozen=True)
class Zone:
    """One zone of a batch: its id and properties to echo, its geometry as GeoJSON (the
    feature's as sent, or text PostGIS wrote), and the polygon to measure in lon/lat and, when
    sent in a projected CRS, as sent (srid, polygon), as the single form keeps it."""

    id: object
    properties: dict
    geometry: dict | str
    lonlat: BaseGeometry
    as_sent: tuple[int, BaseGeometry] | None = None


@dataclass(frozen=True)
class DepositSelection:
    """Deposits chosen as the items of /collections/deposits are, each grown by buffer_m."""

    buffer_m: float
    filter: str | None = None
    area: str | None = None


def is_batch(body: object) -> TypeGuard[dict]:
    """Whether a statistics body asks for a batch (a FeatureCollection or a deposit search)."""
    return isinstance(body, dict) and (
        body.get("type") == "FeatureCollection" or ("type" not in body and "deposits" in body)
    )


async def raster_and_zones(
    conn: asyncpg.Connection,
    name: str,
    body: dict,
    content_crs: str | None,
    band: int,
    settings: Settings,
) -> tuple[RasterInfo, list[Zone]]:
    """The raster a batch is asked of and the batch's zones (the HTTP route's and the command's
    first step, on a connection reading as the viewer); an unknown raster or band is refused
    before any zone is read."""
    info = await raster_named(conn, name, raster_dir(settings))
    measures_of(info, band)
    zones = await batch_zones(
        conn, body, content_crs, settings.raster_max_zones, settings.screening_max_area_km2
    )
    return info, zones


async def batch_zones(
    conn: asyncpg.Connection,
    body: dict,
    content_crs: str | None,
    max_zones: int,
    max_area_km2: float,
) -> list[Zone]:
    """The zones of a batch body, in its order (deposits: by id), at most max_zones of them.
    Every feature is checked in a worker thread, so that a large body leaves the loop free."""
    if body.get("type") == "FeatureCollection":
        sites = await asyncio.to_thread(parse_sites, body, content_crs, max_area_km2, max_zones)
        return await feature_zones(conn, body, sites, content_crs)
    if len(body) != 1:
        raise InvalidParameter("body", f"unexpected members {sorted(body)}", DEPOSITS_FORM)
    selection = parse_deposit_selection(body["deposits"], max_area_km2)
    return await deposit_zones(conn, selection, max_zones)


async def feature_zones(
    conn: asyncpg.Connection, body: dict, sites: list[Site], content_crs: str | None
) -> list[Zone]:
    """The features of a FeatureCollection (polygons, or points with buffer_m; their sites as
    parse_sites checked them) as zones, points grown by PostGIS."""
    features = body["features"]
    wkbs = [site.wkb for site in sites]
    if any(site.buffer_m for site in sites):
        grown = buffered_sql("ST_GeomFromWKB(s.wkb, 4326)", "s.metres")
        rows = await conn.fetch(
            f"SELECT CASE WHEN s.metres IS NULL THEN s.wkb ELSE ST_AsBinary({grown}) END "
            "FROM unnest($1::bytea[], $2::float8[]) WITH ORDINALITY AS s(wkb, metres, n) "
            "ORDER BY s.n",
            wkbs,
            [site.buffer_m for site in sites],
        )
        wkbs = [row[0] for row in rows]
    projected = _projected_srid(body, content_crs)
    # Shapely's work on thousands of features, off the event loop too.
    return await asyncio.to_thread(_as_zones, features, sites, wkbs, projected)


def _as_zones(
    features: list[dict], sites: list[Site], wkbs: list, projected: int | None
) -> list[Zone]:
    zones = []
    for i, (feature, site, wkb) in enumerate(zip(features, sites, wkbs)):
        geometry = feature["geometry"]
        lonlat = polygonal(shapely.from_wkb(wkb), f"features[{i}].geometry")
        as_sent = None
        if projected and site.buffer_m is None and "crs" not in feature and "crs" not in geometry:
            as_sent = (projected, shape(geometry))
        zones.append(
            Zone(feature.get("id"), feature.get("properties") or {}, geometry, lonlat, as_sent)
        )
    return zones


def _projected_srid(body: dict, content_crs: str | None) -> int | None:
    """The SRID the features' coordinates are in when the header or the collection names a
    projected CRS, easting first: then a raster in that CRS is cut by the polygons as sent."""
    crs = body_crs(body, content_crs)
    if crs is None or crs.geographic or crs.northing_first:
        return None
    return crs.srid


def parse_deposit_selection(value: object, max_area_km2: float) -> DepositSelection:
    """The `deposits` member: buffer_m (required), and optionally a CQL2 filter and an area."""
    if not isinstance(value, dict):
        raise InvalidParameter("deposits", "expected an object", DEPOSITS_FORM)
    extra = [k for k in value if k not in DEPOSITS_MEMBERS]
    if extra:
        raise InvalidParameter(f"deposits.{extra[0]}", "unknown member", DEPOSITS_MEMBERS)
    metres = value.get("buffer_m")
    # A buffer is a disc of π r²: as large as a screened site may be, no larger.
    largest = math.sqrt(max_area_km2 * 1e6 / math.pi)
    allowed = f"a positive number of metres, at most {largest:,.0f}"
    if isinstance(metres, bool) or not isinstance(metres, (int, float)) or not metres > 0:
        raise InvalidParameter("deposits.buffer_m", f"expected metres, got {metres!r}", allowed)
    if not metres <= largest:
        raise InvalidParameter("deposits.buffer_m", f"{metres:g} m is too large", allowed)
    for name in ("filter", "area"):
        if value.get(name) is not None and not isinstance(value[name], str):
            raise InvalidParameter(
                f"deposits.{name}",
                f"expected text, got {value[name]!r}",
                "CQL2 text" if name == "filter" else "an INE code (24, 24089) or an area name",
            )
    return DepositSelection(float(metres), value.get("filter"), value.get("area"))


def deposit_zones_query(selection: DepositSelection, outline: bytes | None, limit: int) -> SqlQuery:
    """(id, name, point GeoJSON, grown zone WKB) of the chosen deposits by id, limit + 1 rows
    (one more than a batch may hold tells that there are too many)."""
    params = Params()
    query = ItemsQuery(
        DEPOSITS,
        filter=CqlFilter(selection.filter) if selection.filter else None,
        area=outline,
    )
    try:
        where = where_sql(query, params)
    except InvalidParameter as exc:
        if exc.parameter != "filter":  # the CQL2 translator names its own `filter` parameter
            raise
        raise InvalidParameter("deposits.filter", exc.reason, exc.allowed) from None
    geom = DEPOSITS.geometry_sql
    grown = buffered_sql(geom, params(selection.buffer_m))
    text = (
        f"SELECT {DEPOSITS.id_sql}, {DEPOSITS.by_name['name'].sql}, ST_AsGeoJSON({geom}, 7), "
        f"ST_AsBinary({grown}) FROM {DEPOSITS.from_sql(params)} WHERE {where} "
        f"ORDER BY {DEPOSITS.id_sql} LIMIT {params(limit + 1)}"
    )
    return SqlQuery(text, tuple(params.values))


async def deposit_zones(
    conn: asyncpg.Connection, selection: DepositSelection, max_zones: int
) -> list[Zone]:
    """The deposits the connection's viewer may see that the selection chooses, grown."""
    outline = None
    if selection.area is not None:
        outline = (await resolve_area(conn, selection.area, "deposits.area")).outline
    query = deposit_zones_query(selection, outline, max_zones)
    rows = await conn.fetch(query.text, *query.values)
    return deposit_rows_as_zones(rows, selection, max_zones)


def deposit_rows_as_zones(rows, selection: DepositSelection, max_zones: int) -> list[Zone]:
    """The rows of deposit_zones_query as zones; more than max_zones is refused."""
    if len(rows) > max_zones:
        raise InvalidParameter(
            "deposits",
            f"the search chooses more than {max_zones:,} deposits",
            f"at most {max_zones:,} deposits a batch (VETA_RASTER_MAX_ZONES): "
            "narrow the filter or the area",
        )
    return [
        Zone(
            ident,
            {"name": name, "buffer_m": selection.buffer_m},
            geometry,
            polygonal(shapely.from_wkb(bytes(wkb)), "deposits"),
        )
        for ident, name, geometry, wkb in rows
    ]


def polygonal(geometry: BaseGeometry, field: str) -> BaseGeometry:
    """The polygons of a geometry (a zone must have an area), as one polygon or multipolygon."""
    polygons = [
        p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")
    ]
    if not polygons:
        raise InvalidParameter(
            field,
            f"a {geometry.geom_type} has no area to summarise a raster over",
            "a Polygon or MultiPolygon, or a Point with buffer_m",
        )
    return shapely.multipolygons(polygons) if len(polygons) > 1 else polygons[0]
