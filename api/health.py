"""Liveness and readiness for orchestrators and load balancers.

`/healthz` answers while the process does (no database work, so a database outage never makes
an orchestrator restart healthy processes). `/readyz` answers 200 only when this process can
serve: the database answers within a second, its schema is at the newest migration, and the
pool has a connection free or room to open one; otherwise 503 with each failed check named.
"""

from __future__ import annotations

import asyncio
from functools import cache

from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from geo.store.migrate import alembic_config

router = APIRouter(tags=["Health"])

READY_TIMEOUT_S = 1.0


@cache
def migration_head() -> str | None:
    """The newest revision in migrations/ (read once: the files do not change under a running process)."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def pool_state(pool) -> dict[str, int]:
    """Connections open, idle and allowed in the asyncpg pool behind the app's TimedPool."""
    inner = pool.pool
    size, idle, most = inner.get_size(), inner.get_idle_size(), inner.get_max_size()
    return {"size": size, "idle": idle, "inUse": size - idle, "max": most}


@router.get("/healthz", include_in_schema=False)
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    pool = request.app.state.pool
    checks: dict[str, dict] = {}
    state = pool_state(pool)
    exhausted = state["inUse"] >= state["max"]
    checks["pool"] = {"ok": not exhausted, **state}
    if exhausted:
        checks["database"] = {
            "ok": False,
            "detail": "not checked: every pooled connection is in use",
        }
    else:
        try:
            revision = await asyncio.wait_for(_schema_revision(pool), READY_TIMEOUT_S)
        except TimeoutError:
            checks["database"] = {"ok": False, "detail": f"no answer within {READY_TIMEOUT_S:g} s"}
        except Exception as exc:  # noqa: BLE001 - any failure to reach the database means not ready
            checks["database"] = {"ok": False, "detail": f"unreachable ({type(exc).__name__})"}
        else:
            checks["database"] = {"ok": True}
            head = migration_head()
            checks["migrations"] = {"ok": revision == head, "current": revision, "head": head}
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store", **({} if ready else {"Retry-After": "5"})},
    )


async def _schema_revision(pool) -> str | None:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT version_num FROM alembic_version")
