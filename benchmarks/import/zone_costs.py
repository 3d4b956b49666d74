"""What PostgreSQL itself spends loading detailed protection zones, and what splitting them into
parts costs on one core and on several.

Run: .venv/bin/python benchmarks/import/zone_costs.py [ZONES] [ROUNDS]   (default 5000, 3)

The zones of bulk_import.py (generate.py, seeded, 300–700 vertices each) are imported once, read
back as COPY text (geometry as hex EWKB) and the table emptied; then, each in a transaction
rolled back:
- the same bytes COPYed into protection_zones with less and less of its work taken away (the
  parts trigger, the audit trigger, the validity check), and into a bare copy of the table;
- the zones COPYed with their parts deferred, as an import copies them, then split by the
  import's own statement (geo/io/importing/zone_parts.py), with parallel workers forbidden and
  as the import runs it.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from generate import generate_zones
from scratch import VETA, load_average, run, scratch_database
from sqlalchemy import text

from geo.io.importing import zone_parts
from geo.store.db import libpq_url, sync_engine

COLUMNS = (
    "source, source_id, name, designation_scheme, designation, legal_effect, legal_basis, "
    "valid_from, remarks, geom"
)
PARTS = "protection_zone_parts_insert"
AUDIT = "protection_zones_audit_insert"
VARIANTS = {
    "protection_zones, everything kept": [],
    "without the parts trigger": [f"ALTER TABLE protection_zones DISABLE TRIGGER {PARTS}"],
    "without the audit trigger": [f"ALTER TABLE protection_zones DISABLE TRIGGER {AUDIT}"],
    "without either trigger": [
        f"ALTER TABLE protection_zones DISABLE TRIGGER {PARTS}",
        f"ALTER TABLE protection_zones DISABLE TRIGGER {AUDIT}",
    ],
    "without either trigger nor the validity check": [
        f"ALTER TABLE protection_zones DISABLE TRIGGER {PARTS}",
        f"ALTER TABLE protection_zones DISABLE TRIGGER {AUDIT}",
        "ALTER TABLE protection_zones DROP CONSTRAINT ck_protection_zones_geom_valid",
    ],
    "a bare table (no constraints, no indexes, no triggers)": [
        "CREATE TEMP TABLE bare AS SELECT * FROM protection_zones WITH NO DATA"
    ],
}
SPLITS = {
    "one core (max_parallel_workers_per_gather = 0)": [
        "SET LOCAL max_parallel_workers_per_gather = 0"
    ],
    "as the import splits them": [],
}


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({' / '.join(f'{v:.2f}' for v in values)})"


def _split(url: str, data: bytes, settings: list[str]) -> float:
    """Seconds to split the zones of `data`, copied with their parts deferred (rolled back)."""
    engine = sync_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT set_config('veta.zone_parts', 'deferred', true)"))
            driver = conn.connection.driver_connection
            assert driver is not None
            with driver.cursor().copy(f"COPY protection_zones ({COLUMNS}) FROM STDIN") as c:
                c.write(data)
            for statement in settings:
                conn.execute(text(statement))
            started = time.perf_counter()
            zone_parts.split_new_zones(conn, "z")
            seconds = time.perf_counter() - started
            conn.rollback()
    finally:
        engine.dispose()
    return seconds


def main(zones: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder, scratch_database("veta_bench_zone_costs") as url:
        path = generate_zones(zones, Path(folder) / "zones.gpkg")
        run([VETA, "import", str(path), "--layer", "protection_zones", "--source", "z"], url)
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            data = bytearray()
            hexed = COLUMNS.replace("geom", "encode(ST_AsEWKB(geom), 'hex')")
            with conn.cursor().copy(f"COPY (SELECT {hexed} FROM protection_zones) TO STDOUT") as c:
                for block in c:
                    data += block
            conn.execute("TRUNCATE protection_zones CASCADE")
            loads, splits = {k: [] for k in VARIANTS}, {k: [] for k in SPLITS}
            for _ in range(rounds):
                for name, before in VARIANTS.items():
                    with conn.transaction(force_rollback=True):
                        for statement in before:
                            conn.execute(statement)
                        target = "bare" if name.startswith("a bare") else "protection_zones"
                        started = time.perf_counter()
                        with conn.cursor().copy(f"COPY {target} ({COLUMNS}) FROM STDIN") as c:
                            c.write(bytes(data))
                        loads[name].append(time.perf_counter() - started)
                for name, settings in SPLITS.items():
                    splits[name].append(_split(url, bytes(data), settings))
    print(
        f"{zones:,} zones ({len(data) / 1e6:.0f} MB of COPY text), {rounds} rounds, "
        f"load average {load_average():.2f} at the end\n"
    )
    print("| COPY into | median s (rounds) |\n| --- | ---: |")
    for name, values in loads.items():
        print(f"| {name} | {_median(values)} |")
    print("\n| splitting every zone into parts | median s (rounds) |\n| --- | ---: |")
    for name, values in splits.items():
        print(f"| {name} | {_median(values)} |")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 5_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 3,
    )
