"""`python -m benchmarks [data|headline|ogc|ogc-counting|deposits-vs-tipg|all]`: run benchmarks,
print their Markdown tables and keep the raw numbers in benchmarks/results/."""

from __future__ import annotations

import argparse
import json
import os
import time

from benchmarks import data, headline, ogc


def _machine() -> dict:
    # The load average says how much else ran: on a shared machine it moves every number.
    return {
        **data.machine(),
        "load_average": os.getloadavg(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _keep(name: str, result: dict) -> None:
    data.RESULTS.mkdir(exist_ok=True)
    (data.RESULTS / f"{name}.json").write_text(
        json.dumps({"machine": _machine(), **result}, indent=2)
    )


BENCHMARKS = {
    "headline": (headline.main, headline.table),
    "ogc": (ogc.main, ogc.table),
    "ogc-counting": (lambda: ogc.main(remember_counts=False), ogc.table),
    "deposits-vs-tipg": (lambda: ogc.main(veta_path="/deposits"), ogc.table),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", nargs="?", default="all", choices=["all", "data", *BENCHMARKS])
    parser.add_argument(
        "--fresh", action="store_true", help="drop and rebuild the benchmark databases"
    )
    args = parser.parse_args()
    data.WORK.mkdir(exist_ok=True)
    for database, url in data.main(fresh=args.fresh).items():
        print(f"{database}: {url}")
    chosen = list(BENCHMARKS) if args.name == "all" else [] if args.name == "data" else [args.name]
    for name in chosen:
        run, table = BENCHMARKS[name]
        before = os.getloadavg()[0]
        result = run()
        _keep(name, result)
        machine = _machine()
        print(
            f"\n## {name} ({machine['cores']} cores, {machine['when']}, load average "
            f"{before:.1f} before, {machine['load_average'][0]:.1f} after)\n\n{table(result)}\n",
            flush=True,
        )


if __name__ == "__main__":
    main()
