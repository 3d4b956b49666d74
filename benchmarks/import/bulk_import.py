"""`veta import` against `ogr2ogr -append` into the same table, for three inputs, on one run.

Run: .venv/bin/python benchmarks/import/bulk_import.py [N] [ROUNDS] [ZONES]
     (default 200000 rows, 3 rounds, 5000 zones)
     PYTHONPATH=<checkout> <venv>/bin/python … measures that checkout's `veta` (scratch.VETA).

Inputs, made by generate.py (seeded, EPSG:25830, over León):
- points: N deposit points as a GeoPackage with Veta's field names (no mapping);
- csv: the same N records as a CSV with its own column names and x/y columns, read by Veta
  through a mapping and by ogr2ogr with -oo X_POSSIBLE_NAMES/Y_POSSIBLE_NAMES;
- zones: ZONES detailed protection zones (300–700 vertices each) as a GeoPackage.

Each round loads each input into one fresh database, the tools in turn (the order alternating
between rounds), the target table emptied before each load so that every tool meets the same
table. Wall-clock seconds of whole commands, start-up included:
- ogr2ogr -append: into Veta's table in one command, as a GIS analyst would write it: the
  codes mapped and the columns renamed in its SQLite-dialect SQL, reprojected with -t_srs,
  every column set so that GDAL can use COPY (it falls back to one INSERT per row when a
  column with a default is left unset);
- veta --dry-run: read, reproject and validate every row, write nothing;
- veta: the whole import (read, reproject, validate, write all or nothing, record the run);
and for the points also the references the README has kept since issue 6:
- ogr2ogr, new table: into a bare table of its own (its default: COPY, then a GiST index), the
  raw load — not Veta's end state (names instead of commodity codes, EPSG:25830, no checks);
- ogr2ogr + SQL into deposits: the raw load, then the INSERT … SELECT a user would write;
- veta, same file again: every row compared with its record, nothing written.
The ratios are medians of veta and of the dry run over the median of ogr2ogr -append.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generate import COMMODITIES, CSV_COLUMNS, generate, generate_csv, generate_zones
from scratch import VETA, load_average, ogr_connection, run, scratch_database
from sqlalchemy import text

from geo.core.vocabulary import commodity_code
from geo.store.db import sync_engine

APPEND = "ogr2ogr -append"
DRY_RUN = "veta --dry-run"
VETA_IMPORT = "veta"
POINT_EXTRAS = ("ogr2ogr, new table", "ogr2ogr + SQL into deposits", "veta, same file again")
# The mapping a user writes for the CSV: its columns to Veta's fields, its coordinates and CRS.
CSV_MAPPING = (
    'layer = "deposits"\ncrs = "EPSG:25830"\n[geometry]\nx = "x"\ny = "y"\n[fields]\n'
    + "".join(f'{field} = "{column}"\n' for field, column in CSV_COLUMNS.items())
)


@dataclass
class Case:
    """One input: how each tool loads it, and the table emptied before each load."""

    name: str
    rows: int
    table: str
    loads: dict[str, Callable[[str], object]]


def _codes(raw: str) -> tuple[list[str], list[str]]:
    """The commodity codes of a cell of the benchmark files, and their importance."""
    codes = [commodity_code(x) for x in raw.split(";")]
    return codes, ["main"] + ["by_product"] * (len(codes) - 1)


def ogr_commodities(column: str) -> str:
    """The SQLite-dialect expressions of the codes and importances of a commodities column,
    as GDAL string lists `(n:a,b)`."""

    def case(pick: int) -> str:
        whens = " ".join(
            f"WHEN '{raw}' THEN '({len(_codes(raw)[pick])}:{','.join(_codes(raw)[pick])})'"
            for raw in COMMODITIES
        )
        return f"CASE {column} {whens} END"

    return f"{case(0)} AS commodities, {case(1)} AS commodity_importance"


# Every column with a default given (confidential too, since migration 0014): one left unset
# makes GDAL fall back from COPY to one INSERT per row.
_DEFAULTED = "datetime('now') AS created_at, datetime('now') AS updated_at"


def ogr_append_sql() -> str:
    """ogr2ogr's SQL from the GeoPackage's columns to deposits' columns."""
    return (
        f"SELECT source_id, name, occurrence_type, {ogr_commodities('commodities')}, "
        "location_precision, depth_top_m, depth_bottom_m, remarks, 'ogr' AS source, "
        f"{_DEFAULTED}, 0 AS confidential, geom FROM deposits"
    )


