"""Mineral safeguarding areas from MDoPI classes: buffered, dissolved, stored as protection zones.

Each deposit of a chosen class (by its latest assessment) is grown by the larger of its
class's buffer and its commodities' buffers, geodesically: buffered in an azimuthal
equidistant projection centred on the deposit, where distance from the centre is true on the
ellipsoid (a UTM buffer would be off by the zone's scale, up to 0.1 %), then overlapping buffers of deposits with the same depth
interval are dissolved into one area. A generation replaces the previous one in one
transaction: the old zones end their validity the day before (or, designated that same day,
leave protection_zones), and every generation's areas stay in safeguarding_areas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter
from geo.core.sql import Params
from geo.planning.assessment import run
from geo.planning.method import Method

SOURCE = "veta-mdopi"
SCHEME = "mineralSafeguarding"
LEGAL_EFFECT = "safeguarding"
QUAD_SEGS = 16
# Projection centres snap to a 0.05° grid, so that neighbouring deposits share one projection
# (PostGIS caches few, and building one costs milliseconds): 5 km off-centre the azimuthal
# equidistant scale errs by (5 km / 6,371 km)² / 6, about one part in ten million.
CENTRES_PER_DEGREE = 20

# The latest assessment of every deposit.
LATEST_ASSESSMENTS = (
    "(SELECT DISTINCT ON (deposit_id) * FROM deposit_assessments ORDER BY deposit_id, id DESC)"
)


@dataclass(frozen=True)
class Generation:
    """What a safeguard run did."""

    id: int
    areas: int
    deposits: int
    superseded: list[int]


def parse_classes(text: str | None, method: Method) -> tuple[str, ...]:
    """The classes to safeguard: comma-separated, default the method's."""
    if not text:
        return method.safeguard_classes
    classes = tuple(c.strip() for c in text.split(",") if c.strip())
    for c in classes:
        if c not in v.MDOPI_CLASSES:
            raise InvalidParameter("--classes", f"unknown MDoPI class {c!r}", v.MDOPI_CLASSES)
    if not classes:
        raise InvalidParameter("--classes", "no class given", v.MDOPI_CLASSES)
    return classes


def buffers_sql(method: Method, classes: tuple[str, ...], params: Params) -> str:
    """SQL: one row per deposit to safeguard: its buffered footprint, depth and assessment."""
    class_buffer = f"{params(json.dumps(method.buffer_m))}::jsonb"
    commodity_buffer = f"{params(json.dumps(method.commodity_buffer_m))}::jsonb"
    radius = (
        f"greatest(({class_buffer} ->> a.mdopi_class)::float8, (SELECT max(({commodity_buffer} ->> c)::float8) "
        "FROM unnest(d.commodities) c), 0)"
    )
    return f"""
SELECT d.id AS deposit_id, d.name, a.id AS assessment_id, d.depth_top_m, d.depth_bottom_m,
       CASE WHEN r.m > 0 THEN ST_Transform(ST_Buffer(ST_Transform(d.geom, p.proj), r.m, 'quad_segs={QUAD_SEGS}'),
                                           p.proj, 4326)
            ELSE d.geom END AS geom
FROM {LATEST_ASSESSMENTS} a JOIN deposits d ON d.id = a.deposit_id
CROSS JOIN LATERAL (SELECT {radius} AS m) r
CROSS JOIN LATERAL (SELECT format('+proj=aeqd +lat_0=%s +lon_0=%s +datum=WGS84 +units=m',
                                  round(ST_Y(c) * {CENTRES_PER_DEGREE}) / {CENTRES_PER_DEGREE},
                                  round(ST_X(c) * {CENTRES_PER_DEGREE}) / {CENTRES_PER_DEGREE}) AS proj
                   FROM ST_Centroid(d.geom) c) p
WHERE a.mdopi_class = ANY({params(list(classes))}::text[])
  AND (r.m > 0 OR GeometryType(d.geom) = 'MULTIPOLYGON')"""


