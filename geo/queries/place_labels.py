"""Where the web map writes the names of admin areas: one label point per area, from its outline."""

from __future__ import annotations

from geo.core.sql import Sql, SqlQuery
from geo.features.geojson import feature_text_sql

# The centre of the largest circle inside the outline (the pole of inaccessibility): unlike the
# centroid it is always inside, and unlike ST_PointOnSurface it sits where the name has the
# most room (a long valley's name lands mid-valley, not on its edge). 5 decimals: about 1 m.
_POINT = Sql("ST_AsGeoJSON((ST_MaximumInscribedCircle(geom)).center, 5)")
# The map gives the larger of two colliding names the place (symbol-sort-key).
_PROPERTIES = Sql(
    "json_build_object('code', code, 'name', name, 'level', level, "
    "'area_ha', round((ST_Area(geom::geography) / 10000)::numeric))"
)


def place_labels_query() -> SqlQuery:
    """One row: the FeatureCollection (text) of every admin area's label point, written by
    PostGIS, the largest area first."""
    feature = feature_text_sql(Sql("code"), _POINT, _PROPERTIES)
    text = (
        'SELECT \'{"type":"FeatureCollection","features":[\' || '
        f"coalesce(string_agg({feature}, ',' ORDER BY ST_Area(geom) DESC, code), '') || ']}}' "
        "FROM admin_areas"
    )
    return SqlQuery(text, ())
