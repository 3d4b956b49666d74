"""PNG tiles of a registered raster in WebMercatorQuad (rio-tiler), coloured by a named colour map."""

from __future__ import annotations

import numpy as np
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader
from rio_tiler.utils import render

from geo.core.errors import InvalidParameter
from geo.rasters.storage import RasterInfo

TILE_SIZE = 256
MAX_ZOOM = 22
DEFAULT_COLORMAP = "viridis"
# Class codes are colour indexes themselves: a qualitative map keeps neighbours apart.
DEFAULT_CATEGORICAL_COLORMAP = "tab20"
RESCALE_RULE = "min,max: two numbers, min below max (default: the band's minimum and maximum)"


def parse_rescale(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidParameter("rescale", f"{text!r} is not two numbers", RESCALE_RULE) from None
    if not low < high:
        raise InvalidParameter("rescale", f"{low:g} is not below {high:g}", RESCALE_RULE)
    return low, high


def parse_colormap(name: str | None, categorical: bool) -> dict:
    name = name or (DEFAULT_CATEGORICAL_COLORMAP if categorical else DEFAULT_COLORMAP)
    if name.lower() not in cmap.list():
        raise InvalidParameter(
            "colormap",
            f"unknown colour map {name!r}",
            "a rio-tiler colour map name, e.g. viridis, magma, terrain, greys, tab20",
        )
    return cmap.get(name.lower())


def _empty_tile() -> bytes:
    return render(
        np.zeros((1, TILE_SIZE, TILE_SIZE), dtype="uint8"),
        mask=np.zeros((TILE_SIZE, TILE_SIZE), dtype="uint8"),
        img_format="PNG",
    )


def raster_tile(
    info: RasterInfo,
    z: int,
    x: int,
    y: int,
    *,
    band: int = 1,
    colormap: str | None = None,
    rescale: tuple[float, float] | None = None,
) -> bytes:
    """One 256-pixel PNG tile; nodata and outside the raster transparent. Continuous values are
    rescaled linearly from `rescale` (default the band's min and max) to the colour map's 0-255;
    a categorical raster's class codes index the colour map directly."""
    if not 0 <= z <= MAX_ZOOM or not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidParameter(
            "z/x/y",
            f"{z}/{x}/{y} is not a tile of WebMercatorQuad",
            f"zoom 0 to {MAX_ZOOM}, x and y from 0 to 2^zoom - 1",
        )
    if not 1 <= band <= info.band_count:
        raise InvalidParameter(
            "band", f"raster {info.name!r} has no band {band}", f"1 to {info.band_count}"
        )
    colours = parse_colormap(colormap, info.categorical)
    with Reader(str(info.path)) as reader:
        if info.categorical and colormap is None and reader.colormap:
            # A colour table in the file (the constraint map's, a land-cover legend) wins.
            colours = reader.colormap
        if not reader.tile_exists(x, y, z):
            return _empty_tile()
        try:
            image = reader.tile(
                x,
                y,
                z,
                tilesize=TILE_SIZE,
                indexes=band,
                resampling_method="nearest" if info.categorical else "bilinear",
            )
        except TileOutsideBounds:
            return _empty_tile()
    if info.categorical and not rescale:
        # Class codes index the colour map as they are.
        image.array = image.array.astype("uint8")
    else:
        stats = info.statistics[band - 1]
        low, high = rescale or (stats["min"] or 0.0, stats["max"] or 1.0)
        if low == high:
            high = low + 1
        image.rescale(in_range=((low, high),))
    return image.render(img_format="PNG", colormap=colours)
