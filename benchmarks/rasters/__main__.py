"""`python -m benchmarks.rasters [zonal|constraints|all]`: the raster benchmarks of issue 14;
Markdown tables printed, raw numbers (with the load average) in benchmarks/results/rasters-*.json."""

from __future__ import annotations

import argparse
import json
import os
import time

from benchmarks import data
from benchmarks.rasters import constraints, zonal

BENCHMARKS = {"zonal": zonal, "constraints": constraints}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rasters", description=__doc__)
    parser.add_argument("name", nargs="?", default="all", choices=["all", *BENCHMARKS])
    args = parser.parse_args()
    for name, module in BENCHMARKS.items():
        if args.name not in ("all", name):
            continue
        load_before = os.getloadavg()
        result = module.main()
        result["machine"] = {
            "cores": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        data.RESULTS.mkdir(exist_ok=True)
        (data.RESULTS / f"rasters-{name}.json").write_text(json.dumps(result, indent=2))
        print(module.table(result))
        print(
            f"\nload average before {load_before[0]:.2f}, after {result['machine']['load_average_after'][0]:.2f}\n"
        )


if __name__ == "__main__":
    main()
