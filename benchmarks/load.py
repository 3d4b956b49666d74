"""Loopback load generation with wrk: bounded by time, one thread, a fixed number of connections."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

# wrk reports through this script so that exact percentiles and error counts come back as JSON.
REPORT = Path(__file__).with_name("wrk_report.lua")

# The same compression for every server: gzip, as QGIS and GDAL (curl) ask for it.
ACCEPT_ENCODING = "gzip"


@dataclass(frozen=True)
class LoadResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int


def require_wrk() -> str:
    """The wrk binary; installed from Debian when missing, like the Makefile's system packages."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    return shutil.which("wrk") or "wrk"


def run_wrk(
    url: str,
    connections: int,
    seconds: float,
    accept: str = "application/geo+json",
    headers: dict[str, str] | None = None,
    script: Path = REPORT,
) -> LoadResult:
    """Hammer one URL from one wrk thread with `connections` keep-alive connections, sending
    `headers` as well (a credential, say). `script` replaces the report script by one that sets
    the request (a POST body, say) and then loads wrk_report.lua with `dofile`."""
    if not url.startswith(("http://127.", "http://localhost")):
        raise ValueError(f"load only goes to loopback, not {url}")
    command = [
        require_wrk(),
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-H",
        f"Accept-Encoding: {ACCEPT_ENCODING}",
        "-H",
        f"Accept: {accept}",
        *(arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")),
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    report = json.loads(out[out.index("{") :])
    if report["errors"]:
        # A benchmark of error answers measures nothing: stop rather than report it.
        raise RuntimeError(f"{report['errors']} failed requests on {url}")
    return LoadResult(
        requests=report["requests"],
        seconds=report["duration_us"] / 1e6,
        requests_per_s=report["requests"] / (report["duration_us"] / 1e6),
        p50_ms=report["p50_us"] / 1000,
        p99_ms=report["p99_us"] / 1000,
        errors=report["errors"],
    )


def interleaved(
    urls: dict[str, str], connections: int, seconds: float, rounds: int
) -> dict[str, LoadResult]:
    """Each URL in turn, `rounds` times: on a shared machine the load drifts, and alternating
    short runs lets every server see the same drift. Requests/s over all rounds together; p50
    and p99 the median of the rounds'."""
    runs: dict[str, list[LoadResult]] = {name: [] for name in urls}
    for _ in range(rounds):
        for name, url in urls.items():
            runs[name].append(run_wrk(url, connections, seconds))
    return {name: _combine(results) for name, results in runs.items()}


def _combine(results: list[LoadResult]) -> LoadResult:
    requests = sum(r.requests for r in results)
    seconds = sum(r.seconds for r in results)
    return LoadResult(
        requests=requests,
        seconds=seconds,
        requests_per_s=requests / seconds,
        p50_ms=statistics.median(r.p50_ms for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
    )
