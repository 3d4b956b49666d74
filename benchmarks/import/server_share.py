"""Where a load's time goes on the server: `ogr2ogr -append` and `veta import` of the same
detailed zones (and, given POINTS, of that many deposit points), in turn, each one's database
backend sampled every 20 ms.

Run: .venv/bin/python benchmarks/import/server_share.py [ZONES] [ROUNDS] [POINTS]
     (default 5000, 3, no points)

For each command: its wall time; when its backend connected and left; the backend's CPU seconds
(utime + stime from /proc, so the server must run on this machine), which a busy machine's run
queue does not inflate as it does wall time; and how long the backend waited for its client
(idle in the transaction, or `ClientRead` inside a COPY). Same inputs and commands as
bulk_import.py's zones and points.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from bulk_import import APPEND, VETA_IMPORT, empty, points_commands, zones_commands
from generate import generate, generate_zones
from scratch import load_average, scratch_database
from sqlalchemy.engine import make_url

from geo.store.db import libpq_url

_BACKENDS = (
    "SELECT pid, state, coalesce(wait_event_type, '') || ':' || coalesce(wait_event, '') "
    "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend'"
)


def cpu_seconds(pid: int) -> float | None:
    """A process's user + system CPU seconds so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sampled(url: str, command: list[str]) -> dict[str, float]:
    """Run a command against the database at `url`; its wall time and its backends' figures."""
    database = make_url(url).database
    with psycopg.connect(libpq_url(url), autocommit=True) as monitor:
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            env={**os.environ, "DATABASE_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        seen: dict[int, float] = {}
        cpu: dict[int, float] = {}
        waits: collections.Counter[str] = collections.Counter()
        last = start
        while process.poll() is None:
            now = time.perf_counter()
            for pid, state, wait in monitor.execute(_BACKENDS, (database,)).fetchall():
                seen.setdefault(pid, now - start)
                client = (state or "").startswith("idle") or wait == "Client:ClientRead"
                waits["client" if client else "server"] += now - last
                cpu[pid] = cpu_seconds(pid) or cpu.get(pid, 0.0)
            last = now
            time.sleep(0.02)
        wall = time.perf_counter() - start
    if process.returncode:
        raise SystemExit(f"{command[0]} failed ({process.returncode})")
    return {
        "wall": wall,
        "connected": min(seen.values(), default=float("nan")),
        "backend cpu": sum(cpu.values()),
        "waiting for client": waits["client"],
    }


def main(zones: int, rounds: int, points: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        inputs = [
            ("protection_zones", zones_commands(generate_zones(zones, Path(folder) / "z.gpkg")))
        ]
        if points:
            path = generate(points, Path(folder) / "p.gpkg")
            inputs.append(("deposits", points_commands(path)))
        with scratch_database("veta_bench_server") as url:
            for table, commands in inputs:
                for r in range(rounds):
                    for tool in sorted((APPEND, VETA_IMPORT), reverse=r % 2 == 1):
                        empty(url, table)
                        figures = sampled(url, commands[tool](url))
                        print(
                            f"{table} round {r + 1} {tool:16} "
                            + ", ".join(f"{k} {v:.2f} s" for k, v in figures.items())
                            + f", load {load_average():.1f}",
                            flush=True,
                        )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 5_000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 3,
        int(sys.argv[3]) if len(sys.argv) > 3 else 0,
    )
