"""`python -m benchmarks.screening.costs`: where the time of the zone rule goes, subdivided parts
against whole polygons, statement by statement on veta_bench_screening (build it first with
`python -m benchmarks.screening`).

Each statement runs ROUNDS times, the variants alternating; the median is printed:
- the index probe alone (`&&`: every part whose box holds the deposit, once per deposit) and the
  probe with ST_Intersects, on the parts (through the SP-GiST index, as served, then the GiST)
  and on whole polygons;
- the batch's zone join (each part, or whole polygon, probing the deposits' index), and the box
  candidates it tests in each variant.
Whole polygons are a temporary table of each zone's polygons with the same two indexes.
"""

from __future__ import annotations

import statistics
import time

import psycopg

from benchmarks.data import url_of
from benchmarks.screening.__main__ import DB
from geo.store.db import libpq_url

ROUNDS = 3
# As the zone rule probes (geo/rules/protection.py): every part under each deposit, not just a first one.
PROBE = (
    "SELECT sum(cardinality(ARRAY(SELECT p.zone_id FROM {parts} p WHERE {test}))) FROM deposits t"
)
ZONE_JOIN = (
    "SELECT count(*) FROM (SELECT DISTINCT d.id, z.id FROM {parts} part JOIN protection_zones z ON z.id = part.zone_id "
    "JOIN deposits d ON ST_Intersects(part.geom, d.geom) WHERE z.legal_effect IN ('exclusion', 'conditional') "
    "AND depth_intervals_overlap(z.depth_top_m, z.depth_bottom_m, d.depth_top_m, d.depth_bottom_m)) x"
)
CANDIDATES = "SELECT count(*) FROM {parts} part JOIN deposits d ON part.geom && d.geom"


def main() -> None:
    with psycopg.connect(libpq_url(url_of(DB)), autocommit=True) as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")
        conn.execute("SET jit = off")
        conn.execute(
            "CREATE TEMP TABLE whole_parts AS SELECT id AS zone_id, (ST_Dump(geom)).geom FROM protection_zones"
        )
        conn.execute("CREATE INDEX ON whole_parts USING gist (geom)")
        conn.execute("CREATE INDEX ON whole_parts USING spgist (geom)")
        conn.execute("ANALYZE whole_parts")
        deposits = conn.execute("SELECT count(*) FROM deposits").fetchone()[0]

        def timed(sql: str, gist_only: bool) -> float:
            # The GiST variant hides the parts' SP-GiST index inside a transaction rolled back after.
            with conn.transaction(force_rollback=True):
                if gist_only:
                    conn.execute("DROP INDEX ix_protection_zone_parts_geom_spgist")
                started = time.perf_counter()
                conn.execute(sql).fetchone()
                return time.perf_counter() - started

        cases = {
            "probe && (parts, SP-GiST)": (
                PROBE.format(parts="protection_zone_parts", test="p.geom && t.geom"),
                False,
            ),
            "probe && (parts, GiST)": (
                PROBE.format(parts="protection_zone_parts", test="p.geom && t.geom"),
                True,
            ),
            "probe && (whole polygons)": (
                PROBE.format(parts="whole_parts", test="p.geom && t.geom"),
                False,
            ),
            "probe ST_Intersects (parts, SP-GiST)": (
                PROBE.format(parts="protection_zone_parts", test="ST_Intersects(p.geom, t.geom)"),
                False,
            ),
            "probe ST_Intersects (parts, GiST)": (
                PROBE.format(parts="protection_zone_parts", test="ST_Intersects(p.geom, t.geom)"),
                True,
            ),
            "probe ST_Intersects (whole polygons)": (
                PROBE.format(parts="whole_parts", test="ST_Intersects(p.geom, t.geom)"),
                False,
            ),
            "batch zone join (parts)": (ZONE_JOIN.format(parts="protection_zone_parts"), False),
            "batch zone join (whole polygons)": (ZONE_JOIN.format(parts="whole_parts"), False),
        }
        runs: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(ROUNDS):
            for name, (sql, gist_only) in cases.items():
                runs[name].append(timed(sql, gist_only))
        candidates = {
            name: conn.execute(CANDIDATES.format(parts=table)).fetchone()[0]
            for name, table in (
                ("parts", "protection_zone_parts"),
                ("whole polygons", "whole_parts"),
            )
        }
    print(f"{deposits:,} deposits, {ROUNDS} rounds\n")
    print("| statement | median s | µs per deposit | rounds |\n| --- | ---: | ---: | --- |")
    for name, values in runs.items():
        median = statistics.median(values)
        print(
            f"| {name} | {median:.2f} | {median / deposits * 1e6:.1f} | "
            f"{' / '.join(f'{v:.2f}' for v in values)} |"
        )
    print(f"\nbox candidates of the batch's zone join: {candidates}")


if __name__ == "__main__":
    main()
