"""Plan impact reports as JSON, as GeoJSON and as a small SVG map for the printable page."""

from __future__ import annotations

import numpy as np
import orjson
import shapely
from pyproj import Transformer
from shapely.geometry import shape

# Equal-area ETRS89-LAEA for the report map, as the screening report.
_TO_MAP = Transformer.from_crs(4326, 3035, always_xy=True)
MAP_SIZE = 640


def _plain(report: dict) -> dict:
    """The report without the deposits' geometries (f=geojson carries those)."""
    deposits = [{k: v for k, v in d.items() if k != "geometry"} for d in report["deposits"]]
    return {**report, "deposits": deposits}


def impact_json(report: dict) -> bytes:
    return orjson.dumps(_plain(report))


def alternatives_json(reports: list[dict]) -> bytes:
    return orjson.dumps({"alternatives": [_plain(r) for r in reports]})


def impact_geojson(report: dict) -> bytes:
    """The plan and the deposits under it as features, each with a `role` to style by."""
    plain = _plain(report)
    plan = {k: v for k, v in plain.items() if k not in ("plan", "deposits")}
    features = [
        {
            "type": "Feature",
            "geometry": report["plan"]["geometry"],
            "properties": {
                "role": "plan",
                **{k: v for k, v in plain["plan"].items() if k != "geometry"},
                "verdict": report["verdict"],
                "reasons": "; ".join(report["reasons"]),
            },
        }
    ]
    features += [
        {
            "type": "Feature",
            "geometry": d["geometry"],
            "properties": {
                "role": "sterilised_deposit" if d["sterilised"] else "deposit",
                **{k: v for k, v in p.items() if k != "commodities"},
                "commodities": ", ".join(d["commodities"]),
            },
        }
        for d, p in zip(report["deposits"], plain["deposits"])
    ]
    return orjson.dumps(
        {
            "type": "FeatureCollection",
            "features": features,
            "verdict": report["verdict"],
            "sterilised": plan["sterilised"],
        }
    )


def project(xy: np.ndarray) -> np.ndarray:
    return np.column_stack(_TO_MAP.transform(xy[:, 0], xy[:, 1]))


def impact_map(report: dict) -> dict:
    """SVG paths of the plan and its deposits, in a square viewBox around the plan (LAEA, north up)."""
    plan = shapely.transform(shape(report["plan"]["geometry"]), project)
    x0, y0, x1, y1 = plan.bounds
    span = max(x1 - x0, y1 - y0) * 1.1 or 1000.0
    cx, cy, scale = (x0 + x1) / 2, (y0 + y1) / 2, MAP_SIZE / span

    def xy(x, y) -> str:
        return f"{(x - cx) * scale + MAP_SIZE / 2:.1f},{(cy - y) * scale + MAP_SIZE / 2:.1f}"

    def path(geom) -> str:
        if geom.geom_type == "Point":
            x, y = xy(geom.x, geom.y).split(",")
            return f"M{float(x) - 4:.1f},{y}a4,4 0 1,0 8,0a4,4 0 1,0 -8,0"
        return "".join(
            "M" + " ".join(xy(*c) for c in ring.coords) + "Z"
            for polygon in getattr(geom, "geoms", [geom])
            for ring in (polygon.exterior, *polygon.interiors)
        )

    paths = [{"class": "plan", "d": path(plan), "title": report["plan"].get("name") or "plan"}]
    for d in report["deposits"]:
        geom = shapely.transform(shape(d["geometry"]), project)
        css = f"deposit {d['mdopi_class']}" + (" sterilised" if d["sterilised"] else "")
        paths.append({"class": css, "d": path(geom), "title": f"{d['name']} ({d['mdopi_class']})"})
    return {"size": MAP_SIZE, "paths": paths}
