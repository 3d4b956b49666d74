"""Registering rasters: checked, converted to a Cloud-Optimised GeoTIFF, described in the database.

Anything GDAL reads is accepted if it has a CRS PROJ can transform to lon/lat and is not over
the configured size; it is refused with the reason otherwise, and nothing is written. The COG
is kept under the raster directory with overviews; its metadata and per-band statistics go
into the `rasters` table (geo/store/models/).
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import orjson
import rasterio
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from pyproj.exceptions import CRSError, ProjError
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles
from shapely.geometry import box
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo.core.errors import InvalidParameter, NotFound
from geo.core.settings import Settings

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
NAME_RULE = "lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 64"
COLUMNS = (
    "id, name, title, description, units, file_name, crs_wkt, epsg, width, height, band_count, "
    "data_type, nodata, transform, bounds, statistics, categorical, screening, source, licence, "
    "ST_AsGeoJSON(footprint) AS footprint"
)


@dataclass(frozen=True)
class RasterInfo:
    """A registered raster as the database describes it, with the path of its COG."""

    id: int
    name: str
    title: str | None
    description: str | None
    units: str | None
    path: Path
    crs_wkt: str
    epsg: int | None
    width: int
    height: int
    band_count: int
    data_type: str
    nodata: float | None
    transform: tuple[float, ...]
    bounds: tuple[float, ...]
    statistics: list[dict]
    categorical: bool
    screening: bool
    source: str | None
    licence: str | None
    footprint: dict

    @property
    def resolution(self) -> tuple[float, float]:
        return abs(self.transform[0]), abs(self.transform[4])

    @property
    def crs_label(self) -> str:
        return f"EPSG:{self.epsg}" if self.epsg else ProjCRS.from_wkt(self.crs_wkt).name


def raster_dir(settings: Settings) -> Path:
    """Where the COGs live: VETA_RASTER_DIR, else <state_dir>/rasters."""
    return settings.raster_dir or settings.state_dir / "rasters"


def info_from_row(row, directory: Path) -> RasterInfo:
    """A RasterInfo from a row of COLUMNS (asyncpg record or SQLAlchemy row): the columns are
    its members, but the COG's path for its file name, tuples for arrays, and JSON parsed."""
    data = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    data["path"] = directory / data.pop("file_name")
    data["transform"], data["bounds"] = tuple(data["transform"]), tuple(data["bounds"])
    for member in ("statistics", "footprint"):
        # jsonb arrives as text from asyncpg, parsed from SQLAlchemy's psycopg.
        if isinstance(data[member], str):
            data[member] = orjson.loads(data[member])
    return RasterInfo(**data)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise InvalidParameter("name", f"{name!r} is not a raster name", NAME_RULE)
    return name


def open_checked(path: Path, max_file_mb: int) -> rasterio.DatasetReader:
    """The raster at `path`, opened, or a refusal naming what is wrong with it."""
    if not path.exists():
        raise InvalidParameter("file", f"{path} does not exist", "a raster file GDAL can read")
    size_mb = path.stat().st_size / 2**20 if path.is_file() else 0.0
    if size_mb > max_file_mb:
        raise InvalidParameter(
            "file",
            f"{path.name} is {size_mb:,.0f} MiB, over the {max_file_mb:,} MiB "
            "limit (VETA_RASTER_MAX_FILE_MB)",
            f"a file of at most {max_file_mb:,} MiB",
        )
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        raise InvalidParameter(
            "file",
            f"{path.name} is not a raster GDAL can read ({exc})",
            "a GeoTIFF, COG or any raster format GDAL reads",
        ) from None
    try:
        if src.crs is None:
            raise InvalidParameter(
                "file",
                f"{path.name} has no coordinate reference system",
                "a raster with a CRS (set one with gdal_edit.py -a_srs EPSG:25830)",
            )
        lonlat_footprint(src.crs.to_wkt(), src.bounds)
    except Exception:
        src.close()
        raise
    return src


def lonlat_footprint(crs_wkt: str, bounds) -> box:
    """The raster's bounds as a lon/lat box, or a refusal when PROJ cannot use its CRS."""
    refusal = InvalidParameter(
        "file",
        "the raster's CRS cannot be transformed to longitude/latitude by PROJ",
        "a raster in a CRS PROJ knows (EPSG codes, WKT with a datum)",
    )
    try:
        crs = ProjCRS.from_wkt(crs_wkt)
        Transformer.from_crs(crs, 4326, always_xy=True)
        west, south, east, north = transform_bounds(crs_wkt, "EPSG:4326", *bounds, densify_pts=21)
    except (CRSError, ProjError, rasterio.errors.CRSError, ValueError):
        raise refusal from None
    if not all(math.isfinite(v) for v in (west, south, east, north)) or south < -90 or north > 90:
        raise refusal
    return box(west, south, east, north)


def band_statistics(src: rasterio.DatasetReader) -> list[dict]:
    """Exact min, max, mean, std and valid cell count per band, read block by block (constant memory)."""
    result = []
    for band in src.indexes:
        count, total, squares = 0, 0.0, 0.0
        low, high = math.inf, -math.inf
        for _, window in src.block_windows(band):
            data = src.read(band, window=window, masked=True)
            values = data.compressed().astype(np.float64)
            values = values[np.isfinite(values)]
            if values.size:
                count += values.size
                total += float(values.sum())
                squares += float(np.square(values).sum())
                low, high = min(low, float(values.min())), max(high, float(values.max()))
        if count:
            mean = total / count
            std = math.sqrt(max(squares / count - mean * mean, 0.0))
            result.append(
                {"band": band, "count": count, "min": low, "max": high, "mean": mean, "std": std}
            )
        else:
            result.append(
                {"band": band, "count": 0, "min": None, "max": None, "mean": None, "std": None}
            )
    return result


