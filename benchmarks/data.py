"""The benchmark databases: the León sample alone, and the sample plus 100,000 synthetic deposits."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from sqlalchemy import text

from geo.core import vocabulary as v
from geo.core.settings import get_settings
from geo.store.db import database_url, sync_engine, with_database
from geo.store.migrate import create_database, drop_database, upgrade
from geo.store.sample import load_sample

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".work"
RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """What the figures were measured on, kept with them."""
    return {
        "cores": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


SAMPLE_DB = "veta_bench_sample"
LARGE_DB = "veta_bench"
SYNTHETIC_DEPOSITS = 100_000
SOURCE = "benchmark"
SEED = 20261129

# Main commodities by relative frequency: León's coal and slate dominate, tungsten and lithium
# are a minority, so the headline query selects about an eighth of the deposits.
COMMODITY_WEIGHTS = {
    "coal": 18,
    "slate": 12,
    "gold": 10,
    "iron": 8,
    "tin": 8,
    "tungsten": 8,
    "lithium": 5,
    "copper": 6,
    "zinc": 5,
    "lead": 5,
    "antimony": 5,
    "graphite": 4,
    "cobalt": 3,
    "quartz": 3,
}

_LISTS = """
WITH lists AS (
    SELECT CAST(:occurrence_types AS text[]) AS occurrence_types,
           CAST(:deposit_types AS text[]) AS deposit_types,
           CAST(:size_classes AS text[]) AS size_classes,
           CAST(:mine_statuses AS text[]) AS mine_statuses,
           CAST(:weighted AS text[]) AS weighted
), """

RANDOMS = """ARRAY[random(), random(), random(), random(), random(), random(),
                 random(), random(), random(), random(), random()] AS r"""


def synthetic_deposits_sql(draws: str, drawn: str, kind: str, id_prefix: str, script: str) -> str:
    """One INSERT of synthetic deposits from `draws` (CTEs after `lists`, the last one, `drawn`,
    giving rows n, point and r, eleven random numbers): occurrence type, deposit type, size,
    status and a depth range drawn from the lists, one or two commodities (weighted), one deposit
    in twenty an outline instead of a point, a third with a depth range."""
    return (
        _LISTS
        + draws
        + f""", picked AS (
    SELECT {drawn}.*, lists.*,
           weighted[1 + floor(r[9] * cardinality(weighted))::int] AS main,
           CASE WHEN r[10] < 0.4 THEN weighted[1 + floor(r[11] * cardinality(weighted))::int] END AS second
    FROM {drawn}, lists
)
INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, deposit_type,
                      size_class, mine_status, depth_top_m, depth_bottom_m, location_precision,
                      geom, source, source_id, licence, remarks)
SELECT '{kind} deposit ' || n,
       occurrence_types[1 + floor(r[1] * cardinality(occurrence_types))::int],
       CASE WHEN second IS NULL OR second = main THEN ARRAY[main] ELSE ARRAY[main, second] END,
       CASE WHEN second IS NULL OR second = main THEN ARRAY['main'] ELSE ARRAY['main', 'by_product'] END,
       deposit_types[1 + floor(r[2] * cardinality(deposit_types))::int],
       size_classes[1 + floor(r[3] * cardinality(size_classes))::int],
       mine_statuses[1 + floor(r[4] * cardinality(mine_statuses))::int],
       CASE WHEN r[5] < 0.33 THEN round((r[6] * 500)::numeric)::float8 END,
       CASE WHEN r[5] < 0.33 THEN round((r[6] * 500 + 50 + r[7] * 1000)::numeric)::float8 END,
       'approximate',
       CASE WHEN r[8] < 0.05 THEN ST_Multi(ST_Buffer(point, 0.002, 4)) ELSE point END,
       :source, '{id_prefix}-' || n, 'CC0-1.0',
       'Synthetic benchmark record ({script}), not a real occurrence.'
FROM picked
"""
    )


# One statement, seeded: points spread uniformly over the province (ST_GeneratePoints with a
# seed).
_INSERT = (
    synthetic_deposits_sql(
        f"""draws AS (
    SELECT row_number() OVER () AS n, dump.geom AS point,
           {RANDOMS}
    FROM admin_areas a, ST_Dump(ST_GeneratePoints(a.geom, :count, :seed)) dump
    WHERE a.code = '24'
)""",
        "draws",
        "Benchmark",
        "bench",
        "benchmarks/data.py",
    )
    + "ORDER BY n\n"
)

# Applied to the benchmark databases so that the peers get the tuning Veta gives its own
# sessions (geo/store/db.py): without it tipg loses to JIT and generic plans, not to its design.
_DATABASE_SETTINGS = {
    "jit": "off",
    "max_parallel_workers_per_gather": "0",
    "plan_cache_mode": "force_custom_plan",
}


def url_of(database: str) -> str:
    """A benchmark database on the server Veta uses (the local cluster or DATABASE_URL's)."""
    return with_database(database_url(get_settings()), database)


def prepare(database: str, synthetic: int, fresh: bool = False) -> str:
    """Create (or reuse) a migrated benchmark database with the sample and `synthetic` extra
    deposits, analysed; returns its URL."""
    url = url_of(database)
    if fresh:
        drop_database(url)
    create_database(url)
    upgrade(url)
    engine = sync_engine(url)
    try:
        load_sample(engine, if_empty=True)
        with engine.begin() as conn:
            have = conn.execute(
                text("SELECT count(*) FROM deposits WHERE source = :s"), {"s": SOURCE}
            ).scalar()
            if have != synthetic:
                conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
                if synthetic:
                    conn.execute(text("SELECT setseed(:f)"), {"f": (SEED % 1000) / 1000})
                    conn.execute(text(_INSERT), _insert_values(synthetic))
            for name, value in _DATABASE_SETTINGS.items():
                conn.execute(text(f'ALTER DATABASE "{database}" SET {name} = {value}'))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    return url


def _insert_values(count: int) -> dict:
    weighted = [code for code, weight in COMMODITY_WEIGHTS.items() for _ in range(weight)]
    assert set(weighted) <= set(v.COMMODITY_CODES)
    return {
        "count": count,
        "seed": SEED,
        "source": SOURCE,
        "weighted": weighted,
        "occurrence_types": list(v.OCCURRENCE_TYPES),
        "deposit_types": list(v.DEPOSIT_TYPES),
        "size_classes": list(v.SIZE_CLASSES),
        "mine_statuses": list(v.MINE_STATUSES),
    }


def main(fresh: bool = False) -> dict[str, str]:
    """Both benchmark databases, by name."""
    return {
        SAMPLE_DB: prepare(SAMPLE_DB, 0, fresh),
        LARGE_DB: prepare(LARGE_DB, SYNTHETIC_DEPOSITS, fresh),
    }
