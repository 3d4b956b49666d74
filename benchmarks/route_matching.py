"""`python -m benchmarks.route_matching [--repeat 20000]`: what finding a request's route costs.

Starlette matches a request against the app's routes in turn, and FastAPI keeps each included
router as one entry that matches through its own routes: the further down a path's router, the
more entries it is tried against first. Prints, for the most asked paths, how many entries are
tried and the median µs of finding the route (5 runs of `--repeat` lookups), in this process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from starlette.routing import Match

from api.app import create_app
from geo.core.settings import Settings

PATHS = (
    "/collections/deposits/items",
    "/collections/deposits/tiles/WebMercatorQuad/12/1980/1505",
    "/deposits",
    "/permits",
    "/grid/cells",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.route_matching", description=__doc__
    )
    parser.add_argument("--repeat", type=int, default=20_000)
    args = parser.parse_args()
    routes = create_app(Settings()).router.routes
    print(f"load average {os.getloadavg()[0]:.2f} before\n")
    print("| path | entries tried | µs to find its route |\n|---|---:|---:|")
    for path in PATHS:
        scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}

        def tried(scope: dict = scope) -> int:
            for number, route in enumerate(routes, start=1):
                if route.matches(scope)[0] == Match.FULL:
                    return number
            raise LookupError(scope["path"])

        runs = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(args.repeat):
                tried()
            runs.append((time.perf_counter() - started) / args.repeat * 1e6)
        print(f"| {path} | {tried()} of {len(routes)} | {statistics.median(runs):.1f} |")
    print(f"\nload average {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
