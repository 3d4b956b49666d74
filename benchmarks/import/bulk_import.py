"""`veta import` vs `ogr2ogr -f PostgreSQL --config PG_USE_COPY YES`, same file, same database.

Run: .venv/bin/python benchmarks/import/bulk_import.py [N] [ROUNDS]   (default 200000 points, 3)

Each round loads the same GeoPackage (N deposit points in EPSG:25830) with both tools into one
fresh database, alternating which goes first: ogr2ogr into a new table (its default: COPY, then
a GiST index), Veta into `deposits` (read, reproject, validate every row, COPY into staging,
insert under the table's 4 indexes and 11 CHECK constraints), then Veta again with the same
file (every row compared, nothing written). Wall-clock seconds of each whole command, process
start-up included.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from generate import generate
from scratch import VETA, load_average, ogr_connection, run, scratch_database


def timed(args: list[str], url: str) -> float:
    start = time.perf_counter()
    run(args, url)
    return time.perf_counter() - start


def one_round(path: Path, veta_first: bool) -> dict[str, float]:
    with scratch_database("veta_bench_import") as url:
        ogr = ["ogr2ogr", "-f", "PostgreSQL", ogr_connection(url), str(path), "-nln", "bench_ogr",
               "-lco", "GEOMETRY_NAME=geom", "--config", "PG_USE_COPY", "YES"]
        veta = [VETA, "import", str(path), "--layer", "deposits", "--source", "bench"]
        times = {}
        for tool in (["veta", "ogr2ogr"] if veta_first else ["ogr2ogr", "veta"]):
            times[tool] = timed(veta if tool == "veta" else ogr, url)
        times["veta, same file again"] = timed(veta, url)
        return times


def main(n: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = generate(n, Path(folder) / f"deposits_{n}.gpkg")
        results = [one_round(path, veta_first=r % 2 == 0) for r in range(rounds)]
    print(f"{n:,} points, {rounds} rounds, load average {load_average():.1f} at the end\n")
    print("| tool | median s | min s | rows/s (median) |\n| --- | ---: | ---: | ---: |")
    for tool in results[0]:
        values = [r[tool] for r in results]
        median = statistics.median(values)
        print(f"| {tool} | {median:.1f} | {min(values):.1f} | {n / median:,.0f} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
