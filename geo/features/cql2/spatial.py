"""CQL2's spatial side: S_* predicates, geometry literals and BBOX in any served CRS, kept
within the CRS's area of use and densified before they reach lon/lat."""

from __future__ import annotations

import json

import shapely.geometry
from shapely.errors import ShapelyError
from shapely.validation import explain_validity

from geo.core.crs import check_area_of_use
from geo.core.limits import check_vertices, densify_step
from geo.features.cql2.terms import describe

_SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_disjoint": "ST_Disjoint",
    "s_contains": "ST_Contains",
    "s_within": "ST_Within",
    "s_equals": "ST_Equals",
    "s_touches": "ST_Touches",
    "s_crosses": "ST_Crosses",
    "s_overlaps": "ST_Overlaps",
}


class SpatialTerms:
    """FilterTranslator's spatial methods."""

    def _spatial(self, op: str, left, right) -> str:
        return f"{_SPATIAL[op]}({self._geometry(left, op)}, {self._geometry(right, op)})"

    def _geometry(self, node, op: str) -> str:
        v = self.value(node)
        if v.type != "geometry":
            raise self._error(
                f"{op.upper()} needs geometries, {describe(node)} is a {v.type}",
                [n for n, q in self.fields.items() if q.type == "geometry"]
                + ["POINT(…)", "POLYGON(…)", "BBOX(…)", "GeoJSON geometry"],
            )
        return v.sql

    def _geometry_literal(self, node: dict) -> str:
        """A literal in filter-crs, as SQL of the same geometry in EPSG:4326 lon/lat."""
        if "bbox" in node:
            x1, y1, x2, y2 = self._bbox(node["bbox"])
            self._in_range(x1, y1, x2, y2)
            self._in_area_of_use(x1, y1, x2, y2)
            corners = ", ".join(
                f"{self.params(float(v))}::double precision" for v in (x1, y1, x2, y2)
            )
            perimeter = 2 * ((x2 - x1) + (y2 - y1))
            return self._to_storage(f"ST_MakeEnvelope({corners}, {self.crs.srid})", perimeter)
        members = node.get("geometries")
        parts = (
            [g.get("coordinates") for g in members if isinstance(g, dict)]
            if isinstance(members, list)
            else []
        )
        check_vertices(node.get("coordinates", parts), "filter")
        try:
            shape = shapely.geometry.shape(node)
        except (ShapelyError, ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
            raise self._error(f"malformed geometry: {error}", "WKT or GeoJSON geometries") from None
        # shapely closes an open ring quietly, PostGIS refuses it: say so rather than guess.
        if any(ring and ring[0] != ring[-1] for ring in _rings(node)):
            raise self._error(
                "a polygon ring is not closed", "rings whose last point repeats the first"
            )
        if not shape.is_valid:
            raise self._error(
                f"invalid geometry: {explain_validity(shape)}",
                "valid simple-feature geometries (closed, non-self-intersecting rings)",
            )
        if not shape.is_empty:
            self._in_range(*shape.bounds)
            self._in_area_of_use(*shape.bounds)
        geojson = self.params(json.dumps(node))
        return self._to_storage(
            f"ST_SetSRID(ST_GeomFromGeoJSON({geojson}::text), {self.crs.srid})", shape.length
        )

    def _in_area_of_use(self, x1: float, y1: float, x2: float, y2: float) -> None:
        """Bounds in filter-crs axis order, checked against the CRS's area of use."""
        bounds = (y1, x1, y2, x2) if self.crs.northing_first else (x1, y1, x2, y2)
        check_area_of_use(self.crs, bounds, "filter", "filter-crs")

    def _to_storage(self, sql: str, perimeter: float) -> str:
        """Geometry SQL in filter-crs (and its axis order) turned into EPSG:4326 lon/lat."""
        if self.crs.northing_first:
            sql = f"ST_FlipCoordinates({sql})"
        if self.crs.srid != 4326:
            if not self.crs.geographic:
                # Straight edges in a projected CRS are curves in lon/lat: densify every 1 km
                # before transforming so the lon/lat polygon follows the one the user drew,
                # coarser for shapes so large that 1 km would make millions of vertices.
                sql = f"ST_Segmentize({sql}, {self.params(densify_step(perimeter))}::float8)"
            sql = f"ST_Transform({sql}, 4326)"
        return sql

    def _in_range(self, x_min: float, y_min: float, x_max: float, y_max: float) -> None:
        """Coordinates of a geographic filter-crs must be longitudes and latitudes."""
        if not self.crs.geographic:
            return
        lat_first = self.crs.northing_first
        lon, lat = (
            ((y_min, y_max), (x_min, x_max)) if lat_first else ((x_min, x_max), (y_min, y_max))
        )
        if lon[0] < -180 or lon[1] > 180 or lat[0] < -90 or lat[1] > 90:
            order = "latitude, longitude" if lat_first else "longitude, latitude"
            raise self._error(
                f"coordinates out of range for {self.crs.uri} ({order} order)",
                "longitude -180..180, latitude -90..90",
            )

    def _bbox(self, bbox) -> tuple[float, float, float, float]:
        if (
            not isinstance(bbox, list)
            or len(bbox) not in (4, 6)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
        ):
            raise self._error("BBOX needs 4 (or 6) numbers", "BBOX(minx, miny, maxx, maxy)")
        x1, y1, x2, y2 = (bbox[0], bbox[1], bbox[3], bbox[4]) if len(bbox) == 6 else bbox
        if x1 > x2 or y1 > y2:
            raise self._error(
                f"BBOX({', '.join(map(str, bbox))}) has a minimum above its maximum "
                "(boxes across the antimeridian are not supported)",
                f"BBOX(min, min, max, max) in the axis order of {self.crs.uri}",
            )
        return x1, y1, x2, y2


def _rings(geojson: dict):
    """Every polygon ring of a GeoJSON geometry, collections included."""
    kind = geojson.get("type")
    if kind == "Polygon":
        yield from geojson["coordinates"]
    elif kind == "MultiPolygon":
        for polygon in geojson["coordinates"]:
            yield from polygon
    elif kind == "GeometryCollection":
        for member in geojson["geometries"]:
            yield from _rings(member)
