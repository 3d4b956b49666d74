"""One structured JSON log line per request, with a request id.

The id is taken from the client's `X-Request-ID` when it is a short printable token (so a proxy's
id follows the request through), made otherwise, and returned in the same header. The line names
the route template (not the raw path, so logs group by endpoint), the status, the duration and
the query with credentials masked; headers are never logged, so Authorization cannot leak.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("veta.requests")


def uvicorn_log_config() -> dict:
    """uvicorn's logging, plus the request log: its JSON lines as they are, on stderr. Given to
    uvicorn (not set up here) so that every worker process gets it."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["request_json"] = {"format": "%(message)s"}
    config["handlers"]["request_json"] = {
        "class": "logging.StreamHandler",
        "formatter": "request_json",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["veta.requests"] = {
        "handlers": ["request_json"],
        "level": "INFO",
        "propagate": False,
    }
    return config


REQUEST_ID_HEADER = b"x-request-id"
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Query parameters whose values are credentials, compared lower-cased.
SECRET_PARAMETERS = frozenset(
    {"api_key", "apikey", "api-key", "key", "token", "access_token", "password", "secret"}
)


def request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            if _GOOD_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def masked_query(raw: bytes) -> str:
    """The query string with the values of credential-like parameters replaced by `***`."""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    return urlencode([(k, "***" if k.lower() in SECRET_PARAMETERS else v) for k, v in pairs])


# The request's state, for code deep in an answer to record facts for its log line (the rows a
# streamed answer carried) without passing the request down to it.
REQUEST_STATE: ContextVar[dict | None] = ContextVar("veta_request_state", default=None)


def record_rows(rows: int) -> None:
    """How many features or rows this request's answer carries, for its log line."""
    state = REQUEST_STATE.get()
    if state is not None:
        state["rows"] = rows


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "(unmatched)"


class RequestLog:
    """Pure ASGI (so streamed answers pass through untouched): logs when the answer has ended."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        state_token = REQUEST_STATE.set(scope["state"])
        started = time.perf_counter()
        status = 500
        sent = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER
                ]
                message = {**message, "headers": [*headers, (REQUEST_ID_HEADER, rid.encode())]}
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_STATE.reset(state_token)
            entry = {
                "event": "request",
                "request_id": rid,
                "method": scope["method"],
                "route": route_template(scope),
                "path": scope["path"],
                "query": masked_query(scope.get("query_string", b"")),
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "bytes": sent,
            }
            rows = scope["state"].get("rows")
            if rows is not None:
                entry["rows"] = rows
            log.info(json.dumps(entry, separators=(",", ":")))
            metrics = getattr(scope.get("app") and scope["app"].state, "metrics", None)
            if metrics is not None:
                metrics.observe(
                    scope["method"], entry["route"], status, time.perf_counter() - started
                )


# -- Prometheus metrics at /metrics --------------------------------------------------------

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """One registry per app (tests build many apps in one process): request counts and latency
    by route template and status, and, read at scrape time from the app's own state, the pool,
    the database time and the hits of the remembered counts and the tile cache."""

    def __init__(self, app) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "veta_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "veta_request_duration_seconds",
            "Time to answer, to the last byte",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.import_rows = Counter(
            "veta_import_rows",
            "Rows of files imported over HTTP, by layer and what became of them",
            ["layer", "result"],
            registry=self.registry,
        )
        self.registry.register(_StateCollector(app))

    def imported(self, layer: str, report) -> None:
        for result in ("inserted", "updated", "unchanged", "deleted", "rejected"):
            self.import_rows.labels(layer, result).inc(getattr(report, result))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)


class _StateCollector:
    def __init__(self, app) -> None:
        self.app = app

    def describe(self):
        return []

    def collect(self):
        state = self.app.state
        pool = getattr(state, "pool", None)
        if pool is not None:
            yield from _pool_families(pool)
        for name, cache in (("count_cache", state.counts), ("tile_cache", state.tiles)):
            family = CounterMetricFamily(
                f"veta_{name}_lookups",
                f"Lookups in the {name.replace('_', ' ')}",
                labels=["result"],
            )
            family.add_metric(["hit"], cache.hits)
            family.add_metric(["miss"], cache.misses)
            yield family


def _pool_families(pool):
    """The pool's gauges per server, labelled by role (primary or replica) and server (host,
    port and database); the replicas' state from the last check."""
    labels = ["pool", "server"]
    families = {
        "in_use": GaugeMetricFamily("veta_pool_in_use", "Pooled connections in use", labels=labels),
        "size": GaugeMetricFamily("veta_pool_size", "Pooled connections open", labels=labels),
        "max": GaugeMetricFamily("veta_pool_max", "Pooled connections allowed", labels=labels),
        "waiting": GaugeMetricFamily(
            "veta_pool_waiting", "Requests waiting for a connection", labels=labels
        ),
        "acquired": CounterMetricFamily(
            "veta_pool_acquired", "Connections handed to requests", labels=labels
        ),
        "held": CounterMetricFamily(
            "veta_database_seconds", "Seconds connections were held by requests", labels=labels
        ),
    }
    for member in pool.members:
        inner, names = member.pool, [member.role, member.server]
        families["in_use"].add_metric(names, inner.get_size() - inner.get_idle_size())
        families["size"].add_metric(names, inner.get_size())
        families["max"].add_metric(names, inner.get_max_size())
        families["waiting"].add_metric(names, member.waiting)
        families["acquired"].add_metric(names, member.acquired)
        families["held"].add_metric(names, member.held_seconds)
    yield from families.values()
    if pool.replicas:
        up = GaugeMetricFamily(
            "veta_replica_up", "1 while the replica answers and is in recovery", labels=["server"]
        )
        lag = GaugeMetricFamily(
            "veta_replica_lag_seconds",
            "Time since the primary had WAL the replica has not replayed (0: caught up)",
            labels=["server"],
        )
        for replica in pool.replicas:
            up.add_metric([replica.pool.server], int(replica.up))
            if replica.lag_s is not None:
                lag.add_metric([replica.pool.server], replica.lag_s)
        yield up
        yield lag


router = APIRouter(tags=["Health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
