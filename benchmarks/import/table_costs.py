"""What PostgreSQL itself spends loading N deposit rows: the same COPY data into a bare table and
into `deposits` with less and less of its integrity taken away, each in a transaction rolled back.

Run: .venv/bin/python benchmarks/import/table_costs.py [N] [ROUNDS]   (default 200000, 3)

The rows are made once in SQL (seeded points over León, codes, depths) and read back as the CSV
that `veta import` sends (geometry as 'SRID=4326;' + hex WKB); every variant COPYs the same bytes.
"""

from __future__ import annotations

import statistics
import sys
import time

import psycopg
from scratch import scratch_database

from geo.store.db import libpq_url

COLUMNS = (
    "name, occurrence_type, commodities, commodity_importance, depth_top_m, depth_bottom_m, "
    "location_precision, source_id, remarks, source, geom"
)
ROWS = """
SELECT 'Deposit ' || i, 'occurrence', ARRAY['tungsten', 'tin'], ARRAY['main', 'by_product'],
       round((random() * 100)::numeric, 1), round((150 + random() * 700)::numeric, 1), 'approximate',
       'b' || i, 'synthetic benchmark record', 'bench',
       'SRID=4326;' || encode(ST_AsBinary(ST_MakePoint(-7 + random() * 2.2, 42 + random() * 1.2)), 'hex')
FROM generate_series(1, %s) AS i
"""
VARIANTS = {
    "bare table (no constraints, no indexes)": [
        "CREATE TEMP TABLE target AS SELECT * FROM deposits WITH NO DATA"
    ],
    "deposits, GiST and GIN dropped": [
        "DROP INDEX ix_deposits_geom",
        "DROP INDEX ix_deposits_commodities",
    ],
    # What the audit trail (migration 0014) costs every writer: its statement trigger off.
    "deposits, GiST and GIN dropped, no audit trigger": [
        "DROP INDEX ix_deposits_geom",
        "DROP INDEX ix_deposits_commodities",
        "ALTER TABLE deposits DISABLE TRIGGER deposits_audit_insert",
    ],
    "deposits, GiST, GIN and the unique key dropped": [
        "DROP INDEX ix_deposits_geom",
        "DROP INDEX ix_deposits_commodities",
        "ALTER TABLE deposits DROP CONSTRAINT uq_deposits_source_source_id",
    ],
    "deposits, GiST, GIN and every CHECK dropped": [
        "DROP INDEX ix_deposits_geom",
        "DROP INDEX ix_deposits_commodities",
        "DO $$ DECLARE c text; BEGIN FOR c IN SELECT conname FROM pg_constraint "
        "WHERE conrelid = 'deposits'::regclass AND contype = 'c' LOOP "
        "EXECUTE format('ALTER TABLE deposits DROP CONSTRAINT %I', c); END LOOP; END $$",
    ],
    "deposits, everything kept (indexes maintained row by row)": [],
    # What the summary of the cluster tiles (migration 0016) adds: the same, less its trigger.
    "deposits, everything kept but the deposit cells' trigger": [
        "DROP TRIGGER deposits_cells_insert ON deposits"
    ],
}
AFTER = {  # what a variant builds again after the COPY (the bulk path's rebuild)
    "deposits, GiST and GIN dropped": [
        "CREATE INDEX ix_deposits_geom ON deposits USING gist (geom)",
        "CREATE INDEX ix_deposits_commodities ON deposits USING gin (commodities)",
    ],
}


def main(n: int, rounds: int) -> None:
    with (
        scratch_database("veta_bench_table_costs") as url,
        psycopg.connect(libpq_url(url), autocommit=True) as conn,
    ):
        conn.execute("SELECT setseed(0.42)")
        data = bytearray()
        with conn.cursor().copy(f"COPY ({ROWS % n}) TO STDOUT WITH (FORMAT csv)") as copy:
            for chunk in copy:
                data += chunk
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
        for _ in range(rounds):
            for name, before in VARIANTS.items():
                with conn.transaction(force_rollback=True):
                    for statement in before:
                        conn.execute(statement)
                    target = "target" if name.startswith("bare") else "deposits"
                    started = time.perf_counter()
                    with conn.cursor().copy(
                        f"COPY {target} ({COLUMNS}) FROM STDIN WITH (FORMAT csv)"
                    ) as copy:
                        copy.write(bytes(data))
                    copied = time.perf_counter() - started
                    for statement in AFTER.get(name, []):
                        conn.execute(statement)
                    times[name].append((copied, time.perf_counter() - started - copied))
    print(f"{n:,} rows, {rounds} rounds\n")
    print(
        "| COPY into | COPY median s | then rebuilding the indexes, median s |\n| --- | ---: | ---: |"
    )
    for name, runs in times.items():
        rebuild = statistics.median(r[1] for r in runs) if name in AFTER else None
        print(
            f"| {name} | {statistics.median(r[0] for r in runs):.2f} | "
            f"{'' if rebuild is None else f'{rebuild:.2f}'} |"
        )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 200_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 3,
    )
