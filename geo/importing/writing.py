"""The bulk write: COPY the valid rows into a staging table, then one upsert that touches only
changed records, optional removal of the source's absent records, and the import_runs record,
all in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.importing.layers import Layer
from geo.importing.report import ImportReport
from geo.importing.validation import ValidRows

COPY_BATCH = 5_000


def _staging(conn: Connection, layer: Layer, columns: list[str]) -> None:
    """A temporary table shaped like the target's written columns, dropped at commit."""
    conn.execute(text(
        f"CREATE TEMP TABLE import_staging ON COMMIT DROP AS "
        f"SELECT {', '.join(columns)}, geom FROM {layer.table.name} WITH NO DATA"))


def _copy(conn: Connection, rows: ValidRows, progress: Callable[[int], None]) -> None:
    cursor = conn.connection.driver_connection.cursor()
    statement = f"COPY import_staging ({', '.join(rows.columns)}, geom) FROM STDIN"
    with cursor.copy(statement) as copy:
        for n, (record, geometry) in enumerate(zip(rows.records, rows.geometry, strict=True), 1):
            copy.write_row((*record, geometry))
            if n % COPY_BATCH == 0:
                progress(COPY_BATCH)
    progress(len(rows.records) % COPY_BATCH)


def _upsert(conn: Connection, layer: Layer, columns: list[str], source: str) -> tuple[int, int]:
    """Insert new records, update changed ones; (inserted, updated). Unchanged rows are not
    written at all, so their updated_at stays and a second run of the same file is a no-op."""
    table = layer.table.name
    written = [*columns, "geom", "source"]
    changing = [c for c in written if c not in layer.key]
    target = ", ".join(layer.key)
    statement = (
        f"WITH upserted AS (INSERT INTO {table} AS t ({', '.join(written)}) "
        f"SELECT {', '.join(columns)}, geom, :source FROM import_staging "
        f"ON CONFLICT ({target}) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in changing)
        + f" WHERE ({', '.join('t.' + c for c in changing)}) IS DISTINCT FROM "
        f"({', '.join('EXCLUDED.' + c for c in changing)}) "
        "RETURNING (xmax = 0) AS inserted) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted")
    inserted, updated = conn.execute(text(statement), {"source": source}).one()
    return inserted, updated


def _delete_absent(conn: Connection, layer: Layer, source: str, keys: list[str]) -> int:
    """--replace-source: remove the source's records whose id is not in the file at all
    (a row that failed validation still counts as present, so it is never deleted)."""
    key = layer.record_id
    result = conn.execute(
        text(f"DELETE FROM {layer.table.name} WHERE source = :source AND NOT ({key} = ANY(:keys))"),
        {"source": source, "keys": keys})
    return result.rowcount


def record_run(conn: Connection, report: ImportReport, checksum: str, started: datetime,
               finished: datetime, user: str, dry_run: bool) -> int:
    """The import_runs row of this run."""
    return conn.execute(text(
        "INSERT INTO import_runs (file, checksum, layer, source, outcome, rows_read, inserted, "
        "updated, unchanged, deleted, rejected, started_at, finished_at, imported_by, dry_run, report) "
        "VALUES (:file, :checksum, :layer, :source, :outcome, :rows_read, :inserted, :updated, "
        ":unchanged, :deleted, :rejected, :started, :finished, :user, :dry_run, CAST(:report AS jsonb)) "
        "RETURNING id"),
        {"file": report.file, "checksum": checksum, "layer": report.layer, "source": report.source,
         "outcome": report.outcome, "rows_read": report.rows_read, "inserted": report.inserted,
         "updated": report.updated, "unchanged": report.unchanged, "deleted": report.deleted,
         "rejected": report.rejected, "started": started, "finished": finished, "user": user,
         "dry_run": dry_run, "report": json.dumps(report.as_dict(), default=str)},
    ).scalar_one()


def write_rows(conn: Connection, layer: Layer, rows: ValidRows, source: str, replace_source: bool,
               report: ImportReport, progress: Callable[[int], None]) -> None:
    """Stage, upsert and (optionally) delete; the counts go into the report. The caller owns
    the transaction, so a failure anywhere leaves the database as it was."""
    _staging(conn, layer, rows.columns)
    _copy(conn, rows, progress)
    report.inserted, report.updated = _upsert(conn, layer, rows.columns, source)
    report.unchanged = len(rows.records) - report.inserted - report.updated
    if replace_source:
        report.deleted = _delete_absent(conn, layer, source, rows.keys)
