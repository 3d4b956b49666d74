"""The service behind PgBouncer in transaction mode (VETA_DATABASE_POOLER=pgbouncer): no session.

In transaction mode PgBouncer lends a server connection to a client for one transaction, then
to whichever client comes next. Whatever a session keeps past a transaction would reach other
clients, and would be missing from the same client's next transaction. So, behind it:

- Settings. A direct connection gets the planner's settings (geo/store/db.py SESSION_SETTINGS)
  and the read kind's statement_timeout as startup parameters, which PgBouncer refuses. Behind
  it, every connection a request takes runs its statements in one transaction that starts with
  them, and the kind's timeout, as SET LOCAL (geo/store/timed_pool.py); the viewer's settings
  are transaction-local anyway (geo/store/viewer.py). Nothing outlives the transaction.
- Prepared statements. PgBouncer 1.18 does not follow a named prepared statement from one
  transaction to the next. asyncpg's statement cache is off (each statement is then unnamed and
  parsed again with its Bind and Execute in one message batch) and psycopg never prepares. The
  cursors of streamed answers still prepare a named statement inside their transaction, which
  stays on the server connection after it: each transaction starts with DEALLOCATE ALL, so that
  another process's statement of the same name (asyncpg numbers them per process) left there
  cannot collide with ours, nor pile up in the server's memory.
- The reset on release. asyncpg's pool ends each use with RESET ALL, CLOSE ALL, UNLISTEN * and
  pg_advisory_unlock_all(); behind PgBouncer they would run on whichever server connection is
  lent at that moment, and nothing of ours is left to reset, so the release only rolls back a
  transaction still open (which asyncpg does before any reset).

Migrations and the command line connect with DATABASE_URL, directly (README: "Behind
PgBouncer").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from geo.core.settings import Settings

if TYPE_CHECKING:
    import asyncpg


def behind_pooler(settings: Settings) -> bool:
    """Whether the service's connections go through PgBouncer in transaction mode."""
    return settings.database_pooler == "pgbouncer"


def transaction_start_sql(session_settings: Mapping[str, str], statement_timeout_s: float) -> str:
    """What a transaction behind the pooler starts with, in one round trip (a simple query of
    several statements: the values are Veta's own settings, never a client's)."""
    local = {**session_settings, "statement_timeout": str(int(statement_timeout_s * 1000))}
    return "DEALLOCATE ALL; " + " ".join(
        f"SET LOCAL {name} = '{value}';" for name, value in local.items()
    )


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """The pool's reset behind the pooler: no session state is ever left (see above)."""


def asyncpg_options(settings: Settings, session_settings: Mapping[str, str]) -> dict[str, Any]:
    """asyncpg.create_pool's arguments for what a session starts with and how it is reset."""
    if behind_pooler(settings):
        return {"statement_cache_size": 0, "reset": _nothing_to_reset}
    return {"server_settings": dict(session_settings)}


def psycopg_options(pooled: bool) -> dict[str, Any]:
    """psycopg.connect's arguments: behind the pooler, never prepare a statement."""
    return {"prepare_threshold": None} if pooled else {}
