"""`python -m benchmarks.stream_memory [DEPOSITS] [BEFORE]`: the server's memory while it
answers very long feature lists, this tree against an earlier commit, in one run.

A benchmark database with DEPOSITS synthetic deposits (default 1,000,000) is made or reused.
Each version is served by its own uvicorn process (one worker, as benchmarks/servers.py runs
Veta), the earlier one from a git worktree of BEFORE (default: the commit before streaming from
a server-side cursor). For each answer the server's resident memory (VmRSS, read from /proc
every 20 ms) is taken just before and at its peak while a client reads the whole answer and
throws it away:

- `GET /screening/deposits?f=geojson`: every deposit screened, one GeoJSON FeatureCollection;
- `GET /deposits?limit=<VETA_MAX_LIMIT>`: the largest page the search gives;
- `GET /downloads/deposits?format=geojson`: the export of every deposit (pyogrio's writer, in
  batches from a server-side cursor).

Target (issue 15): under 200 MiB above idle for 1,000,000 features.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks import data
from benchmarks.servers import _uvicorn, free_port

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "9ed24db"
ANSWERS = {
    "/screening/deposits?f=geojson": "every deposit screened",
    "/deposits?limit=10000": "the largest /deposits page",
    "/downloads/deposits?format=geojson": "the export of every deposit",
}


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _measure(url: str, pid: int, path: str) -> dict:
    idle = _rss_mib(pid)
    peak = [idle]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started, size = time.perf_counter(), 0
    try:
        with httpx.stream("GET", url + path, timeout=600) as response:
            response.raise_for_status()
            for chunk in response.iter_raw():
                size += len(chunk)
    finally:
        done.set()
        sampler.join()
    return {
        "idle_mib": idle,
        "peak_above_idle_mib": peak[0] - idle,
        "seconds": time.perf_counter() - started,
        "mib_sent": size / 2**20,
    }


def _serve(tree: Path, database_url: str):
    port = free_port()
    command = _uvicorn(Path(sys.executable), "api.app:create_app", port, "--factory")
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(tree)}
    proc = subprocess.Popen(
        command, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "server exited")
        try:
            if httpx.get(url + "/deposits?limit=1", timeout=5).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server not ready in 60 s")
        time.sleep(0.2)


def main(deposits: int, before: str) -> None:
    database_url = data.prepare("veta_bench_stream", deposits)
    load_before = os.getloadavg()
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        earlier = Path(folder) / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(earlier), before],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            for label, tree in ((f"before ({before})", earlier), ("this tree", ROOT)):
                proc, url = _serve(tree, database_url)
                try:
                    for path in ANSWERS:
                        results[f"{label} {path}"] = _measure(url, proc.pid, path)
                finally:
                    proc.terminate()
                    proc.wait(30)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(earlier)],
                cwd=ROOT,
                capture_output=True,
            )
    print(
        f"{deposits:,} synthetic deposits plus the sample; load average {load_before[0]:.2f} "
        f"before, {os.getloadavg()[0]:.2f} after\n"
    )
    print("| version | answer | MiB sent | seconds | idle RSS MiB | peak above idle MiB |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for key, r in results.items():
        label, path = key.rsplit(" ", 1)
        print(
            f"| {label} | `{path}` | {r['mib_sent']:.0f} | {r['seconds']:.1f} | "
            f"{r['idle_mib']:.0f} | {r['peak_above_idle_mib']:.0f} |"
        )


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000,
        sys.argv[2] if len(sys.argv) > 2 else BEFORE,
    )
