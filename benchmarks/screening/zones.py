"""5,000 seeded, detailed synthetic protection zones over León (about a million vertices)."""

from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Engine

SOURCE = "benchmark-screening"
SEED = 20261129
# Most zones are small and plain; a hundred are large and detailed, as Natura 2000 sites are
# (thousands of vertices each): half of them compact, half river corridors like León's
# "Riberas del río …" sites, long and thin, whose bounding box holds far more ground than they
# do. Those are where a test without subdivision reads and walks the whole outline.
BLOBS = (  # (zones, vertices each, radius range in metres)
    (4_900, 120, (300, 1_500)),
    (50, 4_200, (5_000, 12_000)),
)
CORRIDORS = 50
CORRIDOR_POINTS = 1_000  # centre-line points; the buffered outline has about four times as many
CORRIDOR_LENGTH_M = (30_000, 70_000)
CORRIDOR_HALF_WIDTH_M = (150, 400)
LEGAL_EFFECTS = (
    ("exclusion", 0.4),
    ("conditional", 0.4),
    ("safeguarding", 0.1),
    ("informative", 0.1),
)
LEON_BBOX = (-7.05, 42.0, -4.75, 43.2)


def _outline(
    rng: np.random.Generator, lon: float, lat: float, vertices: int, radius_m: float
) -> shapely.Polygon:
    """A star-shaped (hence simple) wobbly outline: radius as a positive function of the angle."""
    theta = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    phase = rng.uniform(0, 2 * np.pi, 3)
    wobble = (
        1
        + 0.25 * np.sin(3 * theta + phase[0])
        + 0.1 * np.sin(17 * theta + phase[1])
        + 0.04 * np.sin(97 * theta + phase[2])
        + rng.uniform(-0.03, 0.03, vertices)
    )
    r = radius_m * wobble
    x = lon + r * np.cos(theta) / (111_320 * np.cos(np.radians(lat)))
    y = lat + r * np.sin(theta) / 110_574
    return shapely.Polygon(np.column_stack([x, y]))


def _corridor(rng: np.random.Generator, lon: float, lat: float) -> shapely.Polygon:
    """A meandering river corridor: a wavy centre line buffered to a few hundred metres."""
    length = rng.uniform(*CORRIDOR_LENGTH_M)
    t = np.linspace(0, 1, CORRIDOR_POINTS)
    heading = rng.uniform(0, 2 * np.pi)
    along = (t - 0.5) * length
    across = length * 0.08 * np.sin(2 * np.pi * (1.5 * t + rng.uniform())) + length * 0.02 * np.sin(
        2 * np.pi * (9 * t + rng.uniform())
    )
    x = along * np.cos(heading) - across * np.sin(heading)
    y = along * np.sin(heading) + across * np.cos(heading)
    outline = shapely.LineString(np.column_stack([x, y])).buffer(
        rng.uniform(*CORRIDOR_HALF_WIDTH_M), quad_segs=2
    )
    scale = np.array([111_320 * np.cos(np.radians(lat)), 110_574])
    return shapely.transform(outline, lambda xy: np.array([lon, lat]) + xy / scale)


def insert_zones(engine: Engine) -> int:
    """Replace the benchmark zones (the triggers split them into parts); returns the vertices."""
    rng = np.random.default_rng(SEED)
    effects, weights = zip(*LEGAL_EFFECTS)
    rows, vertices = [], 0

    def add(name: str, polygon) -> None:
        nonlocal vertices
        deep = rng.random() < 0.2  # a fifth are surface zones with a depth limit (3D rule)
        outline = (
            polygon if polygon.geom_type == "MultiPolygon" else shapely.MultiPolygon([polygon])
        )
        rows.append(
            {
                "name": f"{name} {len(rows) + 1}",
                "effect": str(rng.choice(effects, p=weights)),
                "top": 0.0 if deep else None,
                "bottom": float(rng.integers(100, 500)) if deep else None,
                "wkb": shapely.to_wkb(outline),
                "sid": f"bz-{len(rows) + 1}",
                "source": SOURCE,
            }
        )
        vertices += shapely.get_num_coordinates(outline)

    def anywhere() -> tuple[float, float]:
        return rng.uniform(LEON_BBOX[0], LEON_BBOX[2]), rng.uniform(LEON_BBOX[1], LEON_BBOX[3])

    for count, n, (r_min, r_max) in BLOBS:
        for _ in range(count):
            add("Benchmark zone", _outline(rng, *anywhere(), n, rng.uniform(r_min, r_max)))
    for _ in range(CORRIDORS):
        add("Benchmark river corridor", _corridor(rng, *anywhere()))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM protection_zones WHERE source = :s"), {"s": SOURCE})
        conn.execute(
            text(
                "INSERT INTO protection_zones (name, designation_scheme, designation, legal_effect, depth_top_m, "
                "depth_bottom_m, geom, source, source_id, licence, remarks) VALUES (:name, 'other', 'synthetic', "
                ":effect, :top, :bottom, ST_GeomFromWKB(:wkb, 4326), :source, :sid, 'CC0-1.0', "
                "'Synthetic benchmark zone (benchmarks/screening), not a real protection.')"
            ),
            rows,
        )
    return vertices
