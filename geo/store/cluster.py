"""The local development PostgreSQL cluster under .veta/, used when DATABASE_URL is not set.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` OS user. Its
data directory must be reachable by that user; when the checkout sits somewhere it cannot
enter (say /root), the data lives under /var/lib/veta/ and .veta/pgdata links to it.
The server listens on 127.0.0.1 only, on a free port chosen once and kept in .veta/port, so
the system cluster and port 5432 are never touched.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DB_NAME = "veta"
DB_USER = "veta"


class ClusterError(RuntimeError):
    """The local cluster could not be created or started."""


def postgres_bindir() -> Path:
    """The directory of initdb/pg_ctl: PostgreSQL 15 preferred, else the newest installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    preferred = [c for c in candidates if c.split("/")[-2] == "15"]
    found = preferred or candidates[-1:]
    if found and Path(found[0], "initdb").exists():
        return Path(found[0])
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ClusterError("PostgreSQL server binaries not found (install postgresql-15)")


def _as_root() -> bool:
    return os.geteuid() == 0


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a server command, as the postgres OS user when we are root."""
    if _as_root():
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    # From "/": the postgres user may not enter the caller's working directory (say /root/…).
    return subprocess.run(cmd, capture_output=True, text=True, cwd="/", **kwargs)


def _traversable_by_postgres(path: Path) -> bool:
    return (
        subprocess.run(
            ["runuser", "-u", "postgres", "--", "test", "-x", str(path)], capture_output=True
        ).returncode
        == 0
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class LocalCluster:
    """A PostgreSQL cluster kept in a project's state directory."""

    state_dir: Path

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "pgdata"

    @property
    def port_file(self) -> Path:
        return self.state_dir / "port"

    @property
    def log_file(self) -> Path:
        # Beside the data directory, wherever it really is: the postgres user writes it.
        return self.server_dir.parent / "postgres.log"

    @property
    def server_dir(self) -> Path:
        """The data directory as the server sees it: the link under .veta/ resolved, since the
        postgres user may not be able to pass through the checkout to follow it."""
        return self.data_dir.resolve()

    def url(self, database: str = DB_NAME) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port()}/{database}"

    def port(self) -> int:
        if not self.port_file.exists():
            raise ClusterError(f"no local cluster in {self.state_dir}; run `veta db start`")
        return int(self.port_file.read_text().strip())

    def _new_data_dir(self) -> Path:
        """An empty data directory the server's user owns (as the server sees it)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        target = self.data_dir
        if _as_root():
            if not _traversable_by_postgres(self.state_dir):
                digest = hashlib.sha1(str(self.state_dir.resolve()).encode()).hexdigest()[:12]
                target = Path("/var/lib/veta") / digest / "pgdata"
                if self.data_dir.is_symlink():
                    self.data_dir.unlink()
                self.data_dir.symlink_to(target)
            target.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.chown(target, "postgres", "postgres")
        return target

    def follow(self, primary: LocalCluster) -> str:
        """Make this (new) cluster a streaming replica of the running `primary` and start it;
        return its admin database URL. A base backup with the standby settings written (-R):
        initdb's pg_hba trusts replication from 127.0.0.1, and PostgreSQL's defaults
        (wal_level replica, max_wal_senders 10, hot_standby on) need no change."""
        target = self._new_data_dir()
        result = _run(
            [
                str(postgres_bindir() / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port()),
                "-U",
                DB_USER,
                "-D",
                str(target),
                "--write-recovery-conf",
                "--wal-method=stream",
                "--checkpoint=fast",
            ]
        )
        if result.returncode != 0:
            raise ClusterError(f"pg_basebackup failed: {result.stderr.strip()}")
        return self.start()

    def _initdb(self, target: Path) -> None:
        result = _run(
            [
                str(postgres_bindir() / "initdb"),
                "-D",
                str(target),
                "-U",
                DB_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
        if result.returncode != 0:
            raise ClusterError(f"initdb failed: {result.stderr.strip()}")
        settings = (
            "listen_addresses = '127.0.0.1'\n"
            "unix_socket_directories = ''\n"
            # PostGIS functions are costed so high that bbox queries trigger JIT; it only costs.
            "jit = off\n"
            "synchronous_commit = off\n"
            "max_connections = 200\n"
            "shared_buffers = '256MB'\n"
        )
        conf = target / "postgresql.conf"
        _run(["sh", "-c", f"cat >> '{conf}'"], input=settings)

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return (
            _run(
                [str(postgres_bindir() / "pg_ctl"), "status", "-D", str(self.server_dir)]
            ).returncode
            == 0
        )

    def start(self) -> str:
        """Create the cluster if needed, start it if stopped; return the admin database URL."""
        if not (self.data_dir / "PG_VERSION").exists():
            target = self._new_data_dir()
            # A cluster already there was left by a checkout at this same path, deleted since
            # (the data outside a checkout outlives it): taken up again, never initdb'd over.
            if not (target / "PG_VERSION").exists():
                self._initdb(target)
        if not self.is_running():
            port = int(self.port_file.read_text()) if self.port_file.exists() else _free_port()
            if _port_in_use(port):
                port = _free_port()
            self.port_file.write_text(f"{port}\n")
            log = self.log_file
            if _as_root():
                log.touch()
                shutil.chown(log, "postgres", "postgres")
            result = _run(
                [
                    str(postgres_bindir() / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(self.server_dir),
                    "-l",
                    str(log),
                    "-o",
                    f"-p {port}",
                ]
            )
            if result.returncode != 0:
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise ClusterError(f"pg_ctl start failed: {result.stderr.strip()}\n{tail}")
        self._wait_ready()
        return self.url("postgres")

    def _wait_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if _port_in_use(self.port()):
                return
            time.sleep(0.2)
        raise ClusterError(f"the local cluster did not accept connections on port {self.port()}")

    def stop(self) -> None:
        if self.is_running():
            _run(
                [
                    str(postgres_bindir() / "pg_ctl"),
                    "stop",
                    "-m",
                    "fast",
                    "-D",
                    str(self.server_dir),
                ]
            )
