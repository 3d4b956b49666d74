"""`python -m benchmarks.viewer_lead [--requests 600]`: the time a credentialed read spends
before its first statement as the viewer — what the connection opened ahead
(geo/store/ahead.py) has to hide its round trip behind.

On veta_bench (benchmarks/data.py), with an editor key of `bench-c` (benchmarks/access.py's
set-up and tear-down), the app is driven in this process through ASGI; for each request the
clock runs from the request reaching the app to the route's first `pool.acquire()` as the
viewer (parameters checked, SQL written). Medians of the last `--requests` minus the first 100
(warm-up: statements prepared, the key remembered). Markdown on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import httpx

from benchmarks import access, data

PATHS = (
    "/collections/deposits/items?limit=100",
    f"/collections/deposits/items?limit=100&bbox={access.BBOX}",
    "/deposits?commodity=W,Li&area=leon&protection=outside",
    "/collections/deposits/tiles/WebMercatorQuad/12/1980/1511",
)
WARM_UP = 100


async def _leads(url: str, key: str, requests: int) -> dict[str, float]:
    from api.app import create_app
    from geo.core.settings import Settings

    app = create_app(Settings(database_url=url))
    started: list[float] = []
    first_use: list[float] = []

    async def timed(scope, receive, send):
        started.append(time.perf_counter())
        await app(scope, receive, send)

    found = {}
    async with app.router.lifespan_context(app):
        pool = app.state.pool
        acquire = pool.acquire

        def noting(as_viewer: bool = True, *args, **kwargs):
            if as_viewer and len(first_use) < len(started):
                first_use.append(time.perf_counter())
            return acquire(as_viewer, *args, **kwargs)

        pool.acquire = noting
        transport = httpx.ASGITransport(app=timed)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for path in PATHS:
                leads = []
                for n in range(requests):
                    started.clear()
                    first_use.clear()
                    (await client.get(path, headers=headers)).raise_for_status()
                    if n >= WARM_UP:
                        leads.append((first_use[0] - started[0]) * 1000)
                found[path] = statistics.median(leads)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.viewer_lead", description=__doc__)
    parser.add_argument("--requests", type=int, default=600)
    args = parser.parse_args()
    url = data.prepare(data.LARGE_DB, data.SYNTHETIC_DEPOSITS)
    load = os.getloadavg()[0]
    state = access.set_up(url)
    try:
        found = asyncio.run(_leads(url, state["same_rows_key"], args.requests))
    finally:
        access.tear_down(url)
    print(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after\n")
    print("| request | ms before its first statement as the viewer (median) |\n|---|---:|")
    for path, ms in found.items():
        print(f"| `{path}` | {ms:.2f} |")


if __name__ == "__main__":
    main()
