"""Screening reports as JSON, as a GeoJSON FeatureCollection and as a printable SVG map."""

from __future__ import annotations

import numpy as np
import orjson
import shapely
from pyproj import Transformer
from shapely.geometry import shape

# Equal-area ETRS89-LAEA for the report map: shapes keep their proportions across Spain.
_TO_MAP = Transformer.from_crs(4326, 3035, always_xy=True)
MAP_SIZE = 640


def report_json(report: dict) -> bytes:
    """The report without the overlap pieces' geometries (f=geojson carries those)."""
    body = {
        **report,
        "zones": [_without_geometry(z) for z in report["zones"]],
        "permits": [_without_geometry(p) for p in report["permits"]],
    }
    return orjson.dumps(body)


def _without_geometry(item: dict) -> dict:
    return {k: v for k, v in item.items() if k != "geometry"}


def report_features(report: dict) -> list[dict]:
    """The site and its pieces as features, each with a `role` QGIS can style by."""
    site = report["site"]
    features = [
        _feature(
            "site",
            site["geometry"],
            {
                "verdict": report["verdict"],
                "ground_status": report["ground_status"],
                **_without_geometry(site),
                "reasons": "; ".join(
                    r.get("name", "") + (": " if r.get("name") else "") + r["rule"]
                    for r in report["reasons"]
                ),
                "municipalities": ", ".join(
                    f"{m['name']} ({m['code']})" for m in report["municipalities"]
                ),
            },
        )
    ]
    features += [
        _feature("zone_overlap", z["geometry"], _renamed_id(z, "zone_id")) for z in report["zones"]
    ]
    features += [
        _feature("permit_overlap", p["geometry"], _renamed_id(p, "permit_id"))
        for p in report["permits"]
    ]
    free = report["free_ground"]
    features.append(_feature("free_ground", free["geometry"], _without_geometry(free)))
    return features


def _renamed_id(item: dict, key: str) -> dict:
    """Flat properties of a zone or permit, its id under `key` (the feature is a piece of it)."""
    return {key: item["id"], **{k: v for k, v in item.items() if k not in ("id", "geometry")}}


def _feature(role: str, geometry: dict, properties: dict) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": {"role": role, **properties}}


def report_geojson(report: dict) -> bytes:
    return orjson.dumps(
        {
            "type": "FeatureCollection",
            "features": report_features(report),
            "verdict": report["verdict"],
            "ground_status": report["ground_status"],
        }
    )


def report_map(report: dict) -> dict:
    """SVG path data of the site, zone overlaps, permits and nearby context, in a square
    viewBox of MAP_SIZE units around the site (LAEA metres, north up)."""
    # Drawn in this order: the site's outline last, on top of what fills it.
    layers = [("free", report["free_ground"]["geometry"], "free ground")]
    layers += [(f"zone {z['legal_effect']}", z["geometry"], z["name"]) for z in report["zones"]]
    layers += [("permit", p["geometry"], p["registry_number"]) for p in report["permits"]]
    layers.append(("site", report["site"]["geometry"], "site"))
    shapes = [(css, shapely.transform(shape(g), _project), title) for css, g, title in layers]
    x0, y0, x1, y1 = shapely.GeometryCollection([g for _, g, _ in shapes]).bounds
    # A point site with point pieces has no extent: show a kilometre around it.
    span = max(x1 - x0, y1 - y0) * 1.1 or 1000.0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    scale = MAP_SIZE / span

    def xy(x: float, y: float) -> tuple[float, float]:
        return (x - cx) * scale + MAP_SIZE / 2, (cy - y) * scale + MAP_SIZE / 2

    return {
        "size": MAP_SIZE,
        "scale_m": _scale_bar(span),
        "scale_px": _scale_bar(span) * scale,
        "paths": [
            {"class": css, "d": "".join(_part_path(p, xy) for p in _singles(g)), "title": title}
            for css, g, title in shapes
            if not g.is_empty
        ],
    }


def _singles(geometry) -> list:
    """The points, lines and polygons of a geometry, however its collections nest: an overlap
    can come out as any mix of them (a site with an edge on a cuadrícula line touches the
    right along it)."""
    parts = [geometry]
    while any(p.geom_type.startswith(("Multi", "GeometryCollection")) for p in parts):
        parts = [q for p in parts for q in shapely.get_parts(p)]
    return [p for p in parts if not p.is_empty]


def _point(x: float, y: float) -> str:
    return f"{x:.1f},{y:.1f}"


def _part_path(part, xy) -> str:
    """SVG path data of one Point, LineString or Polygon."""
    if part.geom_type == "Point":
        x, y = xy(part.x, part.y)
        return f"M{x - 4:.1f},{y:.1f}a4,4 0 1,0 8,0a4,4 0 1,0 -8,0"
    if part.geom_type in ("LineString", "LinearRing"):
        return "M" + " L".join(_point(*xy(x, y)) for x, y in part.coords)
    return "".join(
        "M" + " ".join(_point(*xy(x, y)) for x, y in ring.coords) + "Z"
        for ring in (part.exterior, *part.interiors)
    )


def _project(xy: np.ndarray) -> np.ndarray:
    return np.column_stack(_TO_MAP.transform(xy[:, 0], xy[:, 1]))


def _scale_bar(span_m: float) -> float:
    """A round length near a quarter of the map width."""
    target = span_m / 4
    magnitude = 10 ** np.floor(np.log10(target))
    return float(max(m * magnitude for m in (1, 2, 5) if m * magnitude <= target))
