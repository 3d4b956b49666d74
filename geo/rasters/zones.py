"""The area zonal statistics are asked over: a GeoJSON site, or a permit, zone or admin area by id."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.core.crs import parse_crs
from geo.core.errors import InvalidParameter
from geo.core.sql import Params
from geo.queries.areas import resolve_area
from geo.queries.screening import site_source
from geo.queries.sites import parse_site

ZONE_FORMS = (
    "a GeoJSON Polygon or MultiPolygon (or a Point with buffer_m), a Feature of one, "
    '{"permit": id}, {"deposit": id, "buffer_m": m}, {"zone": id} or {"area": INE code or name}'
)


@dataclass(frozen=True)
class StatisticsArea:
    """The area to summarise in lon/lat and, for a polygon sent in a projected CRS, as sent (so
    that a raster in that CRS is cut by the very polygon, not its round trip through lon/lat)."""

    lonlat: BaseGeometry
    srid: int | None = None
    as_sent: BaseGeometry | None = None


async def statistics_area(
    conn: asyncpg.Connection, body: object, content_crs: str | None, max_area_km2: float
) -> StatisticsArea:
    """The (multi)polygon a POST /rasters/{name}/statistics body names."""
    if isinstance(body, dict) and "type" not in body and ("zone" in body or "area" in body):
        return StatisticsArea(_polygonal(await _zone_or_area(conn, body)))
    site = parse_site(body, content_crs, max_area_km2)
    params = Params()
    wkb = await conn.fetchval(
        f"SELECT ST_AsBinary(s.geom) FROM {site_source(site, params)}", *params.values
    )
    if wkb is None:
        kind, ident = site.reference
        raise InvalidParameter(kind, f"no {kind} with id {ident}", f"the id of an existing {kind}")
    lonlat = _polygonal(shapely.from_wkb(wkb))
    geometry = body.get("geometry") if body.get("type") == "Feature" else body
    crs = parse_crs(content_crs.strip().strip("<>") if content_crs else None, "Content-Crs")
    if (
        not crs.geographic
        and not crs.northing_first
        and site.buffer_m is None
        and "crs" not in body
        and geometry.get("type") in ("Polygon", "MultiPolygon")
    ):
        return StatisticsArea(lonlat, crs.srid, shape(geometry))
    return StatisticsArea(lonlat)


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    polygons = shapely.get_parts(geometry)
    polygons = [p for p in polygons if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise InvalidParameter(
            "body", f"a {geometry.geom_type} has no area to summarise a raster over", ZONE_FORMS
        )
    return shapely.multipolygons(polygons) if len(polygons) > 1 else polygons[0]


async def _zone_or_area(conn: asyncpg.Connection, body: dict) -> BaseGeometry:
    if len(body) != 1:
        raise InvalidParameter("body", f"unexpected members {sorted(body)}", ZONE_FORMS)
    if "area" in body:
        if not isinstance(body["area"], str):
            raise InvalidParameter(
                "area",
                f"expected an INE code or a name, got {body['area']!r}",
                "an INE code (24, 24089) or an area name (León)",
            )
        return shapely.from_wkb(bytes((await resolve_area(conn, body["area"])).outline))
    ident = body["zone"]
    if isinstance(ident, bool) or not isinstance(ident, int) or ident < 1:
        raise InvalidParameter(
            "zone", f"expected a zone id, got {ident!r}", "a positive integer id"
        )
    wkb = await conn.fetchval("SELECT ST_AsBinary(geom) FROM protection_zones WHERE id = $1", ident)
    if wkb is None:
        raise InvalidParameter(
            "zone",
            f"no protection zone with id {ident}",
            "the id of an existing zone (see /collections/protection_zones/items)",
        )
    return shapely.from_wkb(wkb)