def ogr_csv_sql(layer: str) -> str:
    """ogr2ogr's SQL from the CSV's columns (all text to GDAL) to deposits' columns."""
    c = CSV_COLUMNS
    return (
        f"SELECT {c['source_id']} AS source_id, {c['name']} AS name, "
        f"{c['occurrence_type']} AS occurrence_type, {ogr_commodities(c['commodities'])}, "
        f'"{c["location_precision"]}" AS location_precision, '
        f"CAST({c['depth_top_m']} AS REAL) AS depth_top_m, "
        f"CAST({c['depth_bottom_m']} AS REAL) AS depth_bottom_m, {c['remarks']} AS remarks, "
        f"'ogr' AS source, {_DEFAULTED}, 0 AS confidential, GEOMETRY FROM \"{layer}\""
    )


def ogr_zones_sql() -> str:
    return (
        "SELECT source_id, name, designation_scheme, designation, legal_effect, legal_basis, "
        f"valid_from, remarks, 'ogr' AS source, {_DEFAULTED}, geom FROM protection_zones"
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


def empty(url: str, table: str) -> None:
    engine = sync_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {table} CASCADE"))
        conn.execute(text("DROP TABLE IF EXISTS bench_ogr"))
    engine.dispose()


def _append(url: str, path: Path, layer: str, sql: str, *options: str) -> list[str]:
    return [
        "ogr2ogr",
        "-append",
        "-f",
        "PostgreSQL",
        ogr_connection(url),
        str(path),
        "-nln",
        layer,
        "-unsetFid",
        "-t_srs",
        "EPSG:4326",
        *options,
        "--config",
        "PG_USE_COPY",
        "YES",
        "-dialect",
        "SQLite",
        "-sql",
        sql,
    ]


def _veta(path: Path, *options: str) -> list[str]:
    return [VETA, "import", str(path), "--source", "bench", *options]


def points_commands(path: Path) -> dict[str, Callable[[str], list[str]]]:
    """The command lines that load the points, given the database's URL (also server_share.py)."""
    veta = _veta(path, "--layer", "deposits")
    return {
        APPEND: lambda url: _append(url, path, "deposits", ogr_append_sql()),
        DRY_RUN: lambda url: [*veta, "--dry-run"],
        VETA_IMPORT: lambda url: veta,
    }


def points_case(path: Path, n: int) -> Case:
    commands = points_commands(path)

    def raw_load(url: str) -> object:
        return run(
            [
                "ogr2ogr",
                "-f",
                "PostgreSQL",
                ogr_connection(url),
                str(path),
                "-nln",
                "bench_ogr",
                "-lco",
                "GEOMETRY_NAME=geom",
                "--config",
                "PG_USE_COPY",
                "YES",
            ],
            url,
        )

    return Case(
        f"{n:,} points (GeoPackage)",
        n,
        "deposits",
        {
            **{
                tool: (lambda url, c=command: run(c(url), url))
                for tool, command in commands.items()
            },
            "ogr2ogr, new table": raw_load,
            "ogr2ogr + SQL into deposits": lambda url: (raw_load(url), insert_from_raw_load(url)),
            "veta, same file again": lambda url: run(commands[VETA_IMPORT](url), url),
        },
    )


def csv_case(path: Path, mapping: Path, n: int) -> Case:
    veta = _veta(path, "--mapping", str(mapping))
    xy = ["-oo", "X_POSSIBLE_NAMES=x", "-oo", "Y_POSSIBLE_NAMES=y", "-oo", "KEEP_GEOM_COLUMNS=NO"]
    sql = ogr_csv_sql(path.stem)
    return Case(
        f"{n:,} rows (CSV, x/y in EPSG:25830, a mapping)",
        n,
        "deposits",
        {
            APPEND: lambda url: run(
                _append(url, path, "deposits", sql, *xy, "-s_srs", "EPSG:25830"), url
            ),
            DRY_RUN: lambda url: run([*veta, "--dry-run"], url),
            VETA_IMPORT: lambda url: run(veta, url),
        },
    )


def zones_commands(path: Path) -> dict[str, Callable[[str], list[str]]]:
    """The command lines that load the zones, given the database's URL (also server_share.py)."""
    veta = _veta(path, "--layer", "protection_zones")
    return {
        APPEND: lambda url: _append(
            url, path, "protection_zones", ogr_zones_sql(), "-nlt", "MULTIPOLYGON"
        ),
        DRY_RUN: lambda url: [*veta, "--dry-run"],
        VETA_IMPORT: lambda url: veta,
    }


def zones_case(path: Path, n: int) -> Case:
    commands = zones_commands(path)
    return Case(
        f"{n:,} detailed polygons (GeoPackage, protection_zones)",
        n,
        "protection_zones",
        {tool: (lambda url, c=command: run(c(url), url)) for tool, command in commands.items()},
    )


def one_round(case: Case, veta_first: bool) -> dict[str, float]:
    """Each tool's seconds for one input; the repeat of veta runs right after veta."""
    tools = [t for t in case.loads if t != "veta, same file again"]
    order = sorted(tools, key=lambda t: t.startswith("veta") != veta_first)
    times = {}
    with scratch_database("veta_bench_import") as url:
        for tool in order:
            empty(url, case.table)
            started = time.perf_counter()
            case.loads[tool](url)
            times[tool] = time.perf_counter() - started
            if tool == VETA_IMPORT and "veta, same file again" in case.loads:
                started = time.perf_counter()
                case.loads["veta, same file again"](url)
                times["veta, same file again"] = time.perf_counter() - started
    return times


def report(case: Case, results: list[dict[str, float]], loads: list[float]) -> None:
    print(
        f"\n**{case.name}**, {len(results)} rounds, load average "
        f"{min(loads):.1f}–{max(loads):.1f} (1 min, at the end of each round)\n"
    )
    print(
        "| tool | median s | min s | rows/s (median) | rounds |\n| --- | ---: | ---: | ---: | --- |"
    )
    medians = {}
    for tool in case.loads:
        values = [r[tool] for r in results]
        medians[tool] = statistics.median(values)
        print(
            f"| {tool} | {medians[tool]:.1f} | {min(values):.1f} | "
            f"{case.rows / medians[tool]:,.0f} | {' / '.join(f'{v:.1f}' for v in values)} |"
        )
    print(
        f"\nveta / ogr2ogr -append: {medians[VETA_IMPORT] / medians[APPEND]:.2f}x (target ≤ 1.0), "
        f"dry run / ogr2ogr -append: {medians[DRY_RUN] / medians[APPEND]:.2f}x (target ≤ 0.6)"
    )


def main(n: int, rounds: int, zones: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        mapping = Path(folder) / "csv_mapping.toml"
        mapping.write_text(CSV_MAPPING)
        cases = [
            points_case(generate(n, Path(folder) / f"deposits_{n}.gpkg"), n),
            csv_case(generate_csv(n, Path(folder) / f"deposits_{n}.csv"), mapping, n),
            zones_case(generate_zones(zones, Path(folder) / f"zones_{zones}.gpkg"), zones),
        ]
        for case in cases:
            results, loads = [], []
            for r in range(rounds):
                results.append(one_round(case, veta_first=r % 2 == 0))
                loads.append(load_average())
            report(case, results, loads)


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 200_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 3,
        int(sys.argv[3]) if len(sys.argv) > 3 else 5_000,
    )
