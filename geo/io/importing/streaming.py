"""The write of an import chunk by chunk: the chunks sent on a thread of their own into one COPY,
so that the database stores one chunk's rows (their checks and row triggers) while this process
validates and encodes the next — both cores. All in one savepoint: a refusal or a failure in any
chunk rolls every chunk back."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import psycopg
from sqlalchemy.engine import Connection, NestedTransaction
from sqlalchemy.exc import DBAPIError

from geo.io.importing.progress import Stages
from geo.io.importing.report import ImportReport, Problem
from geo.io.importing.targets import Layer
from geo.io.importing.validation import ValidRows
from geo.io.importing.writing import (
    Encoded,
    Write,
    copy_into,
    copy_rows,
    encode_rows,
    finish_write,
    start_write,
)

if TYPE_CHECKING:
    from geo.io.importing.pipeline import ImportOptions

# Chunks validated ahead of the one being copied: one, so that memory holds at most three
# chunks (being validated, waiting, being copied) whatever the file's size.
_AHEAD = 1
# What the database may answer a write with; the report names it, nothing is written.
_DATABASE_ERRORS = (DBAPIError, psycopg.Error)


class _Abandoned(Exception):
    """Raised inside the COPY to fail it rather than end it: nothing it sent is stored."""


class ChunkWriter:
    """Copies the chunks it is given, in order, on its own thread, into one COPY ended after the
    last. While it runs, nothing else may use the connection; `finish` or `abandon` hands it
    back. A failed COPY stops it: the error is raised by the next `put` or by `finish` (the
    caller rolls the write back)."""

    def __init__(self, conn: Connection, progress: Callable[[int], None]):
        self.copied = 0
        self._chunks: queue.Queue[Encoded | None] = queue.Queue(_AHEAD)
        self._ended = False  # the end of the chunks taken from the queue
        self._failed: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(conn, progress), name="veta-copy", daemon=True
        )
        self._thread.start()

    def _run(self, conn: Connection, progress: Callable[[int], None]) -> None:
        try:
            self._copy_all(conn, progress)
        except _Abandoned:
            pass
        except BaseException as exc:  # handed to the caller's thread, raised there
            self._failed = exc
            self._stop.set()
        while not self._ended:  # drained, so that the caller's put and finish never wait
            self._next()

    def _copy_all(self, conn: Connection, progress: Callable[[int], None]) -> None:
        encoded = self._next()
        if encoded is None:
            return
        with copy_into(conn, encoded.statement) as copy:
            while encoded is not None:
                if self._stop.is_set():
                    raise _Abandoned
                self.copied += copy_rows(copy, encoded, progress)
                encoded = self._next()
            if self._stop.is_set():
                raise _Abandoned

    def _next(self) -> Encoded | None:
        encoded = self._chunks.get()
        self._ended = encoded is None
        return encoded

    def put(self, encoded: Encoded) -> None:
        """Queue a chunk (waiting while the previous one is still queued)."""
        self._raise_failure()
        self._chunks.put(encoded)

    def finish(self) -> int:
        """Wait for the last chunk to be copied; the number of rows copied."""
        self._chunks.put(None)
        self._thread.join()
        self._raise_failure()
        return self.copied

    def abandon(self) -> None:
        """Copy nothing more and wait for the chunk in progress (the caller rolls back)."""
        self._stop.set()
        self._chunks.put(None)
        self._thread.join()

    def _raise_failure(self) -> None:
        if self._failed is not None:
            raise self._failed


class StreamedWrite:
    """One import's write: started with its first chunk, fed chunk by chunk, finished or
    abandoned. Dry runs write nothing; after a refusal or a database error nothing more is
    written and what was is rolled back."""

    def __init__(
        self,
        conn: Connection,
        layer: Layer,
        source: str,
        options: ImportOptions,
        report: ImportReport,
        stages: Stages,
        rows_read: int,
    ):
        self.conn, self.layer, self.source, self.options, self.report = (
            conn,
            layer,
            source,
            options,
            report,
        )
        self.writing = not options.dry_run
        self._copying = stages.stage("copying", rows_read) if self.writing else None
        self._stored = stages.stage("storing", None) if self.writing else None
        self._savepoint: NestedTransaction | None = None
        self._write: Write | None = None
        self._writer: ChunkWriter | None = None
        self._columns: list[str] = []

    def put(self, rows: ValidRows, rows_left: int) -> None:
        """Write a chunk (its copy runs while the caller goes on); `rows_left`, the rows read
        from this chunk on, sizes a bulk load when the write starts."""
        if not self.writing:
            return
        if self.options.owner is not None:
            _owned_by(rows, self.options.owner, self.options.confidential)
        try:
            if self._writer is None:
                self._columns = rows.columns
                self._savepoint = self.conn.begin_nested()
                self._write = start_write(
                    self.conn, self.layer, rows.columns, self.source, rows_left
                )
                assert self._copying is not None
                self._writer = ChunkWriter(self.conn, self._copying)
            if rows.rows:
                assert self._write is not None
                self._writer.put(encode_rows(self.layer, rows, self._write))
        except _DATABASE_ERRORS as exc:
            self._failed(exc)

    def finish(self, ids: list[str | None]) -> bool:
        """After the last chunk: the database's part of the write (compare, update, insert,
        indexes, --replace-source), the counts in the report; whether it was written."""
        if not self.writing or self._writer is None or self._write is None:
            return False
        try:
            copied = self._writer.finish()
            self._writer = None
            finish_write(
                self.conn,
                self.layer,
                self._write,
                self._columns,
                copied,
                self.source,
                self.options.replace_source,
                [i for i in ids if i is not None],  # invalid rows' records are kept too
                self.report,
            )
        except _DATABASE_ERRORS as exc:
            self._failed(exc)
            return False
        assert self._savepoint is not None and self._stored is not None
        self._savepoint.commit()
        self._stored(copied)
        return True

    def abandon(self) -> None:
        """Write nothing more, and roll back what was written (nothing, if it was finished)."""
        self.writing = False
        if self._writer is not None:
            self._writer.abandon()
            self._writer = None
        if self._savepoint is not None and self._savepoint.is_active:
            self._savepoint.rollback()

    def _failed(self, exc: Exception) -> None:
        self.abandon()
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        self.report.problems.append(Problem(None, None, "database", str(reason).strip()))
        self.report.inserted = self.report.updated = self.report.unchanged = 0
        self.report.deleted = 0


def _owned_by(rows: ValidRows, owner: int, confidential: bool) -> None:
    """Every row written owned by `owner` (and confidential to it, if asked): two more columns,
    as text, which COPY reads into the integer and boolean columns."""
    n = len(rows.rows)
    rows.columns = [*rows.columns, "owner_org", "confidential"]
    rows.values["owner_org"] = [str(owner)] * n
    rows.values["confidential"] = ["true" if confidential else "false"] * n
