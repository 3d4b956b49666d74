"""Reading a file into raw columns and geometries: GDAL formats through pyogrio, GeoParquet
through pyarrow, CSV with lon/lat, x/y or WKT columns, and the Catastro Minero CSV."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
from pyproj import CRS

from geo.core.errors import InvalidParameter
from geo.io.importing.cells import stripped_text, written_numbers
from geo.io.importing.mapping import Mapping
from geo.io.importing.points import Points, read_points
from geo.io.importing.report import Problem

# Column names taken as coordinates in a CSV that has no mapping, in order of preference.
_XY_NAMES = (
    ("lon", "lat"),
    ("longitude", "latitude"),
    ("lng", "lat"),
    ("x", "y"),
    ("easting", "northing"),
    ("utm_x", "utm_y"),
)
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")
# Formats whose feature id is data (a GeoJSON Feature's numeric "id", a GeoPackage's primary
# key): read as a column `fid`, so that a mapping can use it and it is never dropped unseen.
FID_FORMATS = (".geojson", ".json", ".gpkg")
CSV_FORMATS = (".csv", ".txt", ".tsv")


@dataclass
class SourceTable:
    """A file's rows: attribute columns, one geometry per row (None where missing), its CRS.
    Plain 2D points come as coordinates (Points), anything else as shapely geometries."""

    columns: pd.DataFrame
    geometry: np.ndarray | Points
    crs: CRS | None
    # Columns that made the geometry (x/y or WKT): used, so never reported as ignored.
    geometry_columns: tuple[str, ...] = ()
    problems: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.columns)

    def piece(self, start: int, stop: int) -> SourceTable:
        """Rows start to stop (fewer at the end); problems keep their row numbers in the file."""
        read = self.geometry
        return SourceTable(
            self.columns.iloc[start:stop],
            Points(read.xy[start:stop]) if isinstance(read, Points) else read[start:stop],
            self.crs,
            self.geometry_columns,
            [p for p in self.problems if p.row is not None and start < p.row <= stop],
        )

    def has_rows_from(self, start: int) -> bool:
        return start < len(self)


def checksum(path: Path) -> str:
    """sha256 of a file, or of every file in a folder in name order."""
    digest = hashlib.sha256()
    for part in sorted(path.rglob("*")) if path.is_dir() else [path]:
        if part.is_file():
            with part.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def gdal_path_of(path: Path) -> str:
    """A Shapefile folder is read through its one .shp; anything else as it is."""
    if not path.is_dir():
        return str(path)
    shapefiles = sorted(path.glob("*.shp"))
    if len(shapefiles) != 1:
        raise InvalidParameter(
            "PATH",
            f"{path} holds {len(shapefiles)} .shp files",
            "a folder with exactly one Shapefile, or the .shp itself",
        )
    return str(shapefiles[0])


def file_layer(path: str, mapping: Mapping, target: str) -> str | None:
    """The layer to read from a multi-layer file: the mapping's, else one named like the target."""
    names = [str(n) for n, _ in pyogrio.list_layers(path)]
    if mapping.file_layer:
        if mapping.file_layer not in names:
            raise InvalidParameter(
                "mapping file_layer", f"no layer {mapping.file_layer!r} in the file", names
            )
        return mapping.file_layer
    if len(names) <= 1:
        return None
    if target in names:
        return target
    raise InvalidParameter(
        "mapping file_layer", f"the file has {len(names)} layers; say which", names
    )


