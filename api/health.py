"""Liveness and readiness for orchestrators and load balancers.

`/healthz` answers while the process does (no database work, so a database outage never makes
an orchestrator restart healthy processes). `/readyz` answers 200 only when this process can
serve: the database (the primary) answers within a second, its schema is at the newest
migration, and the primary's pool has a connection free or room to open one; otherwise 503
with each failed check named. Replicas are listed (up, lag, in use) but never make a process
unready: one down or too far behind leaves the status `degraded`, still 200, its reads served
elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from functools import cache

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from geo.store.migrate import alembic_config
from geo.store.routed_pool import RoutedPool
from geo.store.timed_pool import TimedPool

router = APIRouter(tags=["Health"])

READY_TIMEOUT_S = 1.0
log = logging.getLogger("veta")


@cache
def migration_head() -> str | None:
    """The newest revision in migrations/ (read once: the files do not change under a running process)."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def pool_state(pool: TimedPool) -> dict[str, int]:
    """Connections open, idle and allowed in the asyncpg pool behind one server's TimedPool."""
    inner = pool.pool
    size, idle, most = inner.get_size(), inner.get_idle_size(), inner.get_max_size()
    return {"size": size, "idle": idle, "inUse": size - idle, "max": most}


@router.get("/healthz", include_in_schema=False)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    pool: RoutedPool = request.app.state.pool
    checks: dict[str, dict] = {}
    state = pool_state(pool.primary)
    exhausted = state["inUse"] >= state["max"]
    checks["pool"] = {"ok": not exhausted, **state}
    if exhausted:
        checks["database"] = {
            "ok": False,
            "detail": "not checked: every pooled connection is in use",
        }
    else:
        try:
            revision = await asyncio.wait_for(schema_revision(pool), READY_TIMEOUT_S)
        except TimeoutError:
            checks["database"] = {"ok": False, "detail": f"no answer within {READY_TIMEOUT_S:g} s"}
        except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
            checks["database"] = {"ok": False, "detail": f"unreachable ({type(exc).__name__})"}
        else:
            checks["database"] = {"ok": True}
            head = migration_head()
            checks["migrations"] = {"ok": revision == head, "current": revision, "head": head}
    ready = all(check["ok"] for check in checks.values())
    status = "ready" if ready else "not ready"
    if pool.replicas:
        # Never a reason to be taken out of service: without its replicas this process serves
        # every request from the primary. Failing here would take every process out at once.
        servers = [
            {
                "server": replica.pool.server,
                "up": replica.up,
                "lagSeconds": replica.lag_s,
                "inUse": replica.usable(pool.max_lag_s),
            }
            for replica in pool.replicas
        ]
        checks["replicas"] = {"ok": True, "servers": servers}
        if ready and not all(server["inUse"] for server in servers):
            status = "degraded"
    return JSONResponse(
        {"status": status, "checks": checks},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store", **({} if ready else {"Retry-After": "5"})},
    )


async def schema_revision(pool: RoutedPool) -> str | None:
    async with pool.acquire(on_primary=True) as conn:
        return await conn.fetchval("SELECT version_num FROM alembic_version")


async def warn_of_an_old_schema(pool: RoutedPool) -> None:
    """Said once at start-up, where whoever deployed the process reads: until the migrations
    run, /readyz answers 503 and every request that needs the newer tables fails."""
    revision, head = await schema_revision(pool), migration_head()
    if revision != head:
        log.warning(
            "the database's schema is at migration %s, this Veta's newest is %s: run `veta db "
            "upgrade` (until then /readyz answers 503 and requests needing newer tables fail)",
            revision,
            head,
        )
