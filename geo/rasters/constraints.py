"""The constraint map: the legal-effect class in force at each cell centre, as a uint8 COG.

The classes are the most restrictive legal effect of the zones in force on the chosen day
whose depth interval overlaps the requested one (the 3D rule; no interval asked: the whole
column): 1 exclusion, 2 conditional, 3 safeguarding, 4 free, with a colour table. Its companion
(same grid) is the share of each cell (percent) that is free cuadrícula ground today (no
holding right, no exclusion zone in the cuadrícula cell), estimated on a 4 × 4 sub-grid per
cell. 255 is nodata (outside the requested admin area). The grid is rendered in windows into a tiled GeoTIFF, then turned
into a COG, so memory stays flat however large the map.
"""

from __future__ import annotations

import math
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.features import rasterize
from rasterio.transform import from_origin
from rasterio.windows import Window
from rasterio.windows import transform as window_transform
from shapely.geometry import box, shape
from shapely.strtree import STRtree

from geo.core.crs import Crs
from geo.core.errors import InvalidParameter
from geo.core.sql import Params, SqlQuery
from geo.queries.grid_cells import GroundQuery, free_query
from geo.rules.protection import zone_in_force

CLASSES = {"exclusion": 1, "conditional": 2, "safeguarding": 3}
FREE = 4
NODATA = 255
COLOURS = {
    1: (200, 30, 30, 255),
    2: (240, 150, 30, 255),
    3: (240, 220, 60, 255),
    FREE: (120, 190, 110, 255),
}
LEGEND = {1: "exclusion", 2: "conditional", 3: "safeguarding", FREE: "free"}
WINDOW = 1024
SUBGRID = 4


@dataclass(frozen=True)
class ConstraintRequest:
    """What to render: a bbox in a projected CRS at a resolution in metres, on a day, over an
    optional depth interval, optionally only inside an admin area (outline in lon/lat WKB)."""

    bbox: tuple[float, float, float, float]
    crs: Crs
    resolution: float
    day: date
    depth_top_m: float | None = None
    depth_bottom_m: float | None = None
    area_outline: bytes | None = None

    @property
    def shape(self) -> tuple[int, int]:
        west, south, east, north = self.bbox
        return math.ceil((north - south) / self.resolution), math.ceil(
            (east - west) / self.resolution
        )


def check_request(request: ConstraintRequest, max_cells: int) -> ConstraintRequest:
    if not request.resolution > 0 or not math.isfinite(request.resolution):
        raise InvalidParameter(
            "resolution",
            f"{request.resolution:g} is not a cell size",
            "a positive number of metres",
        )
    west, south, east, north = request.bbox
    if not (west < east and south < north):
        raise InvalidParameter(
            "bbox", "the box is empty or inverted", "minx,miny,maxx,maxy in the CRS, min below max"
        )
    rows, cols = request.shape
    if rows * cols > max_cells:
        raise InvalidParameter(
            "resolution",
            f"{rows:,} x {cols:,} cells, more than the {max_cells:,} one map may have "
            "(VETA_CONSTRAINTS_MAX_CELLS)",
            "a coarser resolution or a smaller box",
        )
    if (
        request.depth_top_m is not None
        and request.depth_bottom_m is not None
        and request.depth_bottom_m <= request.depth_top_m
    ):
        raise InvalidParameter(
            "depth_bottom_m", "the bottom is not below the top", "depth_bottom_m > depth_top_m"
        )
    return request


def lonlat_bbox(request: ConstraintRequest) -> tuple[float, float, float, float]:
    transformer = Transformer.from_crs(request.crs.srid, 4326, always_xy=True)
    return transformer.transform_bounds(*request.bbox, densify_pts=21)


def zones_query(request: ConstraintRequest) -> SqlQuery:
    """(legal_effect, WKB in the map's CRS) of the zone parts that apply inside the box."""
    params = Params()
    west, south, east, north = lonlat_bbox(request)
    text = (
        f"SELECT z.legal_effect, ST_AsBinary(ST_Transform(part.geom, {params(request.crs.srid)}::int)) "
        "FROM protection_zone_parts part JOIN protection_zones z ON z.id = part.zone_id "
        f"WHERE part.geom && ST_MakeEnvelope({params(west)}, {params(south)}, {params(east)}, {params(north)}, 4326) "
        f"AND z.legal_effect = ANY({params(list(CLASSES))}::text[]) "
        f"AND {zone_in_force('z', params(request.day) + '::date')} "
        f"AND depth_intervals_overlap(z.depth_top_m, z.depth_bottom_m, {params(request.depth_top_m)}::float8, "
        f"{params(request.depth_bottom_m)}::float8)"
    )
    return SqlQuery(text, tuple(params.values))


def free_ground_query(request: ConstraintRequest) -> SqlQuery:
    """Free cuadrícula ground in the box today, merged (geo/queries/grid_cells.py's one rule)."""
    return free_query(GroundQuery(None, lonlat_bbox(request), ("exclusion",), merge=True))


def free_ground_geometries(rows, crs: Crs) -> list:
    """The free-ground features of free_ground_query, in the map's CRS."""
    transformer = Transformer.from_crs(4326, crs.srid, always_xy=True)
    polygons = [shape(orjson.loads(feature)["geometry"]) for *_, feature in rows]
    return [
        shapely.transform(
            shapely.segmentize(p, 0.001),
            lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])),
        )
        for p in polygons
    ]


