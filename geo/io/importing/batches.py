"""A file read batch by batch as its chunks are validated, so that the first COPY starts before
the whole file is read: only where nothing the run decides before its first chunk needs every
row (the CRS is named, and its way to ETRS89 is the same for any area), else read whole."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyogrio
from pyproj import CRS

from geo.io.importing.crs import given_crs, needs_no_area
from geo.io.importing.mapping import Mapping
from geo.io.importing.reading import (
    CSV_FORMATS,
    FID_FORMATS,
    READ_ERRORS,
    SourceTable,
    arrow_frame,
    arrow_rows,
    converted_whole,
    csv_geometry,
    file_layer,
    gdal_path_of,
    read_failure,
    read_source,
)
from geo.io.importing.report import Problem

# Formats read otherwise than through GDAL's Arrow stream (reading.read_source).
_WHOLE_FORMATS = (".geojson", ".json", ".parquet", ".geoparquet")
# Rows per batch at most (GDAL's default), for a piece of the whole file (admin areas).
_LARGEST_BATCH = 65_536


class BatchedRows:
    """A file's rows, read in order as the chunks ask for them. Its length is the count the
    file states (a GeoPackage's, a Shapefile's …) or a CSV's lines: it sizes the chunks and the
    write, and the rows decide where the file ends (reading on past a stale count, or stopping
    short of it). Open until `close`."""

    def __init__(
        self,
        path: Path,
        gdal_path: str,
        layer: str | None,
        stated_rows: int,
        crs: CRS | None,
        csv: Mapping | None = None,
    ):
        self.path, self._gdal_path, self._layer = path, gdal_path, layer
        self.stated_rows, self.crs = stated_rows, crs
        self._csv = csv  # a CSV's mapping, which says where its coordinates are
        # Not read before the chunks: the CRS is named, so no one looks at every row's.
        self.geometry = None
        self._fids = path.suffix.casefold() in FID_FORMATS
        self._files = ExitStack()
        self._batches: pa.RecordBatchReader | None = None
        self._meta: dict = {}
        self._pending: list[pa.RecordBatch] = []
        self._read = 0  # rows handed out so far

    def __len__(self) -> int:
        return self.stated_rows

    def piece(self, start: int, stop: int) -> SourceTable:
        """The next rows, start to stop (fewer at the end of the file); reading's problems
        numbered in the file. The stream is opened on the first call, in batches of that first
        piece's size."""
        assert start == self._read, "pieces are read in order"
        try:
            if self._batches is None:
                self._meta, self._batches = self._files.enter_context(
                    pyogrio.open_arrow(
                        self._gdal_path,
                        layer=self._layer,
                        read_geometry=self._csv is None,
                        return_fids=self._fids,
                        datetime_as_string=True,
                        batch_size=max(1, min(stop - start, _LARGEST_BATCH)),
                        use_pyarrow=True,
                    )
                )
            wanted = stop - start
            while sum(b.num_rows for b in self._pending) < wanted and self._read_batch():
                pass
            table = pa.Table.from_batches(self._pending, self._batches.schema)
            self._pending = table.slice(wanted).to_batches()
            piece = self._rows(table.slice(0, wanted), start)
        except READ_ERRORS as exc:
            raise read_failure(self.path, exc) from None
        self._read += len(piece)
        return piece

    def _rows(self, table: pa.Table, start: int) -> SourceTable:
        used: tuple[str, ...] = ()
        problems: list[Problem] = []
        if self._csv is None:
            columns, geometry = arrow_rows(self.path, self._meta, table, self._fids)
        else:
            columns = arrow_frame(self._meta, table)
            geometry, used, problems = csv_geometry(columns, self._csv)
            problems = [replace(p, row=None if p.row is None else p.row + start) for p in problems]
        # Numbered in the file, as the rows of a file read whole are.
        columns.index = pd.RangeIndex(start, start + len(columns))
        return SourceTable(columns, geometry, self.crs, used, problems)

    def has_rows_from(self, start: int) -> bool:
        """Whether the file holds rows from `start` on (the next piece's)."""
        assert start == self._read and self._batches is not None
        try:
            return bool(self._pending) or self._read_batch()
        except READ_ERRORS as exc:
            raise read_failure(self.path, exc) from None

    def _read_batch(self) -> bool:
        """Read a batch more into the pending rows; False at the end of the file."""
        assert self._batches is not None
        try:
            batch = self._batches.read_next_batch()
        except StopIteration:
            return False
        if batch.num_rows:
            self._pending.append(batch)
        return True

    def close(self) -> None:
        self._files.close()


@contextmanager
def open_rows(
    path: Path, mapping: Mapping, target: str, crs_option: str | None
) -> Iterator[SourceTable | BatchedRows]:
    """The file's rows: in batches where that changes nothing the run decides, else read whole
    (reading.read_source); the file is closed at the end of the block."""
    batched = _batched(path, mapping, target, crs_option)
    if batched is None:
        yield read_source(path, mapping, target)
        return
    try:
        yield batched
    finally:
        batched.close()


def _batched(
    path: Path, mapping: Mapping, target: str, crs_option: str | None
) -> BatchedRows | None:
    suffix = path.suffix.casefold()
    if (
        mapping.reader is not None
        or suffix in _WHOLE_FORMATS
        or not path.exists()
        or (path.is_file() and path.stat().st_size == 0)
    ):
        return None  # read whole, where read_source refuses what it must
    if suffix in CSV_FORMATS:
        # No CRS of its own: without a named one, it is lon/lat only if every row is.
        choice = given_crs(None, crs_option, mapping.crs)
        lines = _lines(path) if path.is_file() else 0
        if choice is None or not needs_no_area(choice.crs) or lines <= 0:
            return None
        return BatchedRows(path, str(path), None, lines, None, csv=mapping)
    try:
        gdal_path = gdal_path_of(path)
        layer = file_layer(gdal_path, mapping, target)
        info = pyogrio.read_info(gdal_path, layer=layer)
    except pyogrio.errors.DataSourceError:
        return None  # read_source says why
    file_crs = CRS.from_user_input(info["crs"]) if info["crs"] else None
    choice = given_crs(file_crs, crs_option, mapping.crs)
    if (
        info["features"] <= 0  # counted only by reading every row (or empty: read whole)
        or info["geometry_type"] is None
        or converted_whole(info)
        or choice is None  # a file that names no CRS is lon/lat only if every row is
        or not needs_no_area(choice.crs)
    ):
        return None
    return BatchedRows(path, gdal_path, layer, info["features"], file_crs)


def _lines(path: Path) -> int:
    """A CSV's lines after its header: its rows, unless a quoted cell holds a line break (a plan,
    not a count). GDAL counts a CSV's rows only by parsing all of it (0.2 s for 200,000), where
    counting line breaks takes a hundredth of that."""
    breaks, last = 0, b"\n"
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            breaks += block.count(b"\n")
            last = block[-1:]
    return breaks - 1 + (last != b"\n")