def csv_geometry(
    frame: pd.DataFrame, mapping: Mapping
) -> tuple[np.ndarray | Points, tuple[str, ...], list[Problem]]:
    """Points from x/y columns or shapes from a WKT column; a bad cell is a problem of its row."""
    by_name = {c.casefold(): c for c in frame.columns}
    x, y, wkt = mapping.x, mapping.y, mapping.wkt
    if not (x or wkt):
        wkt = next((by_name[n] for n in _WKT_NAMES if n in by_name), None)
        pair = next(
            ((by_name[a], by_name[b]) for a, b in _XY_NAMES if a in by_name and b in by_name), None
        )
        if pair and not wkt:
            x, y = pair
    if not (x or wkt):
        raise InvalidParameter(
            "mapping [geometry]",
            "no coordinate columns found in the CSV",
            "lon/lat, longitude/latitude or x/y columns, a WKT column, or "
            "[geometry] x, y or wkt in a mapping",
        )
    used = tuple(c for c in ((x, y) if x else (wkt,)) if c)
    for name in used:
        if name not in frame.columns:
            raise InvalidParameter(
                "mapping [geometry]", f"no column {name!r} in the file", list(frame.columns)
            )
    if wkt:
        geometry, problems = _wkt_shapes(frame[wkt])
        return geometry, used, problems
    xs, x_blank = written_numbers(frame[x])
    ys, y_blank = written_numbers(frame[y])
    empty = x_blank & y_blank
    bad = ~empty & ~(np.isfinite(xs) & np.isfinite(ys))
    problems = [
        Problem(
            i + 1,
            None,
            f"{x}/{y}",
            f"not a coordinate pair: {frame[x].iat[i]!r}, {frame[y].iat[i]!r}",
        )
        for i in map(int, np.flatnonzero(bad))
    ]
    if not (empty.any() or bad.any()):
        return Points(np.column_stack((xs, ys))), used, problems
    geometry = np.full(len(frame), None, dtype=object)
    good = ~(empty | bad)
    geometry[good] = shapely.points(xs[good], ys[good])
    return geometry, used, problems


def _wkt_shapes(cells: pd.Series) -> tuple[np.ndarray, list[Problem]]:
    """Shapes from WKT cells (None where blank); a cell that is not WKT is a problem of its row."""
    _, blank = stripped_text(cells)
    geometry = np.full(len(cells), None, dtype=object)
    geometry[~blank] = shapely.from_wkt(cells.to_numpy(dtype=object)[~blank], on_invalid="ignore")
    problems = []
    for i in map(int, np.flatnonzero(~blank & shapely.is_missing(geometry))):
        try:  # again on its own, for GEOS's reason
            geometry[i] = shapely.from_wkt(str(cells.iat[i]))
        except shapely.errors.GEOSException as exc:
            problems.append(Problem(i + 1, None, cells.name, f"not WKT: {exc}"))
    return geometry, problems


NOT_EMPTY = "a file with at least one row of data"


def read_source(path: Path, mapping: Mapping, target: str) -> SourceTable:
    """Read every row of the file; nothing is filtered here."""
    if not path.exists():
        raise InvalidParameter("PATH", f"no such file or folder: {path}")
    if path.is_file() and path.stat().st_size == 0:
        raise InvalidParameter("PATH", f"{path} is empty (0 bytes)", NOT_EMPTY)
    if mapping.reader == "catastro_minero":
        return _read_catastro_minero(path)
    suffix = path.suffix.casefold()
    if suffix in (".parquet", ".geoparquet"):
        import geopandas

        frame = geopandas.read_parquet(path)
        return SourceTable(
            pd.DataFrame(frame.drop(columns=frame.geometry.name)),
            frame.geometry.to_numpy(),
            frame.crs,
        )
    gdal_path = gdal_path_of(path)
    try:
        if suffix in CSV_FORMATS:
            frame = arrow_frame(
                *pyogrio.read_arrow(gdal_path, read_geometry=False, datetime_as_string=True)
            )
            geometry, used, problems = csv_geometry(frame, mapping)
            return SourceTable(frame, geometry, None, used, problems)
        layer = file_layer(gdal_path, mapping, target)
        if suffix in (
            ".geojson",
            ".json",
        ):  # pyogrio 0.13's Arrow path fails on GeoJSON ids read as FIDs
            frame = pyogrio.read_dataframe(
                gdal_path, layer=layer, fid_as_index=True, use_arrow=False
            )
        else:
            return _read_arrow(path, gdal_path, layer, fids=suffix in FID_FORMATS)
    except READ_ERRORS as exc:
        raise read_failure(path, exc) from None
    if not hasattr(frame, "geometry"):
        raise InvalidParameter("PATH", f"{path} has no geometry column")
    if "fid" not in frame.columns:
        frame = frame.reset_index(names="fid")
    return SourceTable(
        pd.DataFrame(frame.drop(columns=frame.geometry.name)), frame.geometry.to_numpy(), frame.crs
    )


# What GDAL or Arrow raise for a file they cannot read (Arrow: text that is not UTF-8).
READ_ERRORS = (pyogrio.errors.DataSourceError, UnicodeDecodeError, pa.ArrowInvalid)


def read_failure(path: Path, exc: Exception) -> InvalidParameter:
    if isinstance(exc, pyogrio.errors.DataSourceError):
        return _unreadable(path, exc)
    return _unreadable(path, f"{exc} (text must be UTF-8)")


