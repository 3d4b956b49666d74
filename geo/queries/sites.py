"""A site to screen: a GeoJSON geometry in any served CRS, or a deposit or permit, validated.

Everything a user can get wrong is caught here, before any SQL runs, and named by its field:
malformed or unclosed rings, empty geometries, coordinates out of range, self-intersections
(with shapely's explanation), sites larger than the configured maximum.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import shapely

from geo.core.crs import CRS84, Crs, parse_crs
from geo.core.errors import InvalidParameter
from geo.core.limits import checked_id
from geo.queries.site_geometry import SITE_FORMS, check_area, lonlat_geometry

SITE_TYPES = ("Point", "Polygon", "MultiPolygon")
REFERENCES = ("deposit", "permit")
DEPTH_MEMBERS = ("depth_top_m", "depth_bottom_m")
SITE_OPTIONS = ("buffer_m", *DEPTH_MEMBERS)
GEOMETRY_MEMBERS = ("type", "coordinates", "crs", "bbox", *SITE_OPTIONS)
FEATURE_MEMBERS = ("type", "id", "geometry", "properties", "crs", "bbox")
REFERENCE_MEMBERS = ("buffer_m", *DEPTH_MEMBERS)
# GeoJSON 2008 named CRSs as URNs, still what GDAL and QGIS write.
_EPSG_URN = re.compile(r"urn:ogc:def:crs:epsg:[\d.]*:(\d+)")
_CRS84_URNS = ("urn:ogc:def:crs:ogc:1.3:crs84", "urn:ogc:def:crs:ogc::crs84")


@dataclass(frozen=True)
class Site:
    """A validated site: a lon/lat geometry (WKB, EPSG:4326) or a reference to a deposit or
    permit, grown by buffer_m, over a depth interval (None: from the surface / without end)."""

    wkb: bytes | None = None
    reference: tuple[str, int] | None = None
    buffer_m: float | None = None
    depth_top_m: float | None = None
    depth_bottom_m: float | None = None
    # In a batch: the feature's id (or its index) and its `name` property, echoed per row.
    key: str | None = None
    name: str | None = None

    @property
    def has_depth(self) -> bool:
        return self.depth_top_m is not None or self.depth_bottom_m is not None


def parse_site(body: object, content_crs: str | None, max_area_km2: float) -> Site:
    """The site of a POST /screening body (a geometry, a Feature or a reference)."""
    if not isinstance(body, dict):
        raise InvalidParameter("body", "expected a JSON object", SITE_FORMS)
    if "type" not in body:
        return _reference(body)
    if body["type"] == "Feature":
        return _feature(body, "", header_crs(content_crs), max_area_km2)
    return _geometry_site(body, {}, "", header_crs(content_crs), max_area_km2)


def parse_sites(
    body: object, content_crs: str | None, max_area_km2: float, max_sites: int
) -> list[Site]:
    """The sites of a POST /screening/batch body: a FeatureCollection of geometry sites."""
    allowed = (
        f"a GeoJSON FeatureCollection of 1 to {max_sites:,} Point, Polygon or MultiPolygon features"
    )
    if not isinstance(body, dict) or body.get("type") != "FeatureCollection":
        raise InvalidParameter("body", "expected a GeoJSON FeatureCollection", allowed)
    _only(body, ("type", "features", "crs", "bbox", "name"), "")
    features = body.get("features")
    if not isinstance(features, list) or not features:
        raise InvalidParameter("features", "expected a non-empty list of features", allowed)
    if len(features) > max_sites:
        raise InvalidParameter(
            "features", f"{len(features):,} sites, more than one batch may hold", allowed
        )
    crs = _agree(header_crs(content_crs), _member_crs(body, ""))
    sites = []
    for i, feature in enumerate(features):
        path = f"features[{i}]."
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise InvalidParameter(path[:-1], "expected a GeoJSON Feature", allowed)
        key = str(feature["id"]) if feature.get("id") is not None else str(i)
        name = (feature.get("properties") or {}).get("name")
        for field, text in ((f"{path}id", key), (f"{path}properties.name", name)):
            if isinstance(text, str) and "\x00" in text:
                raise InvalidParameter(field, "contains a NUL character", "text without NUL")
        sites.append(
            replace(
                _feature(feature, path, crs, max_area_km2),
                key=key,
                name=None if name is None else str(name),
            )
        )
    return sites


def header_crs(content_crs: str | None) -> Crs | None:
    """The CRS a Content-Crs header names (a URI, with or without its angle brackets)."""
    return parse_crs(content_crs.strip().strip("<>"), "Content-Crs") if content_crs else None


def body_crs(body: dict, content_crs: str | None) -> Crs | None:
    """The CRS a body's coordinates are in, from its Content-Crs header or its `crs` member."""
    return _agree(header_crs(content_crs), _member_crs(body, ""))


def _member_crs(obj: dict, path: str) -> Crs | None:
    """The CRS of a `crs` member: a URI or EPSG:n string, or the GeoJSON 2008 named form."""
    value = obj.get("crs")
    if value is None:
        return None
    if isinstance(value, dict):
        value = (value.get("properties") or {}).get("name")
    if not isinstance(value, str):
        raise InvalidParameter(
            f"{path}crs",
            'expected a CRS URI or {"type": "name", "properties": {"name": URI}}',
            "a CRS URI such as EPSG:25830",
        )
    folded = value.strip().lower()
    if folded in _CRS84_URNS:
        return CRS84
    if urn := _EPSG_URN.fullmatch(folded):
        value = f"EPSG:{urn.group(1)}"
    return parse_crs(value, f"{path}crs")


