"""`veta import` vs `ogr2ogr -f PostgreSQL --config PG_USE_COPY YES`, same file, same database.

Run: .venv/bin/python benchmarks/import/bulk_import.py [N] [ROUNDS]   (default 200000 points, 3)

Each round loads the same GeoPackage (N deposit points in EPSG:25830) into one fresh database,
alternating which tool goes first. Wall-clock seconds of whole commands, start-up included:
- ogr2ogr: into a new table of its own (its default: COPY, then a GiST index), the raw load;
- ogr2ogr + SQL into deposits: the same, then the INSERT … SELECT that a user of ogr2ogr needs to
  reach Veta's end state (commodity names to codes, 4326, under deposits' 4 indexes and 11
  CHECK constraints); no validation report;
- veta --dry-run: read, reproject and validate every row, write nothing;
- veta: the whole import into deposits (read, reproject, validate, COPY into staging, insert);
- veta, same file again: every row compared with its record, nothing written.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from generate import COMMODITIES, generate
from scratch import VETA, load_average, ogr_connection, run, scratch_database
from sqlalchemy import text

from geo.db import sync_engine
from geo.vocabulary import commodity_code


def timed(args: list[str], url: str) -> float:
    start = time.perf_counter()
    run(args, url)
    return time.perf_counter() - start


def ogr2ogr_then_insert(ogr: list[str], url: str) -> float:
    """ogr2ogr's raw load, then the SQL that turns it into deposits records."""
    start = time.perf_counter()
    run(ogr, url)
    pairs = [(raw, [commodity_code(x) for x in raw.split(";")]) for raw in COMMODITIES]
    values = ", ".join(f"('{raw}', ARRAY{codes}::text[], ARRAY{['main'] + ['by_product'] * (len(codes) - 1)}::text[])"
                       for raw, codes in pairs)
    engine = sync_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO deposits (source, source_id, name, occurrence_type, commodities, "
            "commodity_importance, location_precision, depth_top_m, depth_bottom_m, remarks, geom) "
            "SELECT 'ogr', o.source_id, o.name, o.occurrence_type, m.codes, m.importance, "
            "o.location_precision, o.depth_top_m, o.depth_bottom_m, o.remarks, ST_Transform(o.geom, 4326) "
            f"FROM bench_ogr o JOIN (VALUES {values}) AS m(raw, codes, importance) ON m.raw = o.commodities"))
    engine.dispose()
    return time.perf_counter() - start


def one_round(path: Path, veta_first: bool) -> dict[str, float]:
    with scratch_database("veta_bench_import") as url:
        ogr = ["ogr2ogr", "-f", "PostgreSQL", ogr_connection(url), str(path), "-nln", "bench_ogr",
               "-lco", "GEOMETRY_NAME=geom", "-overwrite", "--config", "PG_USE_COPY", "YES"]
        veta = [VETA, "import", str(path), "--layer", "deposits", "--source", "bench"]
        times = {}
        for tool in (["veta", "ogr2ogr"] if veta_first else ["ogr2ogr", "veta"]):
            if tool == "veta":
                times["veta --dry-run"] = timed([*veta, "--dry-run"], url)
                times["veta"] = timed(veta, url)
            else:
                times["ogr2ogr"] = timed(ogr, url)
                times["ogr2ogr + SQL into deposits"] = ogr2ogr_then_insert(ogr, url)
        times["veta, same file again"] = timed(veta, url)
        return times


def main(n: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = generate(n, Path(folder) / f"deposits_{n}.gpkg")
        results = [one_round(path, veta_first=r % 2 == 0) for r in range(rounds)]
    print(f"{n:,} points, {rounds} rounds, load average {load_average():.1f} at the end\n")
    print("| tool | median s | min s | rows/s (median) |\n| --- | ---: | ---: | ---: |")
    for tool in ("ogr2ogr", "ogr2ogr + SQL into deposits", "veta --dry-run", "veta", "veta, same file again"):
        values = [r[tool] for r in results]
        median = statistics.median(values)
        print(f"| {tool} | {median:.1f} | {min(values):.1f} | {n / median:,.0f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
