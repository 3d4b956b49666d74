"""The constraint map of the province of León at 25 m, classes and free-ground share: wall time and peak memory of `veta constraints --area leon --resolution 25`, run as its own
process on the benchmark database with the León sample (veta_bench_sample)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import rasterio

from benchmarks import data


def main() -> dict:
    url = data.prepare(data.SAMPLE_DB, 0)
    output = data.WORK / "rasters" / "leon-constraints-25m.tif"
    share = data.WORK / "rasters" / "leon-free-share-25m.tif"
    output.parent.mkdir(parents=True, exist_ok=True)
    veta = Path(sys.executable).parent / "veta"
    env = {**os.environ, "DATABASE_URL": url}
    start = time.perf_counter()
    subprocess.run(
        [
            str(veta),
            "constraints",
            "--area",
            "leon",
            "--resolution",
            "25",
            "-o",
            str(output),
            "--free-share-output",
            str(share),
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    # ru_maxrss of the children: the largest resident set of the one child run above (KiB on Linux).
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    with rasterio.open(output) as tif:
        shape = (tif.width, tif.height)
    return {
        "cells": shape,
        "seconds": seconds,
        "peak_rss_mib": peak_mib,
        "file_mib": (output.stat().st_size + share.stat().st_size) / 2**20,
    }


def table(result: dict) -> str:
    w, h = result["cells"]
    return "\n".join(
        [
            "| map | cells | seconds | peak memory | files |",
            "|---|---:|---:|---:|---:|",
            f"| León, 25 m, EPSG:25830 | {w:,} x {h:,} | {result['seconds']:.1f} | {result['peak_rss_mib']:.0f} MiB "
            f"| {result['file_mib']:.1f} MiB |",
        ]
    )
