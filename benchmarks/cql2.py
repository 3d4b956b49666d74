"""`python -m benchmarks.cql2`: what a CQL2 filter costs in Python (parse + translate) and in
PostGIS (the translated fragment, counted over the 100,000-deposit database)."""

from __future__ import annotations

import asyncio
import statistics
import time

import asyncpg
from pyproj import Transformer

from benchmarks.data import LARGE_DB, url_of
from geo.core.sql import Params
from geo.core.vocabulary import COMMODITY_CODES
from geo.features.cql2 import Queryable, _parse, cql2_where
from geo.store.db import SESSION_SETTINGS, libpq_url

FIELDS = {
    q.name: q
    for q in (
        Queryable("name", "d.name", "string", "Name"),
        Queryable("main_commodity", "d.commodities[1]", "string", "Main", enum=COMMODITY_CODES),
        Queryable("commodity", "d.commodities", "string_array", "All", enum=COMMODITY_CODES),
        Queryable("depth_top_m", "d.depth_top_m", "number", "Top"),
        Queryable("geometry", "d.geom", "geometry", "Geometry"),
    )
}
_to_utm = Transformer.from_crs(4326, 25830, always_xy=True)
_UTM_BOX = (*_to_utm.transform(-6.2, 42.5), *_to_utm.transform(-5.8, 42.8))
FILTERS = [
    ("list: commodity IN", "commodity IN ('tungsten','lithium')", None),
    ("scalar: main_commodity IN", "main_commodity IN ('tungsten','lithium')", None),
    ("list = and depth", "commodity = 'tungsten' AND depth_top_m > 100", None),
    ("BBOX in CRS84", "S_INTERSECTS(geometry, BBOX(-6.2, 42.5, -5.8, 42.8))", None),
    (
        "BBOX in EPSG:25830",
        "S_INTERSECTS(geometry, BBOX({}, {}, {}, {}))".format(*_UTM_BOX),
        "EPSG:25830",
    ),
    ("LIKE with CASEI/ACCENTI", "ACCENTI(CASEI(name)) LIKE ACCENTI(CASEI('%peña%'))", None),
]


def _median_us(run, repeat: int = 2000) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def translation_us(text: str, crs: str | None) -> tuple[float, float]:
    """Median µs of cql2_where with the parse cache cleared each time (cold) and kept (warm)."""

    def cold():
        _parse.cache_clear()
        cql2_where(text, "cql2-text", FIELDS, Params(), crs)

    return _median_us(cold, 500), _median_us(
        lambda: cql2_where(text, "cql2-text", FIELDS, Params(), crs)
    )


async def sql_ms(conn: asyncpg.Connection, text: str, crs: str | None) -> tuple[float, int, str]:
    """Median ms of the count over deposits, the count, and the plan's scan nodes."""
    params = Params()
    sql = f"SELECT count(*) FROM deposits d WHERE {cql2_where(text, 'cql2-text', FIELDS, params, crs)}"
    count = await conn.fetchval(sql, *params.values)
    times = []
    for _ in range(15):
        start = time.perf_counter()
        await conn.fetchval(sql, *params.values)
        times.append(time.perf_counter() - start)
    plan = [r[0] for r in await conn.fetch(f"EXPLAIN {sql}", *params.values)]
    scans = sorted(
        {line.split("on ")[0].strip(" ->").split("  ")[0] for line in plan if " on " in line}
    )
    return statistics.median(times) * 1000, count, ", ".join(scans)


async def main() -> None:
    conn = await asyncpg.connect(libpq_url(url_of(LARGE_DB)), server_settings=SESSION_SETTINGS)
    total = await conn.fetchval("SELECT count(*) FROM deposits")
    print(f"{total:,} deposits\n")
    print("| filter | parse + translate, cold µs | warm µs | SQL count ms | matches | plan |")
    print("|---|---:|---:|---:|---:|---|")
    try:
        for label, text, crs in FILTERS:
            cold, warm = translation_us(text, crs)
            ms, count, scans = await sql_ms(conn, text, crs)
            print(f"| {label} | {cold:.0f} | {warm:.0f} | {ms:.1f} | {count:,} | {scans} |")
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
