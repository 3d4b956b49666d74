"""The coordinate reference systems Veta serves (OGC API – Features Part 2), with their axis order."""

from __future__ import annotations

from dataclasses import dataclass

from pyproj import CRS as ProjCRS

from geo.errors import InvalidParameter

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
