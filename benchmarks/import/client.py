"""The client side of `veta import` (start-up, read, reproject, validate), timed against
`ogr2ogr -f PostgreSQL --config PG_USE_COPY YES` loading the same GeoPackage.

Run: .venv/bin/python benchmarks/import/client.py [N] [ROUNDS]   (default 200000 points, 5 rounds)

Each round times, alternating which goes first, whole commands (start-up included) on one
throwaway database: `veta import … --dry-run` (everything but the write) and ogr2ogr's raw load
into a new table. Then, in this process, the dry run's stages one by one (best of ROUNDS):
start-up imports (in a fresh interpreter), reading, reprojecting and validating.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generate import generate
from scratch import VETA, load_average, ogr_connection, run, scratch_database

PYTHON = sys.executable


def timed(args: list[str], url: str) -> float:
    start = time.perf_counter()
    run(args, url)
    return time.perf_counter() - start


def commands(path: Path, url: str, rounds: int) -> dict[str, list[float]]:
    veta = [VETA, "import", str(path), "--layer", "deposits", "--source", "bench", "--dry-run"]
    ogr = [
        "ogr2ogr",
        "-f",
        "PostgreSQL",
        ogr_connection(url),
        str(path),
        "-nln",
        "bench_ogr",
        "-lco",
        "GEOMETRY_NAME=geom",
        "-overwrite",
        "--config",
        "PG_USE_COPY",
        "YES",
    ]
    times: dict[str, list[float]] = {"veta import --dry-run": [], "ogr2ogr (raw load)": []}
    for r in range(rounds):
        order = [("veta import --dry-run", veta), ("ogr2ogr (raw load)", ogr)]
        for name, args in order if r % 2 == 0 else order[::-1]:
            times[name].append(timed(args, url))
    return times


def stages(path: Path, rounds: int) -> dict[str, float]:
    """Best-of-ROUNDS seconds of each client stage of a dry run."""
    from geo.io.importing.crs import choose_crs, to_lonlat
    from geo.io.importing.mapping import load_mapping
    from geo.io.importing.reading import read_source
    from geo.io.importing.targets import LAYERS
    from geo.io.importing.validation import validate

    startup = (
        "import time; t = time.perf_counter(); import cli, geo.store.db, geo.io.importing.pipeline; "
        "print(time.perf_counter() - t)"
    )
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, seconds), seconds)

    for _ in range(rounds):
        out = subprocess.run([PYTHON, "-c", startup], capture_output=True, text=True, check=True)
        keep("start-up imports (fresh interpreter)", float(out.stdout))
        mapping, layer = load_mapping(None), LAYERS["deposits"]
        t0 = time.perf_counter()
        table = read_source(path, mapping, layer.name)
        t1 = time.perf_counter()
        geometry, _ = to_lonlat(table.geometry, choose_crs(table.crs, None, None, table.geometry))
        t2 = time.perf_counter()
        rows = validate(
            layer, mapping, table.columns, geometry, table.geometry_columns, repair=False
        )
        t3 = time.perf_counter()
        assert len(rows.rows) == len(table), rows.problems[:3]
        keep("read", t1 - t0)
        keep("reproject", t2 - t1)
        keep("validate (incl. hex WKB)", t3 - t2)
    return best


def main(n: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = generate(n, Path(folder) / f"deposits_{n}.gpkg")
        with scratch_database("veta_bench_client") as url:
            times = commands(path, url, rounds)
        parts = stages(path, rounds)
    print(
        f"{n:,} points (GeoPackage, EPSG:25830), {rounds} rounds, load average "
        f"{load_average():.1f} at the end\n"
    )
    print("| command | median s | min s |\n| --- | ---: | ---: |")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} |")
    print("\n| dry-run stage (in-process, best) | s |\n| --- | ---: |")
    for name, seconds in parts.items():
        print(f"| {name} | {seconds:.2f} |")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 200_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 5,
    )
