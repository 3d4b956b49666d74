"""The `area` queryable every collection of Veta's offers: the admin areas a feature meets."""

from __future__ import annotations

from geo.core.sql import Sql

AREA_QUERYABLE = (
    "INE codes of the admin areas the feature intersects (country, autonomous community, "
    "province, municipality): area = '24' is the feature in the province of León, "
    "area IN ('24', '49') in León or Zamora; the same as the area= parameter with a code"
)


def area_codes_sql(geometry: Sql) -> Sql:
    """SQL: the codes of the admin areas a geometry intersects, a text[] CQL2 compares element-wise."""
    return Sql(
        f"ARRAY(SELECT a.code::text FROM admin_areas a WHERE ST_Intersects(a.geom, {geometry}))"
    )
