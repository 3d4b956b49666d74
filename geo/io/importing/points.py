"""Files of plain 2D points (the usual deposits file) kept as coordinate arrays: no GEOS object
per row from reading to the COPY payload (hex WKB). Anything else is read as shapely geometries."""

from __future__ import annotations

import binascii
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import shapely

# ISO/OGC WKB of a 2D point: byte order 1 (little-endian), type 1, x, y: 21 bytes.
_POINT_WKB = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


@dataclass(frozen=True)
class Points:
    """One 2D point with finite coordinates per row: always present, non-empty and valid."""

    xy: np.ndarray  # (rows, 2) float64

    def __len__(self) -> int:
        return len(self.xy)

    def bounds(self) -> np.ndarray:
        """(west, south, east, north) of each row, as shapely.bounds gives them."""
        return np.column_stack((self.xy, self.xy))

    def total_bounds(self) -> np.ndarray:
        return np.concatenate((self.xy.min(axis=0), self.xy.max(axis=0)))

    def take(self, rows: np.ndarray) -> Points:
        return Points(self.xy[rows])

    def shapes(self) -> np.ndarray:
        return shapely.points(self.xy)

    def wkb(self) -> pa.LargeBinaryArray:
        """Each point as WKB, byte for byte what shapely.to_wkb writes for it."""
        records = np.empty(len(self.xy), _POINT_WKB)
        records["order"], records["type"] = 1, 1
        records["x"], records["y"] = self.xy[:, 0], self.xy[:, 1]
        offsets = np.arange(len(records) + 1, dtype=np.int64) * _POINT_WKB.itemsize
        return pa.LargeBinaryArray.from_buffers(
            pa.large_binary(),
            len(records),
            [None, pa.py_buffer(offsets), pa.py_buffer(records.tobytes())],
        )


def hex_wkb(wkb: pa.LargeBinaryArray) -> pa.LargeStringArray:
    """WKB as hex text (what COPY gives PostGIS): one hexlify over the buffer of all of them,
    several times faster than GEOS writing hex per geometry. Every row has a geometry."""
    if not len(wkb):
        return pa.array([], pa.large_string())
    offsets = np.frombuffer(wkb.buffers()[1], np.int64)[wkb.offset : wkb.offset + len(wkb) + 1]
    text = binascii.hexlify(memoryview(wkb.buffers()[2])[offsets[0] : offsets[-1]])
    return pa.LargeStringArray.from_buffers(
        len(wkb), pa.py_buffer((offsets - offsets[0]) * 2), pa.py_buffer(text)
    )


def read_points(wkb: pa.Array | pa.ChunkedArray) -> Points | None:
    """The points of a WKB column when every row is a plain little-endian 2D point with finite
    coordinates; None otherwise (nulls, other types, Z or M, empty points are shapely's job)."""
    chunks = [
        _point_coordinates(c) for c in (wkb.chunks if isinstance(wkb, pa.ChunkedArray) else [wkb])
    ]
    if not chunks or any(c is None for c in chunks):
        return None
    xy = np.concatenate(chunks)
    return Points(xy) if len(xy) and np.isfinite(xy).all() else None


def _point_coordinates(wkb: pa.Array) -> np.ndarray | None:
    """(rows, 2) coordinates of one Arrow chunk of WKB, or None unless all are plain 2D points."""
    if isinstance(wkb.type, pa.ExtensionType):
        wkb = wkb.storage
    if wkb.null_count or not (pa.types.is_binary(wkb.type) or pa.types.is_large_binary(wkb.type)):
        return None
    if not len(wkb):
        return np.empty((0, 2))
    offset_type = np.int64 if pa.types.is_large_binary(wkb.type) else np.int32
    offsets = np.frombuffer(wkb.buffers()[1], offset_type)[wkb.offset : wkb.offset + len(wkb) + 1]
    if np.any(np.diff(offsets) != _POINT_WKB.itemsize):
        return None
    records = np.frombuffer(wkb.buffers()[2], np.uint8)[offsets[0] : offsets[-1]].view(_POINT_WKB)
    if np.any(records["order"] != 1) or np.any(records["type"] != 1):
        return None
    return np.column_stack((records["x"], records["y"]))
