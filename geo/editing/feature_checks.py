"""Checking a Feature written over the API as `veta import` checks a row: its shape, each field
and its code list, the table's rules, the geometry in lon/lat, and a right's cuadrículas."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from geo.core.crs import CRS84
from geo.core.errors import (
    InvalidFields,
    InvalidParameter,
)
from geo.core.limits import check_vertices
from geo.core.settings import Settings
from geo.io.importing.crs import position_problems
from geo.io.importing.mapping import Mapping
from geo.io.importing.targets import Layer
from geo.io.importing.validation import validate
from geo.queries.site_geometry import to_lonlat
from geo.queries.sites import header_crs
from geo.rules.permit_rules import validate_right

# The source of records made over the API when the Feature names none.
API_SOURCE = "api"
# Members a Feature's properties may hold besides the layer's fields, on the collections whose
# records an organisation may keep to itself (geo.editing.records.CONFIDENTIAL).
ACCESS_MEMBERS = ("confidential", "owner")


def feature_body(body: object, patching: bool = False) -> dict:
    """The body, once it is a Feature (a merge patch may leave out its type)."""
    if not isinstance(body, dict):
        raise InvalidParameter("body", "expected a GeoJSON Feature (a JSON object)", "a Feature")
    if body.get("type", "Feature" if patching else None) != "Feature":
        raise InvalidParameter("type", f"{body.get('type')!r} is not a Feature", ["Feature"])
    if (
        "properties" in body
        and body["properties"] is not None
        and not isinstance(body["properties"], dict)
    ):
        raise InvalidParameter("properties", "expected an object", "an object of field values")
    return body


def checked_record(
    layer: Layer,
    properties: dict,
    geometry: object,
    content_crs: str | None,
    settings: Settings,
) -> tuple[dict, str]:
    """The record's columns and hex WKB geometry in lon/lat, checked as the import checks a
    row; every problem found is refused together."""
    unknown = sorted(set(properties) - set(layer.fields) - {"source"})
    if unknown:
        raise InvalidParameter(
            unknown[0], f"not a field of {layer.name}", sorted([*layer.fields, *ACCESS_MEMBERS])
        )
    source = properties.pop("source", None) or API_SOURCE
    if (
        layer.name != "admin_areas"
        and properties.get("source_id") in (None, "")
        and "source_id" in layer.fields
    ):
        properties["source_id"] = uuid.uuid4().hex
    missing = [
        name
        for name, spec in layer.fields.items()
        if spec.required and properties.get(name) in (None, "") and name not in layer.defaults
    ]
    if missing:
        raise InvalidFields([(name, f"required by {layer.name}") for name in missing])
    lonlat = _geometry(geometry, content_crs, layer)
    columns = pd.DataFrame({name: [value] for name, value in properties.items()}, dtype=object)
    if columns.empty:
        columns = pd.DataFrame(index=[0])
    mapping = Mapping(fields={name: name for name in properties})
    rows = validate(layer, mapping, columns, np.array([lonlat], dtype=object), (), repair=False)
    problems = [
        (p.field, p.reason)
        for p in rows.problems
        + position_problems(np.array([lonlat], dtype=object), rows.ids, None, True)
    ]
    if layer.name == "permits" and not problems:
        # A right is whole cuadrículas, joined along their sides, as many as its type allows.
        result = validate_right(lonlat, str(properties["right_type"]), settings.right_cell_limits)
        problems += [("geometry", p.message) for p in result.problems]
    if problems:
        raise InvalidFields(problems)
    values = {name: column[0] for name, column in rows.values.items()}
    values["source"] = source
    return values, str(rows.geometry[0])


def _geometry(geometry: object, content_crs: str | None, layer: Layer):
    if not isinstance(geometry, dict):
        raise InvalidParameter(
            "geometry", "missing or not a GeoJSON geometry", list(layer.geometry_types)
        )
    check_vertices(geometry.get("coordinates"), "geometry")
    try:
        parsed = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise InvalidParameter(
            "geometry", f"not a GeoJSON geometry: {exc}", list(layer.geometry_types)
        ) from None
    crs = header_crs(content_crs) or CRS84
    if crs.northing_first:
        parsed = shapely.transform(parsed, lambda xy: xy[:, ::-1])
    parsed = to_lonlat(parsed, crs, "geometry")
    if parsed.geom_type == "Polygon" and "MultiPolygon" in layer.geometry_types:
        parsed = shapely.MultiPolygon([parsed])
    return parsed
