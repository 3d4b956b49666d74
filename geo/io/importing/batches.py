"""A GDAL file read batch by batch as its chunks are validated, so that the first COPY starts
before the whole file is read: only where nothing the run decides before its first chunk needs
every row (the row count is stored, the CRS named and free of any area), else read whole."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyogrio
from pyproj import CRS

from geo.io.importing.crs import given_crs, needs_no_area
from geo.io.importing.mapping import Mapping
from geo.io.importing.reading import (
    FID_FORMATS,
    SourceTable,
    arrow_rows,
    file_layer,
    gdal_path_of,
    read_per_column,
    read_source,
    unreadable,
)
from geo.io.importing.report import Problem

# Formats read otherwise than through GDAL's Arrow stream (reading.read_source), or that have
# no stored row count (GDAL counts a CSV's rows only by reading it).
_WHOLE_FORMATS = (".csv", ".txt", ".tsv", ".geojson", ".json", ".parquet", ".geoparquet")
# Rows per batch at most (GDAL's default), for a piece of the whole file (admin areas).
_LARGEST_BATCH = 65_536
_READ_ERRORS = (pyogrio.errors.DataSourceError, UnicodeDecodeError, pa.ArrowInvalid)


class BatchedRows:
    """A GDAL layer's rows, read in order as the chunks ask for them. Its length is the count
    the file states, which sizes the chunks and the write; the rows read are what the file
    holds (a stale count reads on to the end, or stops early). Open until `close`."""

    def __init__(self, path: Path, gdal_path: str, layer: str | None, info: dict, crs: CRS | None):
        self.path, self._gdal_path, self._layer = path, gdal_path, layer
        self.stated_rows: int = info["features"]
        self.crs: CRS | None = crs
        # Not read before the chunks: the CRS is named, so no one looks at every row's.
        self.geometry = None
        self.geometry_columns: tuple[str, ...] = ()
        self.problems: list[Problem] = []
        self._fids = path.suffix.casefold() in FID_FORMATS
        self._files = ExitStack()
        self._batches: pa.RecordBatchReader | None = None
        self._meta: dict = {}
        self._pending: list[pa.RecordBatch] = []
        self._read = 0  # rows handed out so far

    def __len__(self) -> int:
        return self.stated_rows

    def piece(self, start: int, stop: int) -> SourceTable:
        """The next rows, start to stop (fewer at the end of the file). The stream is opened on
        the first call, in batches of that first piece's size."""
        assert start == self._read, "pieces are read in order"
        try:
            if self._batches is None:
                self._meta, self._batches = self._files.enter_context(
                    pyogrio.open_arrow(
                        self._gdal_path,
                        layer=self._layer,
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
            taken, rest = table.slice(0, wanted), table.slice(wanted)
            self._pending = rest.to_batches()
            columns, geometry = arrow_rows(self.path, self._meta, taken, self._fids)
        except _READ_ERRORS as exc:
            raise unreadable(self.path, _reason(exc)) from None
        # Numbered in the file, as the rows of a file read whole are.
        columns.index = pd.RangeIndex(start, start + len(columns))
        self._read += len(columns)
        return SourceTable(columns, geometry, self.crs)

    def has_rows_from(self, start: int) -> bool:
        """Whether the file holds rows from `start` on (the next piece's)."""
        assert start == self._read and self._batches is not None
        try:
            return bool(self._pending) or self._read_batch()
        except _READ_ERRORS as exc:
            raise unreadable(self.path, _reason(exc)) from None

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


def _reason(exc: Exception) -> str:
    if isinstance(exc, pyogrio.errors.DataSourceError):
        return str(exc)
    return f"{exc} (text must be UTF-8)"


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
    if (
        mapping.reader is not None
        or path.suffix.casefold() in _WHOLE_FORMATS
        or not path.exists()
        or (path.is_file() and path.stat().st_size == 0)
    ):
        return None  # read whole, where read_source refuses what it must
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
        or read_per_column(info)
        or choice is None  # a file that names no CRS is lon/lat only if every row is
        or not needs_no_area(choice.crs)
    ):
        return None
    return BatchedRows(path, gdal_path, layer, info, file_crs)