def _agree(*candidates: Crs | None, parameter: str = "crs") -> Crs | None:
    """The one CRS the header and the crs members name (None: none named)."""
    given = [c for c in candidates if c is not None]
    if any(c != given[0] for c in given):
        raise InvalidParameter(
            parameter,
            "the Content-Crs header and the crs members name different "
            "CRSs: " + ", ".join(sorted({c.uri for c in given})),
            "one CRS for the whole body",
        )
    return given[0] if given else None


def _reference(body: dict) -> Site:
    kinds = [k for k in REFERENCES if k in body]
    if len(kinds) != 1:
        raise InvalidParameter(
            "body",
            "expected a GeoJSON geometry or Feature (a `type` member) or "
            "exactly one of `deposit`, `permit`",
            SITE_FORMS,
        )
    kind = kinds[0]
    _only(body, (kind, *REFERENCE_MEMBERS), "")
    ident = body[kind]
    if isinstance(ident, bool) or not isinstance(ident, int) or ident < 1:
        raise InvalidParameter(
            kind, f"expected a {kind} id, got {ident!r}", "a positive integer id"
        )
    checked_id(ident, kind)
    return Site(reference=(kind, ident), buffer_m=_buffer(body, ""), **_depth(body, ""))


def _feature(feature: dict, path: str, crs: Crs | None, max_area_km2: float) -> Site:
    _only(feature, FEATURE_MEMBERS, path)
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise InvalidParameter(f"{path}properties", "expected an object or null", "an object")
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict):
        raise InvalidParameter(f"{path}geometry", "a site needs a geometry", SITE_FORMS)
    crs = _agree(crs, _member_crs(feature, path))
    # Site options may sit in the properties (QGIS writes them there) but not twice.
    options = {k: properties[k] for k in SITE_OPTIONS if k in properties}
    for name in options:
        if name in geometry:
            raise InvalidParameter(
                f"{path}properties.{name}",
                "given both in the properties and on the geometry",
                "one of the two",
            )
    return _geometry_site(
        geometry, options, f"{path}geometry.", crs, max_area_km2, options_path=f"{path}properties."
    )


def _geometry_site(
    geometry: dict,
    options: dict,
    path: str,
    crs: Crs | None,
    max_area_km2: float,
    options_path: str | None = None,
) -> Site:
    _only(geometry, GEOMETRY_MEMBERS, path)
    kind = geometry.get("type")
    if kind not in SITE_TYPES:
        raise InvalidParameter(f"{path}type", f"a site cannot be a {kind!r}", SITE_TYPES)
    crs = _agree(crs, _member_crs(geometry, path)) or CRS84
    merged = {**geometry, **options}
    buffer_path = options_path if options_path and "buffer_m" in options else path
    buffer_m = _buffer(merged, buffer_path)
    depth = _depth(
        merged, options_path if options_path and set(DEPTH_MEMBERS) & set(options) else path
    )
    where = f"{path}coordinates"
    lonlat = lonlat_geometry(kind, geometry.get("coordinates"), crs, where)
    check_area(lonlat, buffer_m, max_area_km2, where, f"{buffer_path}buffer_m")
    return Site(wkb=shapely.to_wkb(lonlat), buffer_m=buffer_m, **depth)


def _only(obj: dict, allowed: tuple[str, ...], path: str) -> None:
    """Refuse members we would otherwise ignore: nothing a user sends is silently dropped."""
    extra = [k for k in obj if k not in allowed]
    if extra:
        raise InvalidParameter(f"{path}{extra[0]}", "unknown member", allowed)


def _number(value: object, name: str, allowed: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidParameter(name, f"expected a number, got {value!r}", allowed)
    return float(value)


def _buffer(obj: dict, path: str) -> float | None:
    if obj.get("buffer_m") is None:
        return None
    allowed = "a positive number of metres"
    value = _number(obj["buffer_m"], f"{path}buffer_m", allowed)
    if value <= 0:
        raise InvalidParameter(f"{path}buffer_m", f"{value:g} is not positive", allowed)
    return value


def _depth(obj: dict, path: str) -> dict:
    """depth_top_m / depth_bottom_m: metres below surface, top >= 0, bottom below top."""
    allowed = (
        "metres below surface: 0 <= depth_top_m < depth_bottom_m; leave out for the whole column"
    )
    top, bottom = (
        None if obj.get(k) is None else _number(obj[k], f"{path}{k}", allowed)
        for k in DEPTH_MEMBERS
    )
    if top is not None and top < 0:
        raise InvalidParameter(f"{path}depth_top_m", f"{top:g} is above the surface", allowed)
    if bottom is not None and bottom <= (top or 0):
        raise InvalidParameter(
            f"{path}depth_bottom_m", f"{bottom:g} is not below the top ({top or 0:g})", allowed
        )
    return {"depth_top_m": top, "depth_bottom_m": bottom}