def convert_to_cog(src: rasterio.DatasetReader, destination: Path, categorical: bool) -> None:
    """Write `src` as a COG (deflate, 512-pixel tiles, overviews down to one tile)."""
    profile = cog_profiles.get("deflate")
    profile.update(blockxsize=512, blockysize=512)
    if src.dtypes[0].startswith("float"):
        profile["predictor"] = 3
    # Classes must not be averaged into codes that mean nothing.
    resampling: Literal["nearest", "average"] = "nearest" if categorical else "average"
    cog_translate(
        src,
        str(destination),
        profile,
        overview_resampling=resampling,
        quiet=True,
        in_memory=False,
        config={"GDAL_NUM_THREADS": "2", "GDAL_TIFF_OVR_BLOCKSIZE": "512"},
    )


def register(
    engine: Engine,
    settings: Settings,
    path: Path,
    name: str,
    *,
    title: str | None = None,
    units: str | None = None,
    description: str | None = None,
    source: str | None = None,
    licence: str | None = None,
    categorical: bool = False,
    screening: bool = False,
    file_name: str | None = None,
) -> RasterInfo:
    """Register the raster at `path` as `name`: converted to a COG, described in the database.
    Refused (nothing written) when the name is taken or the file is not usable. `file_name`
    fixes the COG's name (the sample raster, shared by databases on one machine)."""
    check_name(name)
    with engine.connect() as conn:
        if conn.execute(text("SELECT 1 FROM rasters WHERE name = :n"), {"n": name}).first():
            raise InvalidParameter(
                "name",
                f"a raster named {name!r} is already registered",
                "a new name, or `veta raster remove` first",
            )
    directory = raster_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    shared = file_name is not None
    file_name = file_name or f"{name}-{uuid.uuid4().hex[:8]}.tif"
    destination = directory / file_name
    # Written under a name of its own and moved into place whole: another process may be
    # writing the same fixed-name file.
    scratch = directory / f".{uuid.uuid4().hex}.tif"
    with open_checked(Path(path), settings.raster_max_file_mb) as src:
        try:
            convert_to_cog(src, scratch, categorical)
            with rasterio.open(scratch) as cog:
                described = describe(cog)
            scratch.replace(destination)
            values = described | {
                "name": name,
                "title": title,
                "units": units,
                "description": description,
                "source": source,
                "licence": licence,
                "categorical": categorical,
                "screening": screening,
                "file_name": file_name,
            }
            with engine.begin() as conn:
                conn.execute(text(_insert_sql(values)), values)
        except BaseException:
            scratch.unlink(missing_ok=True)
            if not shared:
                destination.unlink(missing_ok=True)
            raise
    return find(engine, settings, name)


# Columns not stored as the value bound: WKT made a geometry, JSON text made jsonb.
_STORED_AS = {
    "footprint": "ST_GeomFromText(:footprint, 4326)",
    "statistics": "CAST(:statistics AS jsonb)",
}


def _insert_sql(values: dict) -> str:
    """The INSERT of a raster's row: a column for each of `values`' keys (named by code)."""
    placeholders = ", ".join(_STORED_AS.get(column, f":{column}") for column in values)
    return f"INSERT INTO rasters ({', '.join(values)}) VALUES ({placeholders})"


def describe(cog: rasterio.DatasetReader) -> dict:
    """The metadata columns of a COG: CRS, grid, bands, nodata, footprint, statistics."""
    crs_wkt = cog.crs.to_wkt()
    return {
        "crs_wkt": crs_wkt,
        "epsg": cog.crs.to_epsg(),
        "width": cog.width,
        "height": cog.height,
        "band_count": cog.count,
        "data_type": cog.dtypes[0],
        "nodata": None if cog.nodata is None or math.isnan(cog.nodata) else float(cog.nodata),
        "transform": list(cog.transform)[:6],
        "bounds": list(cog.bounds),
        "footprint": lonlat_footprint(crs_wkt, cog.bounds).wkt,
        "statistics": orjson.dumps(band_statistics(cog)).decode(),
    }


def find(engine: Engine, settings: Settings, name: str) -> RasterInfo:
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT {COLUMNS} FROM rasters WHERE name = :n"), {"n": name}
        ).first()
    if row is None:
        raise NotFound(f"no raster named {name!r}")
    return info_from_row(row, raster_dir(settings))


def list_rasters(engine: Engine, settings: Settings) -> list[RasterInfo]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT {COLUMNS} FROM rasters ORDER BY name")).all()
    return [info_from_row(r, raster_dir(settings)) for r in rows]


def remove(engine: Engine, settings: Settings, name: str) -> None:
    """Unregister `name` and delete its COG."""
    info = find(engine, settings, name)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rasters WHERE id = :id"), {"id": info.id})
    info.path.unlink(missing_ok=True)


def set_screening(engine: Engine, name: str, screening: bool) -> None:
    with engine.begin() as conn:
        if not conn.execute(
            text("UPDATE rasters SET screening = :s WHERE name = :n RETURNING id"),
            {"s": screening, "n": name},
        ).first():
            raise NotFound(f"no raster named {name!r}")