def safeguard(conn: Connection, method: Method, classes: tuple[str, ...]) -> Generation:
    """Designate a new generation of safeguarding areas (the caller's transaction)."""
    if conn.exec_driver_sql("SELECT NOT EXISTS (SELECT 1 FROM deposit_assessments)").scalar_one():
        raise InvalidParameter(
            "deposit_assessments",
            "no deposit has been assessed yet",
            "run `veta mdopi assess` first",
        )
    previous = [
        r[0]
        for r in conn.exec_driver_sql(
            "UPDATE safeguarding_generations SET superseded_on = current_date "
            "WHERE superseded_on IS NULL RETURNING id"
        )
    ]
    if previous:
        zones = "SELECT zone_id FROM safeguarding_areas WHERE generation_id = ANY(%(g)s) AND zone_id IS NOT NULL"
        conn.exec_driver_sql(
            f"UPDATE protection_zones SET valid_to = current_date - 1 WHERE id IN ({zones}) "
            "AND valid_from < current_date",
            {"g": previous},
        )
        conn.exec_driver_sql(
            f"DELETE FROM protection_zones WHERE id IN ({zones}) AND valid_from >= current_date",
            {"g": previous},
        )
    generation = conn.exec_driver_sql(
        "INSERT INTO safeguarding_generations (valid_from, method_name, method_version, classes) "
        "VALUES (current_date, %(n)s, %(v)s, %(c)s) RETURNING id",
        {"n": method.name, "v": method.version, "c": list(classes)},
    ).scalar_one()

    params = Params()
    run(
        conn,
        f"""
CREATE TEMPORARY TABLE safeguard_new ON COMMIT DROP AS
WITH b AS ({buffers_sql(method, classes, params)}),
k AS (SELECT b.*, ST_ClusterDBSCAN(geom, 0, 1) OVER (PARTITION BY depth_top_m, depth_bottom_m) AS cluster FROM b)
SELECT row_number() OVER (ORDER BY min(deposit_id)) AS n, depth_top_m, depth_bottom_m,
       ST_Multi(ST_CollectionExtract(ST_UnaryUnion(ST_Collect(geom)), 3)) AS geom,
       array_agg(deposit_id ORDER BY deposit_id) AS deposit_ids,
       array_agg(assessment_id ORDER BY deposit_id) AS assessment_ids,
       array_agg(name ORDER BY deposit_id) AS names
FROM k GROUP BY depth_top_m, depth_bottom_m, cluster""",
        params,
    )
    conn.exec_driver_sql(
        f"""
INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, legal_basis,
    authority, valid_from, depth_top_m, depth_bottom_m, geom, source, source_id, remarks)
SELECT 'Mineral safeguarding area: ' || array_to_string(names[1:3], ', ')
           || CASE WHEN cardinality(names) > 3 THEN ' and ' || (cardinality(names) - 3) || ' more' ELSE '' END,
       '{SCHEME}', 'Mineral safeguarding area (MDoPI)', '{LEGAL_EFFECT}',
       'MDoPI method ' || %(name)s || ' ' || %(version)s, NULL, current_date,
       depth_top_m, depth_bottom_m, geom, '{SOURCE}', 'g' || %(g)s || '-' || n,
       'Designated by veta mdopi safeguard, generation ' || %(g)s || ', from deposits ' || array_to_string(deposit_ids, ', ')
FROM safeguard_new""",
        {"name": method.name, "version": method.version, "g": generation},
    )
    conn.exec_driver_sql(
        f"""
WITH a AS (
    INSERT INTO safeguarding_areas (generation_id, zone_id, area_ha, depth_top_m, depth_bottom_m, geom)
    SELECT %(g)s, z.id, ST_Area(n.geom::geography) / 10000, n.depth_top_m, n.depth_bottom_m, n.geom
    FROM safeguard_new n JOIN protection_zones z ON z.source = '{SOURCE}' AND z.source_id = 'g' || %(g)s || '-' || n.n
    RETURNING id, zone_id)
INSERT INTO safeguarding_links (area_id, deposit_id, assessment_id)
SELECT a.id, u.deposit_id, u.assessment_id
FROM a JOIN protection_zones z ON z.id = a.zone_id
JOIN safeguard_new n ON z.source_id = 'g' || %(g)s || '-' || n.n
CROSS JOIN LATERAL unnest(n.deposit_ids, n.assessment_ids) u(deposit_id, assessment_id)""",
        {"g": generation},
    )
    areas, deposits = conn.exec_driver_sql(
        "SELECT count(*), coalesce(sum(cardinality(deposit_ids)), 0) FROM safeguard_new"
    ).one()
    return Generation(generation, areas, deposits, previous)