def _unreadable(path: Path, reason: object) -> InvalidParameter:
    return InvalidParameter(
        "PATH",
        f"cannot read {path}: {reason}",
        "GeoPackage, Shapefile (folder or .zip), GeoJSON, FlatGeobuf, GeoParquet, KML or CSV",
    )


def _read_arrow(path: Path, gdal_path: str, layer: str | None, fids: bool) -> SourceTable:
    """A GDAL format read as Arrow, whole."""
    meta, table = pyogrio.read_arrow(
        gdal_path, layer=layer, return_fids=fids, datetime_as_string=True
    )
    columns, geometry = arrow_rows(path, meta, table, fids)
    crs = CRS.from_user_input(meta["crs"]) if meta["crs"] else None
    return SourceTable(columns, geometry, crs)


def arrow_rows(
    path: Path, meta: dict, table: pa.Table, fids: bool
) -> tuple[pd.DataFrame, np.ndarray | Points]:
    """Rows of a GDAL format read as Arrow: attribute columns as pyogrio.read_dataframe makes
    them, the geometries as coordinates when they are all plain points, else as shapely
    geometries."""
    geometry_name = meta["geometry_name"] or "wkb_geometry"
    if geometry_name not in table.column_names:
        raise InvalidParameter("PATH", f"{path} has no geometry column")
    wkb = table.column(geometry_name)
    columns = arrow_frame(meta, table.drop_columns([geometry_name]))
    if fids:  # the feature id is data, as column `fid` (a column of that name wins)
        columns = (
            columns.drop(columns=meta["fid_column"])
            if "fid" in meta["fields"]
            else columns.rename(columns={meta["fid_column"]: "fid"})
        )
    geometry = read_points(wkb)
    if geometry is None:
        geometry = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
    return columns, geometry


def arrow_frame(meta: dict, table: pa.Table) -> pd.DataFrame:
    """Attribute columns as pyogrio.read_dataframe makes them; text that is not UTF-8 is refused
    here rather than when a value is first used."""
    table.validate(full=True)
    frame = table.to_pandas()
    for name, dtype, subtype in zip(
        meta["fields"], meta["dtypes"], meta["ogr_subtypes"], strict=True
    ):
        if _date_time(dtype):
            frame[name] = _datetimes(frame[name])
        elif subtype == "OFSTJSON" and pd.api.types.infer_dtype(frame[name]) == "string":
            frame[name] = _json(frame[name])
    return frame


def _date_time(dtype: str | None) -> bool:
    return dtype is not None and dtype.startswith("datetime") and dtype != "datetime64[D]"


def converted_whole(meta: dict) -> bool:
    """Whether a column is converted as a whole (date-times: to UTC if any two offsets differ;
    JSON: left as text if any cell is not JSON), so that reading it in pieces could convert
    one piece differently from another."""
    return any(
        _date_time(dtype) or subtype == "OFSTJSON"
        for dtype, subtype in zip(meta["dtypes"], meta["ogr_subtypes"], strict=True)
    )


def _datetimes(text: pd.Series) -> pd.Series:
    """Date-times GDAL gave as ISO 8601 text, parsed as pyogrio.read_dataframe does: mixed
    offsets taken to UTC, to the millisecond (GDAL's precision); text that does not parse is
    left as it is."""
    try:
        return pd.to_datetime(text, format="ISO8601").dt.as_unit("ms")
    except ValueError as exc:
        if "Mixed timezones detected" not in str(exc):
            return text
    try:
        return pd.to_datetime(text, utc=True, format="ISO8601").dt.as_unit("ms")
    except ValueError:
        return text


def _json(text: pd.Series) -> pd.Series:
    """JSON fields (GeoJSON arrays, lists in a GeoPackage) as Python values, as pyogrio reads them."""
    try:
        return text.map(json.loads, na_action="ignore")
    except ValueError:
        return text


def _read_catastro_minero(path: Path) -> SourceTable:
    """The MITECO Catastro Minero CSV, through geo.io.catastro_minero's reader."""
    try:
        from geo.io import catastro_minero
    except ImportError:
        raise InvalidParameter(
            "mapping",
            "the Catastro Minero reader (geo.io.catastro_minero) is not installed in this version",
            "another preset or a mapping file",
        ) from None
    frame = catastro_minero.read_rights(path)
    return SourceTable(
        pd.DataFrame(frame.drop(columns=frame.geometry.name)), frame.geometry.to_numpy(), frame.crs
    )
