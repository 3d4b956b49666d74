"""The one place a GeoJSON Feature is written in SQL, as text concatenated per row.

Concatenating text (rather than building a json value and casting it) keeps the geometry that
ST_AsGeoJSON wrote untouched and costs the database least; every feature list and single
feature Veta serves writes its features through `feature_text_sql`.
"""

from __future__ import annotations

from geo.core.sql import Sql


def feature_text_sql(id_sql: Sql | None, geometry_sql: Sql, properties_sql: Sql) -> Sql:
    """SQL text of one Feature: its id (any SQL value, written as JSON; None: no id), the
    geometry as GeoJSON text (e.g. ST_AsGeoJSON(t.geom)), and the properties (a json value)."""
    head = '\'{"type":"Feature"' + (f",\"id\":' || to_json({id_sql})::text || '" if id_sql else "")
    return Sql(
        f"{head},\"geometry\":' || {geometry_sql} || ',\"properties\":' || ({properties_sql})::text || '}}'"
    )
