"""The bulk write: COPY the valid rows, chunk by chunk, into a staging table (or straight into
the table on a source's first import), set aside the unchanged ones, update the changed records
and insert the new ones, optionally remove the source's absent records, and record the run, all
in one transaction."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.io.importing import zone_parts
from geo.io.importing.report import ImportReport, Problem
from geo.io.importing.targets import Layer
from geo.io.importing.validation import ValidRows

COPY_BATCH = 10_000
# Below this many new rows, keeping the indexes up to date costs less than any rebuild.
BULK_MIN_ROWS = 20_000
_ARROW_TYPES = {
    "text": pa.string(),
    "number": pa.float64(),
    "integer": pa.int64(),
    "date": pa.date32(),
}


def _staging(conn: Connection, layer: Layer, columns: list[str]) -> None:
    """A temporary table shaped like the target's written columns, dropped at commit."""
    conn.execute(
        text(
            f"CREATE TEMP TABLE import_staging ON COMMIT DROP AS "
            f"SELECT {', '.join(columns)}, geom::geometry AS geom FROM {layer.name} WITH NO DATA"
        )
    )


def _arrow_column(layer: Layer, name: str, values: list) -> pa.Array:
    kind = layer.fields[name].kind if name in layer.fields else "text"
    if kind == "list":
        # PostgreSQL array literals; the items are code-list values (letters, digits, '_'),
        # which need no quoting.
        return pa.array(
            [None if x is None else "{" + ",".join(x) + "}" for x in values], pa.string()
        )
    return pa.array(values, _ARROW_TYPES[kind])


@dataclass
class Encoded:
    """A chunk's rows as the bytes of one COPY: the statement, and the data in blocks of at most
    COPY_BATCH rows (the number of rows of each)."""

    statement: str
    blocks: list[tuple[bytes, int]]

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.blocks)


def encode_rows(layer: Layer, rows: ValidRows, write: Write) -> Encoded:
    """The valid rows as CSV written by Arrow (C++), for COPY: the bulk path. Into the staging
    table as they are, or, given the source, straight into the layer's table: the source as a
    column and each geometry as 'SRID=4326;' + hex WKB, which PostGIS reads into a
    geometry(…, 4326) column. Encoded before it is sent, so that the COPY is never kept
    waiting while a chunk is turned into CSV: a chunk of detailed polygons is megabytes."""
    names = [*rows.columns, "geom"]
    columns = [*(_arrow_column(layer, c, rows.values[c]) for c in rows.columns), rows.geometry]
    if write.source is not None:
        names.append("source")
        columns[-1] = pc.binary_join_element_wise(
            pa.scalar("SRID=4326;", pa.large_string()),
            rows.geometry,
            pa.scalar("", pa.large_string()),
        )
        columns.append(pa.repeat(pa.scalar(write.source, pa.string()), len(rows.rows)))
    table = pa.table(columns, names=names)
    blocks = []
    for start in range(0, table.num_rows, COPY_BATCH):
        chunk = table.slice(start, COPY_BATCH)
        buffer = io.BytesIO()
        # Strings are always quoted and nulls left empty: PostgreSQL's CSV tells '' from NULL.
        csv.write_csv(chunk, buffer, csv.WriteOptions(include_header=False))
        blocks.append((buffer.getvalue(), chunk.num_rows))
    statement = f"COPY {write.into} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)"
    return Encoded(statement, blocks)


def _staged(columns: list[str]) -> dict[str, str]:
    """Target column -> its value from a staged row `s` (the run's source is a parameter)."""
    return {c: f"s.{c}" for c in columns} | {
        "geom": "ST_SetSRID(s.geom, 4326)",
        "source": "CAST(:source AS varchar)",
    }


def _drop_unchanged(conn: Connection, layer: Layer, columns: list[str], source: str) -> int:
    """Take out the staged rows identical to their stored record (one hash join instead of a
    conflict check per row); their number is the run's `unchanged`."""
    # Statistics of the key alone, which is all the joins match on (a whole-table ANALYZE
    # also samples the geometry: several times longer).
    conn.execute(
        text(f"ANALYZE import_staging ({', '.join(k for k in layer.key if k != 'source')})")
    )
    staged = _staged(columns)
    match = " AND ".join(f"t.{k} = {staged[k]}" for k in layer.key)
    compared = [c for c in staged if c not in layer.key]
    return conn.execute(
        text(
            f"DELETE FROM import_staging s USING {layer.name} t WHERE {match} AND "
            f"({', '.join('t.' + c for c in compared)}) IS NOT DISTINCT FROM "
            f"({', '.join(staged[c] for c in compared)})"
        ),
        {"source": source},
    ).rowcount


