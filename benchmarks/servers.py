"""The servers under test, each one uvicorn worker on its own loopback port, started and stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.data import ROOT, WORK

TIPG_VERSION = "1.6.1"
# tipg is never a dependency of Veta: it lives in a virtualenv of its own, by default under
# benchmarks/.work (VETA_BENCH_TIPG_VENV: elsewhere, e.g. /tmp/tipg-venv), made on first use.
TIPG_VENV = Path(os.environ.get("VETA_BENCH_TIPG_VENV") or WORK / "tipg-venv")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _serving(
    command: list[str], env: dict, ready_path: str, port: int, log: Path, root: Path = ROOT
) -> Iterator[str]:
    """Run a server process from the checkout `root` until the block ends; yields its base URL
    once `ready_path` answers."""
    url = f"http://127.0.0.1:{port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, env={**os.environ, **env}, cwd=root, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited; see {log}")
                try:
                    if httpx.get(url + ready_path, timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url}{ready_path} not ready in 60 s; see {log}")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                # Seen once: uvicorn's shutdown waiting on the pool for a connection a
                # cancelled request never gave back. The numbers are taken; end it.
                proc.kill()
                proc.wait()


def _uvicorn(python: Path, app: str, port: int, *extra: str) -> list[str]:
    # Both servers run the same way: one worker, uvloop + httptools, no access log.
    return [
        str(python),
        "-m",
        "uvicorn",
        app,
        *extra,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


@contextmanager
def veta(
    database_url: str,
    remember_counts: bool = True,
    env: dict[str, str] | None = None,
    log: str = "veta.log",
    root: Path = ROOT,
) -> Iterator[str]:
    """Veta serving `database_url`; without `remember_counts`, every request counts its matches.
    `env` adds settings (VETA_…); `log` names its log under benchmarks/.work, so that servers
    running side by side keep separate logs; `root` is the checkout whose code serves (another
    one's, to compare two versions)."""
    port = free_port()
    command = _uvicorn(Path(sys.executable), "api.app:create_app", port, "--factory")
    env = {
        "DATABASE_URL": database_url,
        **({} if remember_counts else {"VETA_COUNT_CACHE_SIZE": "0"}),
        **({} if root == ROOT else {"PYTHONPATH": str(root)}),
        **(env or {}),
    }
    with _serving(command, env, "/deposits?limit=1", port, WORK / log, root) as url:
        yield url


def install_tipg() -> Path:
    """tipg in its own virtualenv under benchmarks/.work (it pins its own FastAPI and friends)."""
    python = TIPG_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TIPG_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                f"tipg=={TIPG_VERSION}",
                "uvicorn[standard]",
            ],
            check=True,
        )
    return python


@contextmanager
def tipg(database_url: str) -> Iterator[str]:
    """tipg serving the deposits table of `database_url`."""
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.deposits"]',
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
    }
    command = _uvicorn(install_tipg(), "tipg.main:app", port)
    with _serving(
        command, env, "/collections/public.deposits/items?limit=1", port, WORK / "tipg.log"
    ) as url:
        yield url
