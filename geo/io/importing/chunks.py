"""A file's rows in chunks, each reprojected and validated on its own as the chunk before is
written: numbered within the file, duplicate ids found across chunks, each chunk's reading and
position problems."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from geo.io.importing.crs import position_problems
from geo.io.importing.mapping import Mapping
from geo.io.importing.points import Points
from geo.io.importing.reading import SourceTable
from geo.io.importing.targets import Layer
from geo.io.importing.validation import SeenIds, ValidRows, validate

# Rows per chunk: enough that a chunk's fixed costs (a COPY statement and its statement
# triggers, the per-column work of validation) are small, few enough that the first COPY
# starts early. A file is cut into at least _PIECES chunks (none under MIN_ROWS), so that a
# file of a few thousand detailed polygons is written while it is validated too.
CHUNK_ROWS = 25_000
MIN_ROWS = 500
_PIECES = 8
# Layers whose rows refer to one another (an admin area's parent may be in the same file):
# validated as one chunk, since a reference is checked against the whole file.
_WHOLE_FILE = ("admin_areas",)


class Chunks:
    """The chunks of one file: where each starts, and each one validated on demand."""

    def __init__(
        self,
        table: SourceTable,
        reproject: Callable[[np.ndarray | Points], np.ndarray | Points],
        layer: Layer,
        mapping: Mapping,
        geographic_source: bool,
        repair: bool,
    ):
        self.table, self.reproject, self.layer, self.mapping = table, reproject, layer, mapping
        self.geographic_source, self.repair = geographic_source, repair
        n = len(table)
        self.size = (
            n
            if layer.name in _WHOLE_FILE
            else max(1, min(CHUNK_ROWS, max(MIN_ROWS, -(-n // _PIECES))))
        )
        # The first chunk is smaller (an eighth), so that the database starts on it early.
        first = max(1, self.size // _PIECES) if n > self.size else n
        self.starts = [0, *range(first, n, self.size)]
        self._stops = dict(zip(self.starts, [*self.starts[1:], n], strict=True))
        # The record id of every row read so far, valid or not (None where it has none).
        self.ids: list[str | None] = []
        self._seen = SeenIds()

    def checked(self, start: int, progress: Callable[[int], None]) -> ValidRows:
        """The chunk at `start` validated: its good rows, and its problems numbered in the file."""
        stop = self._stops[start]
        read = self.table.geometry
        geometry = self.reproject(
            Points(read.xy[start:stop]) if isinstance(read, Points) else read[start:stop]
        )
        rows = validate(
            self.layer,
            self.mapping,
            self.table.columns.iloc[start:stop],
            geometry,
            self.table.geometry_columns,
            self.repair,
            progress,
            first_row=start + 1,
            seen_ids=self._seen,
        )
        self.ids += rows.ids
        # Reading's problems are all of a row (the file as a whole fails before).
        reading = [
            replace(p, source_id=self.ids[p.row - 1])
            for p in self.table.problems
            if p.row is not None and start < p.row <= stop
        ]
        position = [
            replace(p, row=p.row + start)
            for p in position_problems(
                geometry, rows.ids, self.mapping.region, self.geographic_source
            )
            if p.row is not None
        ]
        rows.drop({p.row for p in reading + position if p.row is not None})
        rows.problems = sorted(rows.problems + reading + position, key=lambda p: p.row or 0)
        return rows
