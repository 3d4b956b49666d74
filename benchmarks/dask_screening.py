"""`python -m benchmarks.dask_screening [--rounds 3] [--zones]`: batch screening in the
database against the same batch partitioned on Dask.

Screens every deposit of veta_bench (the León sample plus 100,000 synthetic deposits,
benchmarks/data.py) into a CSV file, as `veta screen-batch` does:
- **SQL batch**: one statement over every deposit (no --scheduler);
- **Dask, N workers**: `--scheduler local:N` (N single-threaded workers in this process, each
  task one statement on its own PostgreSQL backend), N = 1 and 2;
- **Dask, 2 processes**: two worker processes reached over tcp://, as a remote cluster would be
  (rows pickled between processes).
The clusters are started before the timing (their start-up is reported apart); every timed run
reads the deposits, partitions them, screens, merges and writes the file. Each run's file must
be byte-identical to the same round's SQL batch's, or the benchmark stops. The variants alternate in ROUNDS
rounds so that each round's figures saw the same load; the load average is kept with every
round. `--zones` runs on veta_bench_screening instead (the same deposits and 5,000 detailed
synthetic zones, benchmarks/screening/zones.py). Raw numbers: benchmarks/results/dask_screening.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import data
from geo.catalog import register_catalog
from geo.io.screening_dask import Scheduler, dask_client, screen_on_dask
from geo.io.screening_files import BatchScreening, screen_in_database, write_batch
from geo.queries.deposits import DepositSearch
from geo.queries.screening import ScreeningOptions


def _batch() -> BatchScreening:
    register_catalog()  # the deposits are selected through the feature engine's collection
    return BatchScreening(DepositSearch(), ScreeningOptions(), "csv")


def _timed(run: Callable[[Path], int], out: Path) -> tuple[float, int, str]:
    started = time.perf_counter()
    count = run(out)
    seconds = time.perf_counter() - started
    return seconds, count, hashlib.sha256(out.read_bytes()).hexdigest()


def main(rounds: int, zones: bool) -> dict:
    if zones:
        from benchmarks.screening.__main__ import prepare

        url = prepare(fresh=False)[1]
    else:
        url = data.prepare(data.LARGE_DB, data.SYNTHETIC_DEPOSITS)
    batch = _batch()
    variants: dict[str, Callable[[Path], int]] = {
        "SQL batch": lambda out: write_batch(screen_in_database(url, batch), out, "csv")
    }
    clients = {}
    startup = {}
    for name, scheduler in (
        ("Dask, 1 worker", Scheduler(local_workers=1)),
        ("Dask, 2 workers", Scheduler(local_workers=2)),
    ):
        started = time.perf_counter()
        context = dask_client(scheduler)
        clients[name] = (context, context.__enter__())
        startup[name] = time.perf_counter() - started
    from distributed import LocalCluster

    started = time.perf_counter()
    processes = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
    )
    context = dask_client(Scheduler(address=processes.scheduler_address))
    clients["Dask, 2 processes"] = (context, context.__enter__())
    startup["Dask, 2 processes"] = time.perf_counter() - started
    for name, (_, client) in clients.items():
        variants[name] = lambda out, client=client: write_batch(
            screen_on_dask(client, url, batch)[1], out, "csv"
        )
    times: dict[str, list[float]] = {name: [] for name in variants}
    loads = []
    digest = None
    try:
        with tempfile.TemporaryDirectory() as work:
            for _ in range(rounds):
                before = os.getloadavg()
                for name, run in variants.items():
                    seconds, count, got = _timed(run, Path(work) / "out.csv")
                    # Against this round's SQL batch: another benchmark writing to veta_bench
                    # between rounds (benchmarks/access.py flips confidential flags) changes it.
                    digest = got if name == "SQL batch" else digest
                    if got != digest:
                        raise SystemExit(f"{name} wrote a different file than the SQL batch")
                    times[name].append(seconds)
                    print(
                        f"{name}: {seconds:.2f} s, load {os.getloadavg()[0]:.2f}", file=sys.stderr
                    )
                loads.append({"before": before, "after": os.getloadavg()})
    finally:
        for context, _ in clients.values():
            context.__exit__(None, None, None)
        processes.close()
    return {
        "database": url.rsplit("/", 1)[-1],
        "deposits": count,
        "rounds": rounds,
        "seconds": times,
        "cluster_start_s": startup,
        "load_average": loads,
        "machine": {**data.machine(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
    }


def table(result: dict) -> str:
    sql = statistics.median(result["seconds"]["SQL batch"])
    lines = [
        f"{result['deposits']:,} deposits ({result['database']}), median of {result['rounds']} rounds",
        "",
        "| variant | median s | rounds (s) | deposits/s | SQL batch / variant | cluster start s |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    for name, seconds in result["seconds"].items():
        median = statistics.median(seconds)
        start = result["cluster_start_s"].get(name)
        lines.append(
            f"| {name} | {median:.2f} | {' / '.join(f'{s:.2f}' for s in seconds)} | "
            f"{result['deposits'] / median:,.0f} | {sql / median:.2f}x | "
            f"{'' if start is None else f'{start:.1f}'} |"
        )
    lines.append("")
    lines.append(
        "load average (1 min) per round, before / after: "
        + "; ".join(f"{r['before'][0]:.2f} / {r['after'][0]:.2f}" for r in result["load_average"])
    )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.dask_screening", description=__doc__
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--zones", action="store_true", help="5,000 detailed synthetic zones")
    args = parser.parse_args()
    result = main(args.rounds, args.zones)
    data.RESULTS.mkdir(exist_ok=True)
    name = "dask_screening_zones" if args.zones else "dask_screening"
    (data.RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(table(result))
