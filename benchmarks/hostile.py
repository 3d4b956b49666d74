"""What the hostile-input benchmarks share: a Veta on the sample, bystanders' latencies, the
database's private memory."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

from benchmarks import data, servers

# What the other clients do meanwhile: a search and a one-site screening, one after another.
BYSTANDER_GET = "/deposits?commodity=W,Li&area=leon&limit=10"
BYSTANDER_SITE = {"type": "Point", "coordinates": [-6.7708, 42.4694], "buffer_m": 1000}


@contextmanager
def veta_on_sample():
    data.WORK.mkdir(exist_ok=True)
    url = data.prepare(data.SAMPLE_DB, 0)
    with servers.veta(url) as base:
        yield base, url


async def bystanders(base: str, clients: int, seconds: float) -> list[float]:
    """Latencies (s) of `clients` clients each sending one request after another for `seconds`."""
    latencies: list[float] = []
    end = time.monotonic() + seconds

    async def one(client: httpx.AsyncClient, i: int) -> None:
        n = 0
        while time.monotonic() < end:
            started = time.monotonic()
            if (i + n) % 2:
                response = await client.get(base + BYSTANDER_GET)
            else:
                response = await client.post(base + "/screening", json=BYSTANDER_SITE)
            response.raise_for_status()
            latencies.append(time.monotonic() - started)
            n += 1

    async with httpx.AsyncClient(timeout=120) as client:
        await asyncio.gather(*(one(client, i) for i in range(clients)))
    return latencies


def p(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of the values, in milliseconds."""
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1] * 1000


def backend_pids(database_url: str) -> tuple[int, list[int]]:
    """The postmaster's pid and its children (the cluster Veta uses, not the machine's others)."""
    with psycopg.connect(database_url) as conn:
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
    postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(entry))
    return postmaster, children


def private_memory_mb(database_url: str) -> float:
    """The database's anonymous (private) memory: what a runaway query's working set grows."""
    postmaster, children = backend_pids(database_url)
    total = 0
    for pid in [postmaster, *children]:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


async def sample_memory(database_url: str, stop: asyncio.Event, every: float = 0.1) -> list[float]:
    samples = []
    while not stop.is_set():
        samples.append(await asyncio.to_thread(private_memory_mb, database_url))
        await asyncio.sleep(every)
    return samples
