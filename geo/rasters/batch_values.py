"""The `raster_values` option of batch screening: each row gains the value of chosen rasters at
its site (a point site's position, an outline's point on surface; band 1, nearest cell)."""

from __future__ import annotations

import csv
import io

import asyncpg
import orjson
from starlette.concurrency import run_in_threadpool

from geo.core.errors import InvalidParameter
from geo.core.sql import Params, SqlQuery
from geo.queries.screening_batch import COLUMNS, SiteSource
from geo.rasters.catalogue import all_rasters
from geo.rasters.sampling import sample_points
from geo.rasters.storage import RasterInfo
from geo.store.timed_pool import transaction


async def chosen_rasters(conn: asyncpg.Connection, names: list[str], directory) -> list[RasterInfo]:
    known = {r.name: r for r in await all_rasters(conn, directory)}
    missing = [n for n in names if n not in known]
    if missing:
        raise InvalidParameter(
            "raster_values", f"no raster named {missing[0]!r}", sorted(known) or "none registered"
        )
    return [known[n] for n in dict.fromkeys(names)]


def positions_query(source: SiteSource, params: Params) -> SqlQuery:
    """(ord, lon, lat) of each site, in batch order."""
    text = (
        f"{source.with_clause}SELECT s.ord, ST_X(p), ST_Y(p) FROM (SELECT s.ord, ST_PointOnSurface(s.geom) AS p "
        f"FROM {source.from_item}) s ORDER BY s.ord"
    )
    return SqlQuery(text, tuple(params.values))


async def batch_with_raster_values(
    pool: asyncpg.Pool,
    rows_query: SqlQuery,
    positions: SqlQuery,
    rasters: list[RasterInfo],
    geojson: bool,
) -> bytes:
    """The batch output (GeoJSON FeatureCollection or CSV) with `raster_values`: a property
    {name: value} per feature, or one `raster_<name>` column per raster."""
    async with pool.acquire() as conn, transaction(conn, readonly=True):
        rows = await conn.fetch(rows_query.text, *rows_query.values)
        where = {r[0]: (r[1], r[2]) for r in await conn.fetch(positions.text, *positions.values)}
    points = [where[row[0]] for row in rows]

    def sample() -> list[list]:
        return [[values[0] for values in sample_points(r, points)] for r in rasters]

    by_raster = await run_in_threadpool(sample)
    if geojson:
        features = []
        for i, row in enumerate(rows):
            feature = orjson.loads(row[1])
            feature["properties"]["raster_values"] = {
                r.name: by_raster[k][i] for k, r in enumerate(rasters)
            }
            features.append(feature)
        return orjson.dumps(
            {"type": "FeatureCollection", "numberReturned": len(features), "features": features}
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow((*COLUMNS, *(f"raster_{r.name}" for r in rasters)))
    for i, row in enumerate(rows):
        writer.writerow((*row[1:], *(by_raster[k][i] for k in range(len(rasters)))))
    return buffer.getvalue().encode()