def render(
    request: ConstraintRequest,
    zones: list[tuple[str, bytes]],
    free: list,
    destination: Path,
    share_destination: Path | None = None,
) -> None:
    """Write the classes of `request` as a COG at `destination` and, when asked, the free-ground
    share at `share_destination`. Two files, not two bands: GDAL marks the second band of a
    paletted GeoTIFF as alpha, and GIS would hide every cell with no free ground."""
    rows, cols = request.shape
    transform = from_origin(
        request.bbox[0], request.bbox[3], request.resolution, request.resolution
    )
    # Most restrictive last: later shapes overwrite earlier ones.
    ordered = sorted(
        ((shapely.from_wkb(wkb), CLASSES[effect]) for effect, wkb in zones), key=lambda s: -s[1]
    )
    zone_tree = STRtree([g for g, _ in ordered]) if ordered else None
    free_tree = STRtree(free) if free and share_destination else None
    outline = None
    if request.area_outline is not None:
        to_map = Transformer.from_crs(4326, request.crs.srid, always_xy=True)
        outline = shapely.transform(
            shapely.segmentize(shapely.from_wkb(request.area_outline), 0.001),
            lambda xy: np.column_stack(to_map.transform(xy[:, 0], xy[:, 1])),
        )
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": "uint8",
        "crs": f"EPSG:{request.crs.srid}",
        "transform": transform,
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
    }
    tags = {
        "day": request.day.isoformat(),
        "depth_top_m": str(request.depth_top_m),
        "depth_bottom_m": str(request.depth_bottom_m),
    }
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch, ExitStack() as files:
        raw_classes, raw_share = Path(scratch) / "classes.tif", Path(scratch) / "share.tif"
        classes_dst = files.enter_context(rasterio.open(raw_classes, "w", **profile))
        classes_dst.write_colormap(1, {**{i: (0, 0, 0, 0) for i in range(256)}, **COLOURS})
        classes_dst.set_band_description(
            1, "legal effect: 1 exclusion, 2 conditional, 3 safeguarding, 4 free"
        )
        classes_dst.update_tags(**{f"class_{k}": v for k, v in LEGEND.items()}, **tags)
        share_dst = None
        if share_destination is not None:
            share_dst = files.enter_context(rasterio.open(raw_share, "w", **profile))
            share_dst.set_band_description(1, "free cuadrícula ground, percent of the cell")
            share_dst.update_tags(**tags)
        for row in range(0, rows, WINDOW):
            for col in range(0, cols, WINDOW):
                window = Window(col, row, min(WINDOW, cols - col), min(WINDOW, rows - row))
                classes, share = _render_window(
                    window,
                    window_transform(window, transform),
                    ordered,
                    zone_tree,
                    free,
                    free_tree,
                    outline,
                    with_share=share_dst is not None,
                )
                classes_dst.write(classes, 1, window=window)
                if share_dst is not None:
                    share_dst.write(share, 1, window=window)
        files.close()
        _to_cog(raw_classes, destination)
        if share_destination is not None:
            _to_cog(raw_share, share_destination)


def _to_cog(raw: Path, destination: Path) -> None:
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.profiles import cog_profiles

    cog = cog_profiles.get("deflate")
    cog.update(blockxsize=512, blockysize=512)
    cog_translate(
        str(raw),
        str(destination),
        cog,
        overview_resampling="nearest",
        quiet=True,
        in_memory=False,
        config={"GDAL_NUM_THREADS": "2", "GDAL_TIFF_OVR_BLOCKSIZE": "512"},
    )


def _render_window(
    window: Window, transform, ordered, zone_tree, free, free_tree, outline, with_share: bool
):
    shape_ = (window.height, window.width)
    west, north = transform.c, transform.f
    east, south = west + transform.a * window.width, north + transform.e * window.height
    frame = box(west, south, east, north)
    classes = np.full(shape_, FREE, dtype="uint8")
    if zone_tree is not None:
        hits = sorted(zone_tree.query(frame, predicate="intersects"))
        if hits:
            rasterize([ordered[i] for i in hits], out=classes, transform=transform)
    share = np.zeros(shape_, dtype="uint8")
    if with_share and free_tree is not None:
        hits = free_tree.query(frame, predicate="intersects")
        if len(hits):
            fine = rasterize(
                [(free[i], 1) for i in hits],
                out_shape=(shape_[0] * SUBGRID, shape_[1] * SUBGRID),
                transform=transform @ Affine.scale(1 / SUBGRID),
                dtype="uint8",
            )
            counts = fine.reshape(shape_[0], SUBGRID, shape_[1], SUBGRID).sum(
                axis=(1, 3), dtype=np.uint16
            )
            share = np.round(counts * (100 / SUBGRID**2)).astype("uint8")
    if outline is not None:
        inside = rasterize(
            [(outline, 1)], out_shape=shape_, transform=transform, dtype="uint8"
        ).astype(bool)
        classes[~inside] = NODATA
        share[~inside] = NODATA
    return classes, share


async def area_bbox(conn, code: str, crs: Crs) -> tuple[float, float, float, float]:
    """An admin area's bbox in the map's CRS, whole metres outwards."""
    west, south, east, north = await conn.fetchrow(
        "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Transform(geom, $2::int) b "
        "FROM admin_areas WHERE code = $1) a",
        code,
        crs.srid,
    )
    return math.floor(west), math.floor(south), math.ceil(east), math.ceil(north)


async def fetch_sources(
    conn, request: ConstraintRequest, with_free: bool
) -> tuple[list[tuple[str, bytes]], list]:
    """The zone parts and (when the free-ground share is wanted) the free ground."""
    zones = zones_query(request)
    zone_rows = [(r[0], bytes(r[1])) for r in await conn.fetch(zones.text, *zones.values)]
    if not with_free:
        return zone_rows, []
    free = free_ground_query(request)
    return zone_rows, free_ground_geometries(await conn.fetch(free.text, *free.values), request.crs)
