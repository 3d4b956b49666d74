"""Kept screening reports: stored with their request and data versions under an unguessable id.

A report is kept whole (geometries included), so its permanent link answers in every format
the original answer had, and carries what a reader needs to trust it later: when it was made,
from which state of the data, the site in ETRS89 / UTM, and the sources and licences.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg
import orjson
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from geo.core.errors import NotFound
from geo.store.timed_pool import transaction

if TYPE_CHECKING:
    from geo.store.routed_pool import RoutedPool

KINDS = ("screening", "plan_impact")
# The tables a screening reads; their change counters (migration 0005) date the answer.
SCREENED_TABLES = ("admin_areas", "deposits", "permits", "protection_zones")
# A site outline with more corners than this is given by its representative point and extent.
MAX_LISTED_VERTICES = 60

_VERSIONS = """
SELECT coalesce(jsonb_object_agg(table_name, jsonb_build_object('version', version, 'changed_at', changed_at)), '{}')
FROM table_changes WHERE table_name = ANY($1::text[])
"""
_SOURCES = """
SELECT DISTINCT source, licence, source_url FROM protection_zones WHERE id = ANY($1::int[])
UNION SELECT DISTINCT source, licence, NULL FROM admin_areas WHERE code = ANY($2::text[])
UNION SELECT DISTINCT source, licence, source_url FROM deposits WHERE id = $3
UNION SELECT DISTINCT source, licence, NULL FROM permits WHERE id = ANY($4::int[])
ORDER BY 1, 2
"""
# A report kept for an organisation's member is that organisation's alone (the site screened
# says where it is looking); an anonymous one is public, as its link is the only way to it.
_INSERT = """
INSERT INTO screening_reports (kind, request, report, data_versions, owner_org, confidential)
VALUES ($1, $2::jsonb, $3::jsonb, $4::jsonb, veta_viewer_org(), veta_viewer_org() IS NOT NULL)
RETURNING id::text, created_at
"""
_SELECT = "SELECT kind, created_at, request, report::text, data_versions::text FROM screening_reports WHERE id = $1"


def utm_zone(lon: float) -> int:
    """The UTM zone of a longitude, kept to 28–31, the zones ETRS89 / UTM covers in Spain."""
    return min(31, max(28, math.floor((lon + 180) / 6) + 1))


def utm_coordinates(geometry: dict) -> dict:
    """The site in ETRS89 / UTM (EPSG:25828–25831, by the zone of its representative point):
    that point, the extent and, for an outline of at most MAX_LISTED_VERTICES corners, its
    corners, in metres (easting, northing). The point is the centroid when it lies on the site."""
    site = shape(geometry)
    point = site.centroid if site.contains(site.centroid) else site.representative_point()
    zone = utm_zone(point.x)
    to_utm = Transformer.from_crs(4326, 25800 + zone, always_xy=True)
    projected = shapely.transform(site, lambda xy: list(zip(*to_utm.transform(xy[:, 0], xy[:, 1]))))
    east, north = to_utm.transform(point.x, point.y)
    corners = [
        list(ring.coords)[:-1]
        for part in _polygons(projected)
        for ring in (part.exterior, *part.interiors)
    ]
    listed = sum(len(c) for c in corners) <= MAX_LISTED_VERTICES
    return {
        "crs": f"EPSG:{25800 + zone}",
        "name": f"ETRS89 / UTM zone {zone}N",
        "point": [round(east, 1), round(north, 1)],
        "extent": [round(c, 1) for c in projected.bounds],
        "vertices": [[[round(x, 1), round(y, 1)] for x, y in ring] for ring in corners]
        if listed
        else None,
    }


def _polygons(geometry) -> list:
    return [p for p in shapely.get_parts(geometry) if p.geom_type == "Polygon"]


async def data_versions(conn: asyncpg.Connection) -> dict:
    """The change counter and time of last change of every table a screening reads."""
    return orjson.loads(await conn.fetchval(_VERSIONS, list(SCREENED_TABLES)))


async def sources_of(conn: asyncpg.Connection, report: dict) -> list[dict]:
    """Source and licence of the zones, municipalities, mining rights and deposit the report names."""
    zone_ids = sorted({z["id"] for z in report.get("zones", []) + report.get("nearby", [])})
    codes = [m["code"] for m in report.get("municipalities", [])]
    deposit = (report.get("site", {}).get("reference") or {}).get("deposit")
    permit_ids = sorted({p["id"] for p in report.get("permits", [])})
    rows = await conn.fetch(_SOURCES, zone_ids, codes, deposit, permit_ids)
    return [{"source": r["source"], "licence": r["licence"], "url": r["source_url"]} for r in rows]


async def keep_report(pool: asyncpg.Pool, kind: str, request: dict, report: dict) -> dict:
    """Store a screening answer; return it with its id, date, data versions, ETRS89 / UTM
    coordinates and sources (as stored)."""
    async with pool.acquire() as conn, transaction(conn):
        versions = await data_versions(conn)
        site = report.get("site") or report["plan"]
        kept = {
            **report,
            "data_versions": versions,
            "sources": await sources_of(conn, report),
            "utm": utm_coordinates(site["geometry"]),
        }
        report_id, created_at = await conn.fetchrow(
            _INSERT,
            kind,
            orjson.dumps(request).decode(),
            orjson.dumps(kept).decode(),
            orjson.dumps(versions).decode(),
        )
    return with_identity(kept, report_id, created_at)


def with_identity(report: dict, report_id: str, created_at: datetime) -> dict:
    return {**report, "id": report_id, "created_at": created_at.isoformat(timespec="seconds")}


async def kept_report(pool: RoutedPool, report_id: str) -> tuple[str, dict]:
    """(kind, report) of a kept report; NotFound when no report has this id."""
    try:
        key = str(uuid.UUID(report_id))
    except ValueError:
        raise NotFound(f"no screening report with id {report_id!r} (ids are UUIDs)") from None
    # Its link is followed right after the POST that kept it: a replica that has not replayed
    # the report yet is not the last word (`lookup` asks the primary then).
    row = await pool.lookup(_SELECT, key, as_viewer=True)
    if row is None:
        raise NotFound(f"no screening report with id {key}")
    return row["kind"], with_identity(orjson.loads(row["report"]), key, row["created_at"])