def _holds_records(conn: Connection, layer: Layer, source: str) -> bool:
    """Whether any staged row may match a stored record. A first import of a source cannot,
    when records are matched within their source: it skips the comparing joins."""
    if "source" not in layer.key:
        return True
    return conn.execute(
        text(f"SELECT EXISTS (SELECT 1 FROM {layer.name} WHERE source = :source)"),
        {"source": source},
    ).scalar_one()


def _row_security(conn: Connection, layer: Layer) -> bool:
    return conn.execute(
        text("SELECT row_security_active(CAST(:t AS regclass))"), {"t": layer.name}
    ).scalar_one()


def _update(conn: Connection, layer: Layer, columns: list[str], source: str) -> int:
    """Update the records whose staged row differs and take those rows out of staging, so that
    what is left is new. Plain joins, not INSERT … ON CONFLICT, which checks every row one by
    one; and no anti-join of the INSERT against its own target, which the planner runs as a
    scan of the table per row when it believes the table empty (after a VACUUM of an emptied
    table), walking the rows the statement itself is adding."""
    table = layer.name
    staged = _staged(columns)
    match = " AND ".join(f"t.{k} = {staged[k]}" for k in layer.key)
    changing = [c for c in staged if c not in layer.key]
    updated = conn.execute(
        text(
            f"UPDATE {table} t SET "
            + ", ".join(f"{c} = {staged[c]}" for c in changing)
            + f" FROM import_staging s WHERE {match}"
        ),
        {"source": source},
    ).rowcount
    if updated:
        conn.execute(
            text(f"DELETE FROM import_staging s USING {table} t WHERE {match}"), {"source": source}
        )
    return updated


def _insert(conn: Connection, layer: Layer, columns: list[str], source: str) -> int:
    """Insert what is left in staging; an import that races another one on the same ids fails
    on the unique key and writes nothing."""
    staged = _staged(columns)
    return conn.execute(
        text(
            f"INSERT INTO {layer.name} ({', '.join(staged)}) SELECT {', '.join(staged.values())} "
            "FROM import_staging s"
        ),
        {"source": source},
    ).rowcount


def _bulk_insert_worthwhile(conn: Connection, layer: Layer, new_rows: int) -> bool:
    """Whether to drop the table's secondary (GiST, GIN) indexes for the insert and build them
    again after: building costs a few µs a row of the whole table, keeping them up to date
    row by row about three times that for each new row (benchmarks/import/table_costs.py).
    Only for loads at least as large as the table, since the rebuild locks readers out until
    the commit."""
    if new_rows < BULK_MIN_ROWS:
        return False
    # Only the table's owner may drop its indexes (the command line; not the service's role).
    owner = conn.execute(
        text(
            "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = CAST(:t AS regclass)"
        ),
        {"t": layer.name},
    ).scalar_one()
    if not owner:
        return False
    # Counted no further than the load's size: a cost bounded by the load, not by the table.
    stored = conn.execute(
        text(f"SELECT count(*) FROM (SELECT FROM {layer.name} LIMIT :enough) AS t"),
        {"enough": new_rows + 1},
    ).scalar_one()
    return new_rows >= stored


def _drop_secondary_indexes(conn: Connection, layer: Layer) -> list[str]:
    """Drop the table's indexes that back no constraint; their definitions, to build again."""
    indexes = conn.execute(
        text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = CAST(:table AS regclass) AND NOT x.indisunique "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid) ORDER BY i.relname"
        ),
        {"table": layer.name},
    ).all()
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in indexes]


def _delete_absent(conn: Connection, layer: Layer, source: str, keys: list[str]) -> int:
    """--replace-source: remove the source's records whose id is not in the file at all
    (a row that failed validation still counts as present, so it is never deleted)."""
    key = layer.record_id
    result = conn.execute(
        text(f"DELETE FROM {layer.name} WHERE source = :source AND NOT ({key} = ANY(:keys))"),
        {"source": source, "keys": keys},
    )
    return result.rowcount


def missing_parents(conn: Connection, layer: Layer, rows: ValidRows) -> list[Problem]:
    """Admin areas whose parent_code is neither in the database nor in the file: reported per
    row rather than failing the whole write on the foreign key."""
    if "parent_code" not in rows.values:
        return []
    codes = set(rows.values["code"])
    wanted = {p for p in rows.values["parent_code"] if p is not None and p not in codes}
    known = set(
        conn.execute(
            text("SELECT code FROM admin_areas WHERE code = ANY(:codes)"), {"codes": sorted(wanted)}
        ).scalars()
    )
    return [
        Problem(row, code, "parent_code", f"no admin area {parent!r}, in the database or the file")
        for row, code, parent in zip(
            rows.rows, rows.values["code"], rows.values["parent_code"], strict=True
        )
        if parent in wanted - known
    ]


