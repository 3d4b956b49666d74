"""What row-level security needs from PostGIS and PostgreSQL to keep the indexes working.

Under row-level security PostgreSQL applies a query's own conditions after the policy, unless
they are LEAKPROOF (they cannot reveal anything about the rows they are given, say through an
error); a condition applied after the policy cannot be an index condition. PostGIS's spatial
predicates and operators and the array operators are not marked LEAKPROOF, so every bbox,
ST_Intersects or commodity search of deposits and rights read the whole table (a z12 tile 10x
slower, measured by benchmarks/access.py). Marked LEAKPROOF here, by a superuser (migration
0014): the only errors they raise are for mixed SRIDs, which the typed geometry columns rule
out, and for invalid geometries, which the tables' CHECK constraints rule out; the array
operators raise none for text arrays. `ALTER EXTENSION postgis UPDATE` can recreate the
functions without the mark: the service warns at start-up when any is missing.
"""

from __future__ import annotations

LEAKPROOF_FUNCTIONS = (
    "geometry_overlaps(geometry, geometry)",  # &&
    "geography_overlaps(geography, geography)",  # && on geography
    "st_intersects(geometry, geometry)",
    "st_intersects(geography, geography)",
    "st_dwithin(geometry, geometry, double precision)",
    "st_dwithin(geography, geography, double precision, boolean)",
    "st_contains(geometry, geometry)",
    "st_within(geometry, geometry)",
    "st_covers(geometry, geometry)",
    "st_coveredby(geometry, geometry)",
    "st_touches(geometry, geometry)",
    "st_crosses(geometry, geometry)",
    "st_overlaps(geometry, geometry)",
    "st_equals(geometry, geometry)",
    "arrayoverlap(anyarray, anyarray)",  # && on the commodity lists
    "arraycontains(anyarray, anyarray)",  # @>
)

MISSING_SQL = (
    "SELECT f FROM unnest(CAST(:functions AS text[])) f "
    "WHERE NOT (SELECT proleakproof FROM pg_proc WHERE oid = CAST(f AS regprocedure))"
)
MISSING_SQL_ASYNCPG = MISSING_SQL.replace(":functions", "$1")


def mark_leakproof_sql() -> list[str]:
    return [f"ALTER FUNCTION {f} LEAKPROOF" for f in LEAKPROOF_FUNCTIONS]
