"""`veta import` vs `ogr2ogr -f PostgreSQL --config PG_USE_COPY YES`, same file, same database.

Run: .venv/bin/python benchmarks/import/bulk_import.py [N] [ROUNDS]   (default 200000 points, 3)

Each round loads the same GeoPackage (N deposit points in EPSG:25830) into one fresh database,
the tools in turn (the order alternating between rounds), `deposits` emptied before each load so
that every tool meets the same table. Wall-clock seconds of whole commands, start-up included:
- ogr2ogr, new table: into a bare table of its own (its default: COPY, then a GiST index), the
  raw load — not Veta's end state (names instead of commodity codes, EPSG:25830, no checks);
- ogr2ogr into deposits: `-append` into Veta's `deposits` in one command, the commodity codes
  mapped in its SQLite-dialect SQL, reprojected with -t_srs, every column set so that GDAL can
  use COPY (it falls back to one INSERT per row when a column with a default is left unset);
- ogr2ogr + SQL into deposits: the raw load, then the INSERT … SELECT a user would write;
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

from geo.core.vocabulary import commodity_code
from geo.store.db import sync_engine

TOOLS = (
    "ogr2ogr, new table",
    "ogr2ogr into deposits",
    "ogr2ogr + SQL into deposits",
    "veta --dry-run",
    "veta",
    "veta, same file again",
)


def _codes(raw: str) -> tuple[list[str], list[str]]:
    """The commodity codes of a cell of the benchmark file, and their importance."""
    codes = [commodity_code(x) for x in raw.split(";")]
    return codes, ["main"] + ["by_product"] * (len(codes) - 1)


def ogr_append_sql() -> str:
    """ogr2ogr's SQL (SQLite dialect) from the file's columns to deposits' columns; lists in
    GDAL's string-list syntax `(n:a,b)`."""

    def case(pick: int) -> str:
        whens = " ".join(
            f"WHEN '{raw}' THEN '({len(_codes(raw)[pick])}:{','.join(_codes(raw)[pick])})'"
            for raw in COMMODITIES
        )
        return f"CASE commodities {whens} END"

    return (
        f"SELECT source_id, name, occurrence_type, {case(0)} AS commodities, {case(1)} AS commodity_importance, "
        "location_precision, depth_top_m, depth_bottom_m, remarks, 'ogr' AS source, "
        # Every column with a default given (confidential too, since migration 0014): one left
        # unset makes GDAL fall back from COPY to one INSERT per row.
        "datetime('now') AS created_at, datetime('now') AS updated_at, 0 AS confidential, "
        "geom FROM deposits"
    )


def insert_from_raw_load(url: str) -> None:
    """The SQL that turns ogr2ogr's raw table into deposits records."""
    values = ", ".join(
        f"('{raw}', ARRAY{_codes(raw)[0]}::text[], ARRAY{_codes(raw)[1]}::text[])"
        for raw in COMMODITIES
    )
    engine = sync_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO deposits (source, source_id, name, occurrence_type, commodities, "
                "commodity_importance, location_precision, depth_top_m, depth_bottom_m, remarks, geom) "
                "SELECT 'ogr', o.source_id, o.name, o.occurrence_type, m.codes, m.importance, "
                "o.location_precision, o.depth_top_m, o.depth_bottom_m, o.remarks, ST_Transform(o.geom, 4326) "
                f"FROM bench_ogr o JOIN (VALUES {values}) AS m(raw, codes, importance) ON m.raw = o.commodities"
            )
        )
    engine.dispose()


def empty(url: str) -> None:
    engine = sync_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE deposits CASCADE"))
        conn.execute(text("DROP TABLE IF EXISTS bench_ogr"))
    engine.dispose()


def one_round(path: Path, veta_first: bool) -> dict[str, float]:
    with scratch_database("veta_bench_import") as url:
        connection = ogr_connection(url)
        raw_load = [
            "ogr2ogr",
            "-f",
            "PostgreSQL",
            connection,
            str(path),
            "-nln",
            "bench_ogr",
            "-lco",
            "GEOMETRY_NAME=geom",
            "--config",
            "PG_USE_COPY",
            "YES",
        ]
        append = [
            "ogr2ogr",
            "-append",
            "-f",
            "PostgreSQL",
            connection,
            str(path),
            "-nln",
            "deposits",
            "-unsetFid",
            "-t_srs",
            "EPSG:4326",
            "--config",
            "PG_USE_COPY",
            "YES",
            "-dialect",
            "SQLite",
            "-sql",
            ogr_append_sql(),
        ]
        veta = [VETA, "import", str(path), "--layer", "deposits", "--source", "bench"]
        loads = {
            "ogr2ogr, new table": lambda: run(raw_load, url),
            "ogr2ogr into deposits": lambda: run(append, url),
            "ogr2ogr + SQL into deposits": lambda: (run(raw_load, url), insert_from_raw_load(url)),
            "veta --dry-run": lambda: run([*veta, "--dry-run"], url),
            "veta": lambda: run(veta, url),
            "veta, same file again": lambda: run(veta, url),
        }
        order = list(TOOLS) if not veta_first else [*TOOLS[3:], *TOOLS[:3]]
        times = {}
        for tool in order:
            if tool != "veta, same file again":
                empty(url)
            started = time.perf_counter()
            loads[tool]()
            times[tool] = time.perf_counter() - started
        return times


def main(n: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = generate(n, Path(folder) / f"deposits_{n}.gpkg")
        results = [one_round(path, veta_first=r % 2 == 0) for r in range(rounds)]
    print(f"{n:,} points, {rounds} rounds, load average {load_average():.1f} at the end\n")
    print(
        "| tool | median s | min s | rows/s (median) | rounds |\n| --- | ---: | ---: | ---: | --- |"
    )
    for tool in TOOLS:
        values = [r[tool] for r in results]
        median = statistics.median(values)
        print(
            f"| {tool} | {median:.1f} | {min(values):.1f} | {n / median:,.0f} | "
            f"{' / '.join(f'{v:.1f}' for v in values)} |"
        )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 200_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 3,
    )