def record_run(
    conn: Connection,
    report: ImportReport,
    checksum: str,
    started: datetime,
    finished: datetime,
    user: str,
    dry_run: bool,
) -> int:
    """The import_runs row of this run."""
    return conn.execute(
        text(
            "INSERT INTO import_runs (file, checksum, layer, source, outcome, rows_read, inserted, "
            "updated, unchanged, deleted, rejected, started_at, finished_at, imported_by, dry_run, report) "
            "VALUES (:file, :checksum, :layer, :source, :outcome, :rows_read, :inserted, :updated, "
            ":unchanged, :deleted, :rejected, :started, :finished, :user, :dry_run, CAST(:report AS jsonb)) "
            "RETURNING id"
        ),
        {
            "file": report.file,
            "checksum": checksum,
            "layer": report.layer,
            "source": report.source,
            "outcome": report.outcome,
            "rows_read": report.rows_read,
            "inserted": report.inserted,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "deleted": report.deleted,
            "rejected": report.rejected,
            "started": started,
            "finished": finished,
            "user": user,
            "dry_run": dry_run,
            "report": json.dumps(report.as_dict(), default=str),
        },
    ).scalar_one()


@dataclass
class Write:
    """Where an import's chunks are copied, and what was set up for them: the layer's table
    itself (a source's first import, its rows and the source as columns) or the staging table
    (rows to compare with their records), the indexes dropped for a bulk load, and whether the
    new zones' parts are left to the end of the write."""

    into: str
    source: str | None = None  # given when copying straight into the table
    indexes: list[str] = field(default_factory=list)
    splits_zones: bool = False

    @property
    def compares(self) -> bool:
        return self.source is None


def start_write(
    conn: Connection, layer: Layer, columns: list[str], source: str, expected_rows: int
) -> Write:
    """Set up the write of about `expected_rows` rows (those read; rows found bad later are
    fewer): the staging table, or the straight copy with the indexes dropped for a bulk load.
    A first import of a source has nothing to compare with."""
    # COPY into a table under row-level security is refused (the service's role, importing
    # over HTTP): such an import always goes through the staging table and INSERT … SELECT.
    splits_zones = zone_parts.defer(conn, layer)
    if _holds_records(conn, layer, source) or _row_security(conn, layer):
        _staging(conn, layer, columns)
        return Write("import_staging", splits_zones=splits_zones)
    rebuilt = _bulk_insert_worthwhile(conn, layer, expected_rows)
    indexes = _drop_secondary_indexes(conn, layer) if rebuilt else []
    return Write(layer.name, source, indexes, splits_zones)


@contextmanager
def copy_into(conn: Connection, statement: str) -> Iterator[psycopg.Copy]:
    """One COPY statement for every chunk of an import: the statement triggers (the audit
    trail, the deposit cells) run once for all its rows, after the last. A COPY per chunk ran
    them per chunk, the cells' upserts meeting the same cells again each time (200,000 points:
    about 1.6 s of a 9 s import; benchmarks/README.md)."""
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection in a transaction has its psycopg connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        yield copy


def copy_rows(copy: psycopg.Copy, encoded: Encoded, progress: Callable[[int], None]) -> int:
    """One encoded chunk sent into the open COPY; the number of rows sent."""
    for data, n in encoded.blocks:
        copy.write(data)
        progress(n)
    return encoded.rows


def finish_write(
    conn: Connection,
    layer: Layer,
    write: Write,
    columns: list[str],
    copied: int,
    source: str,
    replace_source: bool,
    keys: list[str],
    report: ImportReport,
) -> None:
    """After the last chunk: compare the staged rows, update and insert, build the dropped
    indexes again and (optionally) delete the source's absent records; the counts go into the
    report. The caller owns the transaction, so a failure anywhere leaves the database as it was."""
    indexes = write.indexes
    new_rows = copied
    if write.compares:
        report.unchanged = _drop_unchanged(conn, layer, columns, source)
        report.updated = _update(conn, layer, columns, source)
        new_rows = copied - report.unchanged - report.updated
        if _bulk_insert_worthwhile(conn, layer, new_rows):
            indexes = _drop_secondary_indexes(conn, layer)
        report.inserted = _insert(conn, layer, columns, source)
    else:
        report.inserted = copied
    if write.splits_zones:
        zone_parts.split_new_zones(conn, source)
    for definition in indexes:
        conn.execute(text(definition))
    if indexes:
        report.notes.append(
            f"bulk load: {layer.name}'s {len(indexes)} secondary indexes were "
            f"rebuilt after inserting {new_rows:,} rows (readers waited for it)"
        )
    if replace_source:
        report.deleted = _delete_absent(conn, layer, source, keys)
