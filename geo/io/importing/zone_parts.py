"""The parts of the protection zones an import inserts (protection_zone_parts, what screening
tests): split by the write itself, in one statement at its end, rather than by the insert
trigger one zone at a time."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.io.importing.targets import Layer


def defer(conn: Connection, layer: Layer) -> bool:
    """Whether this write splits the zones it inserts itself (split_new_zones): one statement
    that PostgreSQL runs on several cores, where the insert trigger splits one zone per call on
    one (5,000 detailed zones: 6.0 s on one core, 3.4 s on two; benchmarks/README.md). Only a
    writer that may insert parts: the command line, not the service's role, whose inserts the
    trigger splits with its owner's rights. At commit a deferred trigger splits any zone still
    without parts (migration 0017)."""
    if not layer.has_parts:
        return False
    allowed = conn.execute(
        text("SELECT has_table_privilege('protection_zone_parts', 'INSERT')")
    ).scalar_one()
    if allowed:
        conn.execute(text("SELECT set_config('veta.zone_parts', 'deferred', true)"))
    return allowed


# Zeroed for the split (whatever the estimates), reset after it.
_PARALLEL_SETTINGS = ("min_parallel_table_scan_size", "parallel_setup_cost", "parallel_tuple_cost")


def split_new_zones(conn: Connection, source: str) -> None:
    """The parts of the zones this write inserted — its source's zones without parts, since
    every zone another transaction committed has them — then the insert trigger's work given
    back to it. Made by CREATE TABLE … AS, whose query may run in parallel (INSERT … SELECT
    may not), with the split in the select list: a function in FROM would run above the
    parallel workers, in one process. The planner must know how many zones there are: just
    copied, they are not counted yet, and a table it believes empty gets no workers (hence the
    ANALYZE of the one column the query selects on, a few milliseconds). Workers are asked for
    whatever the costs say: the zones' rows are small (their outlines are stored apart), too
    small a table for the planner to consider them, while each zone costs about a millisecond
    to split."""
    conn.execute(text("ANALYZE protection_zones (source)"))
    zeroed = ", ".join(f"set_config('{setting}', '0', true)" for setting in _PARALLEL_SETTINGS)
    conn.execute(text(f"SELECT {zeroed}"))
    conn.execute(
        text(
            "CREATE TEMP TABLE new_zone_parts ON COMMIT DROP AS "
            "SELECT z.id AS zone_id, protection_zone_parts_of(z.geom) AS geom "
            "FROM protection_zones z WHERE z.source = :source "
            "AND NOT EXISTS (SELECT FROM protection_zone_parts q WHERE q.zone_id = z.id)"
        ),
        {"source": source},
    )
    conn.execute(
        text(
            "INSERT INTO protection_zone_parts (zone_id, geom) "
            "SELECT zone_id, geom FROM new_zone_parts"
        )
    )
    conn.execute(text("DROP TABLE new_zone_parts"))
    for setting in _PARALLEL_SETTINGS:
        conn.execute(text(f"RESET {setting}"))
    conn.execute(text("SELECT set_config('veta.zone_parts', '', true)"))
