"""Issue 18, finding 7: a 60 MB body is refused (413) at once, and the other clients hardly notice.

`python -m benchmarks.hostile_body`. Veta serves the León sample; four bystander clients
search and screen one request after another. Measured, each for ROUND seconds: the bystanders'
latencies idle; while one attacker after another sends a 60 MB body announced by Content-Length;
the same body chunked (no length: the guard stops reading at VETA_MAX_BODY_MB); and the largest
body that is read whole, 15 MB of 2,000 polygons parsed and checked (refused only at its last
feature), which is the parsing the worker thread takes off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from urllib.parse import urlsplit

from benchmarks.hostile import bystanders, p, veta_on_sample

ROUND = float(os.environ.get("VETA_BENCH_ROUND_S", "20"))
CLIENTS = 4
BIG = 60 * 2**20


def big_batch() -> bytes:
    """2,000 valid 300-vertex polygons in León, then one feature with an unknown member."""
    features = []
    for i in range(2000):
        lon, lat = -6.9 + (i % 50) * 0.04, 42.3 + (i // 50) * 0.02
        ring = [[round(lon + 0.01 * k / 300, 7), lat] for k in range(300)] + [
            [lon + 0.01, lat + 0.01],
            [lon, lat],
        ]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {},
            }
        )
    features.append(
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-6, 42]}, "oops": 1}
    )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


async def attack(
    base: str, body_size: int | None, body: bytes | None, seconds: float, expect: bool = False
) -> list[tuple[str, float]]:
    """One attacker after another for `seconds`: (answer, seconds to it) each. With `expect`
    the client asks first (Expect: 100-continue, as curl does for large bodies); without, it
    sends blindly, and may see the connection reset before it reads the 413 (the server closes
    with the rest of the body unread)."""
    host, port = urlsplit(base).hostname, urlsplit(base).port
    path = "/screening/batch" if body is not None else "/screening"
    answers = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        reader, writer = await asyncio.open_connection(host, port)
        length = len(body) if body is not None else body_size
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        head += "Expect: 100-continue\r\n" if expect else ""
        head += (
            f"Content-Length: {length}\r\n\r\n" if length else "Transfer-Encoding: chunked\r\n\r\n"
        )
        writer.write(head.encode())
        sender = None
        try:
            if expect:
                status_line = await reader.readline()
                if b" 100 " in status_line:
                    await reader.readline()
                    sender = asyncio.create_task(send(writer, body, length))
                    status_line = await reader.readline()
            else:
                sender = asyncio.create_task(send(writer, body, length))
                status_line = await reader.readline()
            answer = status_line.split()[1].decode() if status_line else "closed"
        except ConnectionError:  # reset, or a broken pipe
            answer = "reset"
        answers.append((answer, time.monotonic() - started))
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        writer.close()
    return answers


async def send(writer: asyncio.StreamWriter, body: bytes | None, length: int | None) -> None:
    if body is not None:
        writer.write(body)
        await writer.drain()
        return
    chunk = b" " * 2**20
    for _ in range(BIG // len(chunk)):
        writer.write(chunk if length else b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        await writer.drain()


async def scenario(base: str, name: str, **attacker) -> dict:
    if attacker:
        seen, answers = await asyncio.gather(
            bystanders(base, CLIENTS, ROUND), attack(base, seconds=ROUND, **attacker)
        )
    else:
        seen, answers = await bystanders(base, CLIENTS, ROUND), []
    return {
        "scenario": name,
        "requests": len(seen),
        "p50_ms": p(seen, 0.5),
        "p99_ms": p(seen, 0.99),
        "attacks": len(answers),
        "statuses": sorted({s for s, _ in answers}),
        "attack_median_s": statistics.median([t for _, t in answers]) if answers else None,
        "attack_max_s": max((t for _, t in answers), default=None),
    }


async def run(base: str) -> list[dict]:
    batch = big_batch()
    return [
        await scenario(base, "idle"),
        await scenario(
            base,
            "60 MB, Content-Length, Expect: 100-continue",
            body_size=BIG,
            body=None,
            expect=True,
        ),
        await scenario(base, "60 MB, Content-Length, sent blindly", body_size=BIG, body=None),
        await scenario(base, "60 MB, chunked", body_size=0, body=None),
        await scenario(
            base, f"{len(batch) / 2**20:.0f} MB batch, parsed", body_size=None, body=batch
        ),
    ]


def table(rows: list[dict]) -> str:
    idle = rows[0]["p99_ms"]
    lines = [
        "| scenario | bystander requests | p50 ms | p99 ms | p99 / idle | attacks | answers | attack median s | attack max s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['requests']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['p99_ms'] / idle:.2f} | {r['attacks']} | {', '.join(map(str, r['statuses'])) or '–'} | "
            + (
                f"{r['attack_median_s']:.3f} | {r['attack_max_s']:.3f} |"
                if r["attacks"]
                else "– | – |"
            )
        )
    return "\n".join(lines)


def main() -> None:
    print(f"load average before: {os.getloadavg()}")
    with veta_on_sample() as (base, _):
        rows = asyncio.run(run(base))
    print(f"load average after: {os.getloadavg()}")
    print(table(rows))


if __name__ == "__main__":
    main()
