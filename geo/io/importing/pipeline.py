"""One import from start to end: read (batch by batch where it can), map, reproject, validate
before is written, all or nothing, and record the run."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo.core.errors import InvalidParameter
from geo.io.importing.batches import open_rows
from geo.io.importing.chunks import Chunks
from geo.io.importing.crs import choose_crs, lonlat_reprojection
from geo.io.importing.mapping import load_mapping
from geo.io.importing.progress import Stages
from geo.io.importing.reading import NOT_EMPTY, checksum
from geo.io.importing.report import ImportReport, Problem
from geo.io.importing.streaming import StreamedWrite
from geo.io.importing.targets import LAYERS
from geo.io.importing.turns import wait_for_turn
from geo.io.importing.writing import missing_parents, record_run


@dataclass(frozen=True)
class ImportOptions:
    """The choices of one `veta import` run (the command line's options)."""

    path: Path
    layer: str | None = None
    mapping: str | None = None
    crs: str | None = None
    source: str | None = None
    repair: bool = False
    skip_invalid: bool = False
    dry_run: bool = False
    replace_source: bool = False
    # Over HTTP: the organisation that owns the records written (an editor's import), whether
    # they are confidential to it, and who imports (the key's holder; else the OS user).
    owner: int | None = None
    confidential: bool = False
    imported_by: str | None = None


def import_file(
    engine: Engine,
    options: ImportOptions,
    progress: Stages | None = None,
    waiting: Callable[[str], None] = lambda message: None,
) -> ImportReport:
    """Run one import; the report says what happened. Nothing is written unless every row
    passed (or --skip-invalid), and then everything is written in one transaction."""
    progress = progress or Stages()
    started = datetime.now(UTC)
    mapping = load_mapping(options.mapping)
    layer_name = options.layer or mapping.layer
    if not layer_name:
        raise InvalidParameter(
            "--layer", "no layer given", f"{', '.join(LAYERS)}, or layer in the mapping"
        )
    if layer_name not in LAYERS:
        raise InvalidParameter("--layer", f"unknown layer {layer_name!r}", list(LAYERS))
    if mapping.layer and options.layer and mapping.layer != options.layer:
        raise InvalidParameter(
            "--layer", f"{options.layer} but the mapping is for {mapping.layer}", [mapping.layer]
        )
    source = options.source or mapping.source
    if not source:
        raise InvalidParameter(
            "--source", "no source name", "--source NAME, or source in the mapping"
        )
    layer = LAYERS[layer_name]
    report = ImportReport(
        file=str(options.path), layer=layer.name, source=source, mapping=mapping.name
    )

    read = progress.stage("reading", None)
    with open_rows(options.path, mapping, layer.name, options.crs) as table:
        read(len(table))
        if not len(table):
            raise _no_rows(options.path)
        choice = choose_crs(table.crs, options.crs, mapping.crs, table.geometry)
        reproject, report.crs = lonlat_reprojection(table.geometry, choice)
        chunks = Chunks(table, reproject, layer, mapping, choice.crs.is_geographic, options.repair)
        validating = progress.stage("validating", len(table))
        # The first chunk before the transaction: a mapping that cannot apply is refused at
        # once. A file read in batches is read on as each chunk before is copied.
        rows = chunks.next_checked(validating)
        if not chunks.start:  # a stale count: the file holds no rows after all
            raise _no_rows(options.path)
        report.ignored_columns = rows.ignored_columns
        start = 0
        problems: list[Problem] = []

        with engine.begin() as conn:
            _start_transaction(conn, layer.name, options.dry_run, report, waiting)
            write = StreamedWrite(conn, layer, source, options, report, progress, len(table))
            try:
                while True:
                    # Only admin areas have parents; their file is one chunk (chunks._WHOLE_FILE).
                    references = missing_parents(conn, layer, rows)
                    rows.drop({p.row for p in references if p.row is not None})
                    problems += rows.problems + references
                    report.notes += [n for n in rows.notes if n not in report.notes]
                    report.repairs += rows.repairs
                    if problems and not options.skip_invalid:
                        write.abandon()  # refused: validated on only to report every problem
                    else:
                        write.put(rows, rows_left=len(table) - start)
                    if chunks.done:
                        break
                    start = chunks.start
                    rows = chunks.next_checked(validating)  # while the chunk before is copied
                # Hashed while the last chunk is still being copied (hashlib lets the copying
                # thread run), not after it with the database idle and the transaction open.
                digest = checksum(options.path)
                # A database's refusal (of a chunk already sent) is said after the rows' problems.
                report.problems = sorted(problems, key=lambda p: p.row or 0) + report.problems
                report.rejected = len({p.row for p in problems})
                report.rows_read = len(chunks.ids)
                if options.dry_run:
                    report.outcome = "dry_run"
                elif write.finish(chunks.ids):
                    report.outcome = "written"
                else:
                    report.outcome = "refused"
            finally:
                write.abandon()
            finished = datetime.now(UTC)
            report.seconds = (finished - started).total_seconds()
            record_run(
                conn,
                report,
                digest,
                started,
                finished,
                options.imported_by or getpass.getuser(),
                options.dry_run,
            )
        return report


def _no_rows(path: Path) -> InvalidParameter:
    return InvalidParameter(
        "PATH", f"{path} has no rows to import (a header only, or an empty layer)", NOT_EMPTY
    )


def _start_transaction(
    conn: Connection,
    layer: str,
    dry_run: bool,
    report: ImportReport,
    waiting: Callable[[str], None],
) -> None:
    # The audit trail records these writes as an import's, whoever started it. And the server
    # checks every second that the importer is still there: a killed import's long INSERT (and
    # its audit) is cancelled then, not run to its end holding its locks.
    conn.execute(
        text(
            "SELECT set_config('veta.channel', 'import', true), "
            "set_config('client_connection_check_interval', '1000', true)"
        )
    )
    if not dry_run:
        waited = wait_for_turn(conn, layer, waiting)
        if waited:
            report.notes.append(f"waited {waited:.1f} s for another import of {layer} to finish")
