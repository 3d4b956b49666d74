"""Peak memory of `veta export` at 100,000 and 1,000,000 features: constant, not proportional.

Run: .venv/bin/python benchmarks/import/export_memory.py [FORMATS…]   (default: all six)

Fills a fresh database with 1,000,000 synthetic deposit points (one INSERT … SELECT), then
exports the first 100,000 (a CQL2 filter on source_id) and all 1,000,000 in each format with
/usr/bin/time -v, reporting the peak resident set size of the process, its time and the file size.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

from scratch import VETA, load_average, run, scratch_database
from sqlalchemy import text

from geo.store.db import sync_engine

FORMATS = ("gpkg", "fgb", "parquet", "csv", "geojson", "shp")
FILL = """
INSERT INTO deposits (source, source_id, name, occurrence_type, commodities, commodity_importance,
                      location_precision, depth_top_m, remarks, geom)
SELECT 'bench', lpad(i::text, 7, '0'), 'Synthetic deposit ' || i, 'occurrence',
       ARRAY['tungsten', 'tin'], ARRAY['main', 'by_product'], 'approximate', (i % 500)::float8,
       'synthetic benchmark record',
       ST_SetSRID(ST_MakePoint(-7 + (i % 1000) * 0.0022, 42 + (i / 1000) * 0.0012), 4326)
FROM generate_series(1, 1000000) AS i
"""


def peak(url: str, fmt: str, out: Path, only_first: int | None) -> tuple[float, float, int]:
    """(peak RSS MiB, seconds, file bytes) of one export."""
    args = [
        "/usr/bin/time",
        "-v",
        VETA,
        "export",
        "--layer",
        "deposits",
        "--format",
        fmt,
        "-o",
        str(out),
    ]
    if only_first:
        args += ["--filter", f"source_id <= '{only_first:07d}'"]
    start = time.perf_counter()
    result = run(args, url)
    seconds = time.perf_counter() - start
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    size = sum(p.stat().st_size for p in out.parent.glob(out.stem + ".*"))
    return rss_kib / 1024, seconds, size


def main(formats: tuple[str, ...]) -> None:
    with scratch_database("veta_bench_export") as url, tempfile.TemporaryDirectory() as folder:
        engine = sync_engine(url)
        with engine.begin() as conn:
            conn.execute(text(FILL))
        engine.dispose()
        print(f"load average {load_average():.1f}\n")
        print(
            "| format | features | peak RSS MiB | seconds | file MiB |\n| --- | ---: | ---: | ---: | ---: |"
        )
        for fmt in formats:
            for n in (100_000, 1_000_000):
                out = Path(folder) / f"{fmt}_{n}" / f"deposits.{fmt}"
                out.parent.mkdir()
                rss, seconds, size = peak(url, fmt, out, n if n < 1_000_000 else None)
                print(
                    f"| {fmt} | {n:,} | {rss:.0f} | {seconds:.1f} | {size / 2**20:.0f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or FORMATS)
