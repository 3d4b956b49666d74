"""A file's rows in chunks, each reprojected and validated on its own as the chunk before is
written: numbered within the file, duplicate ids found across chunks, each chunk's reading and
position problems."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from geo.io.importing.batches import BatchedRows
from geo.io.importing.crs import position_problems
from geo.io.importing.mapping import Mapping
from geo.io.importing.points import Points
from geo.io.importing.reading import SourceTable
from geo.io.importing.targets import Layer
from geo.io.importing.validation import SeenIds, ValidRows, validate

# Rows per chunk: enough that a chunk's fixed costs (the per-column work of validation and
# encoding) are small, few enough that the COPY starts early. A file is cut into at least
# _PIECES chunks (none under MIN_ROWS), so that a file of a few thousand detailed polygons is
# written while it is validated too.
CHUNK_ROWS = 25_000
MIN_ROWS = 500
_PIECES = 8
# Layers whose rows refer to one another (an admin area's parent may be in the same file):
# validated as one chunk, since a reference is checked against the whole file.
_WHOLE_FILE = ("admin_areas",)


class Chunks:
    """The chunks of one file, each read (if the file is read in batches) and validated in turn."""

    def __init__(
        self,
        table: SourceTable | BatchedRows,
        reproject: Callable[[np.ndarray | Points], np.ndarray | Points],
        layer: Layer,
        mapping: Mapping,
        geographic_source: bool,
        repair: bool,
    ):
        self.table, self.reproject, self.layer, self.mapping = table, reproject, layer, mapping
        self.geographic_source, self.repair = geographic_source, repair
        n = len(table)  # a batched file's stated count: it plans the chunks, the rows decide
        if layer.name in _WHOLE_FILE:
            self.size = self._next = sys.maxsize  # every row, however many the file holds
        else:
            self.size = max(1, min(CHUNK_ROWS, max(MIN_ROWS, -(-n // _PIECES))))
            # The first chunk is smaller (an eighth), so that the database starts on it early,
            # and each one after it at most twice the one before, so that it is validated while
            # the one before is copied (a COPY takes several times its chunk's validation).
            self._next = max(1, self.size // _PIECES) if n > self.size else max(1, n)
        self.start = 0  # the first row (0-based) of the next chunk
        self.done = False  # every row read
        # The record id of every row read so far, valid or not (None where it has none).
        self.ids: list[str | None] = []
        self._seen = SeenIds()

    def next_checked(self, progress: Callable[[int], None]) -> ValidRows:
        """The next chunk validated: its good rows, and its problems numbered in the file."""
        start = self.start
        wanted = self._next
        self._next = min(self.size, 2 * wanted)
        piece = self.table.piece(start, start + wanted)
        stop = start + len(piece)
        self.start = stop
        self.done = len(piece) < wanted or not self.table.has_rows_from(stop)
        geometry = self.reproject(piece.geometry)
        rows = validate(
            self.layer,
            self.mapping,
            piece.columns,
            geometry,
            piece.geometry_columns,
            self.repair,
            progress,
            first_row=start + 1,
            seen_ids=self._seen,
        )
        self.ids += rows.ids
        # Reading's problems are all of a row (the file as a whole fails before).
        reading = [
            replace(p, source_id=self.ids[p.row - 1]) for p in piece.problems if p.row is not None
        ]
        position = [
            replace(p, row=p.row + start)
            for p in position_problems(
                geometry, rows.ids, self.mapping.region, self.geographic_source
            )
            if p.row is not None
        ]
        # Each is of a geometry reading could not make (not a coordinate pair, not WKT): the
        # row's one geometry problem, not also validation's "no geometry" for what it left out.
        unread = {p.row for p in reading}
        said = [p for p in rows.problems if not (p.field == "geometry" and p.row in unread)]
        rows.drop({p.row for p in reading + position if p.row is not None})
        rows.problems = sorted(said + reading + position, key=lambda p: p.row or 0)
        return rows
