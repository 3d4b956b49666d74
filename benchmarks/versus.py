"""`python -m benchmarks.versus [--base REV]`: this checkout against another version of Veta
(main by default) in one run, request for request, over the 100,000-deposit database.

The other version is checked out as a detached git worktree under benchmarks/.work/base (made
once, moved to REV on each run), and both are served side by side, one uvicorn worker each
with the same Python environment; every request type alternates between them in short rounds
(benchmarks.load.interleaved), so drift in the machine's load reaches both alike. Covers the
items pages, the headline search and the other REST lists, and the screening of deposits.
Prints a Markdown table of p50 and requests/s with the ratios (this / base) and keeps the raw
numbers in benchmarks/results/versus.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from benchmarks import data, servers
from benchmarks.load import interleaved

BASE_CHECKOUT = data.WORK / "base"

# name: (path and query, seconds per round): a screening of every tungsten and lithium deposit
# of León takes seconds, a page milliseconds.
REQUESTS = {
    "items, limit 100": ("/collections/deposits/items?limit=100", 3),
    "items, limit 100, bbox": (
        "/collections/deposits/items?limit=100&bbox=-6.9,42.3,-6.3,42.7",
        3,
    ),
    "items, limit 10000": ("/collections/deposits/items?limit=10000", 6),
    "deposit_screening items, limit 100": ("/collections/deposit_screening/items?limit=100", 3),
    "headline outside": ("/deposits?commodity=W,Li&area=leon&protection=outside", 3),
    "headline outside, limit 1000": (
        "/deposits?commodity=W,Li&area=leon&protection=outside&limit=1000",
        3,
    ),
    "headline inside": ("/deposits?commodity=W,Li&area=leon&protection=inside", 3),
    "permits": ("/permits", 3),
    "grid cells": ("/grid/cells?bbox=-6.0,42.5,-5.9,42.6", 3),
    "screening deposits W,Li León": ("/screening/deposits?commodity=W,Li&area=leon", 10),
}


def checkout(rev: str) -> Path:
    """The worktree of `rev` (made on first use, else moved to it)."""
    if not BASE_CHECKOUT.exists():
        subprocess.run(
            ["git", "-C", str(data.ROOT), "worktree", "add", "--detach", str(BASE_CHECKOUT), rev],
            check=True,
        )
    else:
        subprocess.run(
            ["git", "-C", str(BASE_CHECKOUT), "checkout", "-q", "--detach", rev], check=True
        )
    return BASE_CHECKOUT


def run(rev: str, rounds: int) -> dict:
    url = data.prepare(data.LARGE_DB, data.SYNTHETIC_DEPOSITS)
    base_root = checkout(rev)
    rows = []
    with ExitStack() as stack:
        served = {
            "base": stack.enter_context(servers.veta(url, log="base.log", root=base_root)),
            "this": stack.enter_context(servers.veta(url, log="this.log")),
        }
        for name, (path, seconds) in REQUESTS.items():
            for root in served.values():
                # Warm-up, and the remembered count; both must answer alike.
                answer = httpx.get(root + path, timeout=600)
                answer.raise_for_status()
            load_before = os.getloadavg()[0]
            results = interleaved(
                {k: root + path for k, root in served.items()}, 1, seconds, rounds
            )
            base, this = results["base"], results["this"]
            rows.append(
                {
                    "request": name,
                    "path": path,
                    "load_average": load_before,
                    "base_p50_ms": base.p50_ms,
                    "this_p50_ms": this.p50_ms,
                    "p50_ratio": this.p50_ms / base.p50_ms,
                    "base_requests_per_s": base.requests_per_s,
                    "this_requests_per_s": this.requests_per_s,
                    "throughput_ratio": this.requests_per_s / base.requests_per_s,
                }
            )
    return {"base": rev, "rows": rows}


def table(result: dict) -> str:
    lines = [
        f"| request | {result['base']} p50 ms | this p50 ms | p50 this / {result['base']} | "
        f"{result['base']} req/s | this req/s | req/s this / {result['base']} | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['request']} | {r['base_p50_ms']:.1f} | {r['this_p50_ms']:.1f} | "
            f"{r['p50_ratio']:.2f}x | {r['base_requests_per_s']:.1f} | "
            f"{r['this_requests_per_s']:.1f} | {r['throughput_ratio']:.2f}x | "
            f"{r['load_average']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.versus", description=__doc__)
    parser.add_argument("--base", default="main", help="the version to compare with (git rev)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data.WORK.mkdir(exist_ok=True)
    before = os.getloadavg()
    result = run(args.base, args.rounds)
    result["machine"] = {
        **data.machine(),
        "load_average_before": before,
        "load_average_after": os.getloadavg(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    data.RESULTS.mkdir(exist_ok=True)
    (data.RESULTS / "versus.json").write_text(json.dumps(result, indent=2))
    print(table(result))
    print(f"\nload average {before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
