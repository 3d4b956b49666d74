"""The coordinate reference systems Veta serves (OGC API – Features Part 2), with their axis order."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pyproj import CRS as ProjCRS
from pyproj import Transformer

from geo.core.errors import InvalidParameter
from geo.core.settings import get_settings

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"


@dataclass(frozen=True)
class Crs:
    """A served CRS: its URI, the PostGIS SRID and whether its first axis is northing/latitude."""

    uri: str
    srid: int
    northing_first: bool
    label: str

    @property
    def geographic(self) -> bool:
        return self.srid in (4326, 4258)

    @property
    def decimals(self) -> int:
        # 1e-9 degree keeps stored lon/lat exactly; 1 mm is far below any survey's accuracy.
        return 9 if self.geographic else 3


def _epsg(code: int, label: str) -> Crs:
    # The axis order is the one the EPSG registry defines (4326, 4258 and 3035 are
    # northing/latitude first), read from PROJ rather than kept as a second list here.
    first_axis = ProjCRS.from_epsg(code).axis_info[0].direction
    return Crs(EPSG_URI.format(code), code, first_axis in ("north", "south"), label)


CRS84 = Crs(CRS84_URI, 4326, False, "WGS 84 longitude/latitude (CRS84, the GeoJSON default)")
SUPPORTED: tuple[Crs, ...] = (
    CRS84,
    _epsg(4326, "WGS 84, latitude first"),
    _epsg(4258, "ETRS89, latitude first"),
    _epsg(25829, "ETRS89 / UTM zone 29N"),
    _epsg(25830, "ETRS89 / UTM zone 30N (Castilla y León's official CRS)"),
    _epsg(3035, "ETRS89-LAEA Europe (EEA data), northing first"),
    _epsg(3857, "WGS 84 / Pseudo-Mercator (web maps)"),
)
STORAGE = CRS84
_BY_URI = {c.uri: c for c in SUPPORTED}
# Short forms people type: EPSG:25830, [EPSG:25830] (a safe CURIE), OGC:CRS84, CRS84.
_BY_URI.update({f"EPSG:{c.srid}": c for c in SUPPORTED if c is not CRS84})
_BY_URI.update({"OGC:CRS84": CRS84, "CRS84": CRS84})


def parse_crs(text: str | None, parameter: str) -> Crs:
    """The served CRS a request names by URI (or EPSG:nnnn); CRS84 when not given."""
    if text is None:
        return CRS84
    key = text.strip()
    if key.startswith("[") and key.endswith("]"):
        key = key[1:-1]
    crs = _BY_URI.get(key) or _BY_URI.get(key.upper())
    if crs is None:
        raise InvalidParameter(parameter, f"unsupported CRS {text!r}", [c.uri for c in SUPPORTED])
    return crs


# The SRIDs the database's spatial_ref_sys holds, read once when the service starts
# (remember_postgis_srids); None until then, and in tools that never ask PostGIS to transform.
_postgis_srids: frozenset[int] | None = None


def remember_postgis_srids(srids) -> None:
    """Record which SRIDs PostGIS can transform to; every served CRS must be one of them."""
    global _postgis_srids
    _postgis_srids = frozenset(srids)
    missing = [c.uri for c in SUPPORTED if c.srid not in _postgis_srids]
    if missing:
        raise RuntimeError(f"PostGIS's spatial_ref_sys lacks served CRSs: {', '.join(missing)}")


def postgis_knows(srid: int) -> bool:
    """Whether PostGIS can transform to `srid` (True while its list has not been read)."""
    return _postgis_srids is None or srid in _postgis_srids


@lru_cache
def _projected_extent(srid: int, margin_deg: float) -> tuple[float, float, float, float]:
    """x/y bounds (easting, northing) of the CRS's EPSG area of use widened by `margin_deg`."""
    west, south, east, north = ProjCRS.from_epsg(srid).area_of_use.bounds
    to_crs = Transformer.from_crs(4326, srid, always_xy=True)
    widened = (
        max(west - margin_deg, -180),
        max(south - margin_deg, -89.9),
        min(east + margin_deg, 180),
        min(north + margin_deg, 89.9),
    )
    bounds = to_crs.transform_bounds(*widened, densify_pts=51)
    # Pseudo-Mercator has no northing beyond ±85.06°: its own area of use is then the limit.
    return (
        bounds if np.isfinite(bounds).all() else to_crs.transform_bounds(west, south, east, north)
    )


def check_area_of_use(
    crs: Crs, bounds: tuple[float, float, float, float], parameter: str, crs_parameter: str
) -> None:
    """Refuse coordinates (x/y bounds, easting first) of a projected CRS far outside the area
    it is defined for: there the projection fails or means nothing (a 1e8 m box in UTM)."""
    if crs.geographic:
        return
    margin = get_settings().crs_area_margin_deg
    x_min, y_min, x_max, y_max = _projected_extent(crs.srid, margin)
    if bounds[0] < x_min or bounds[1] < y_min or bounds[2] > x_max or bounds[3] > y_max:
        raise InvalidParameter(
            parameter,
            f"coordinates outside the area of use of {crs.uri} ({crs_parameter}) widened by {margin:g}°",
            f"easting {x_min:,.0f} to {x_max:,.0f}, northing {y_min:,.0f} to {y_max:,.0f}",
        )
