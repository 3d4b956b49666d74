"""Request bodies decoded and validated away from the event loop: small ones in a worker
thread, large ones in a worker process.

Validating a body is pure Python (every position checked, shapely built); in a thread it still
holds the GIL, and one 15 MB batch stalled every other client on the loop for seconds. A
process has its own interpreter: the loop only waits for the answer (sites as WKB, or the
InvalidParameter naming the field).
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import orjson
from starlette.concurrency import run_in_threadpool

from geo.core.errors import InvalidParameter

# Bodies up to this size are parsed in a thread: a process round trip costs more than they do.
IN_PROCESS_BYTES = 256 * 1024
_processes: ProcessPoolExecutor | None = None


def _pool() -> ProcessPoolExecutor:
    global _processes
    if _processes is None:
        # Spawned, not forked: the server has threads and an event loop a fork would copy.
        _processes = ProcessPoolExecutor(
            max_workers=2, mp_context=multiprocessing.get_context("spawn")
        )
    return _processes


def stop_processes() -> None:
    """Stop the worker processes, at the service's shutdown. Left to the interpreter's exit they
    outlived `veta serve` after a SIGTERM: a spawned worker holds both ends of its own queue, so
    it never sees its parent go."""
    global _processes
    processes, _processes = _processes, None
    if processes is not None:
        processes.shutdown(wait=True, cancel_futures=True)


def json_body_openapi(example: dict, *also: str) -> dict:
    """The `openapi_extra` of a route whose body is a JSON object: its example, and the other
    media types it may also be sent as."""
    content: dict = {"application/json": {"schema": {"type": "object"}, "example": example}}
    content.update({media_type: {"schema": {"type": "object"}} for media_type in also})
    return {"requestBody": {"required": True, "content": content}}


def decode_and_parse(raw: bytes, parse: Callable, allowed: str, *args):
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter("body", f"not JSON: {exc}", allowed) from None
    return parse(body, *args)


def _as_decoded(body):
    return body


async def json_body(request, allowed: str) -> object:
    """The request's JSON body, decoded off the event loop; `allowed` says what it may be."""
    return await parse_body(await request.body(), _as_decoded, allowed)


async def parse_body(raw: bytes, parse: Callable, allowed: str, *args):
    """`parse(decoded body, *args)` off the event loop; `allowed` says what a body may be."""
    if len(raw) <= IN_PROCESS_BYTES:
        return await run_in_threadpool(decode_and_parse, raw, parse, allowed, *args)
    return await asyncio.get_running_loop().run_in_executor(
        _pool(), decode_and_parse, raw, parse, allowed, *args
    )
