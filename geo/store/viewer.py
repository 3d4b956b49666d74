"""Who the database is working for: the viewer of a request or a command, told to PostgreSQL.

Row-level security (migration 0014) decides what each viewer sees from two transaction-local
settings, veta.org and veta.role; the audit trail records veta.actor, veta.channel,
veta.client and veta.request_id. They are set with set_config(…, true) — SET LOCAL — at the
start of the transaction that does the work, so they end with it and can never carry over to
the next user of a pooled connection. An anonymous viewer sets nothing: with no organisation
and no role, the policies show public records only.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

# The database role the service connects as: no superuser, owns no table, cannot bypass
# row-level security (created by migration 0014).
SERVICE_ROLE = "veta_service"

# The settings, in the order of Viewer.settings(); the history of rights reads the author as
# veta.changed_by (migration 0003), the audit trail as veta.actor.
_SETTINGS = (
    ("veta.org",),
    ("veta.role",),
    ("veta.actor", "veta.changed_by"),
    ("veta.channel",),
    ("veta.client",),
    ("veta.request_id",),
)


def _settings_sql(placeholder) -> str:
    return "SELECT " + ", ".join(
        f"set_config('{name}', {placeholder(i)}, true)"
        for i, names in enumerate(_SETTINGS, 1)
        for name in names
    )


# For psycopg (%s, each value given once per use); asyncpg's go as literals (settings_statement).
SETTINGS_SQL_PSYCOPG = _settings_sql(lambda i: "%s")


def _literal(value: str) -> str:
    """An escape-string literal, whatever standard_conforming_strings says: the one place a
    value is written into SQL text, because BEGIN cannot share a round trip with bound
    parameters. NUL, which no PostgreSQL text holds, becomes U+FFFD."""
    escaped = value.replace("\\", "\\\\").replace("'", "''").replace("\x00", "\ufffd")
    return f"E'{escaped}'"


def settings_statement(viewer: Viewer) -> str:
    """The viewer's settings as a statement of literals, to follow BEGIN in one simple-protocol
    round trip where BEGIN and a statement with bound parameters take two
    (geo/store/timed_pool.py)."""
    values = viewer.settings()
    return _settings_sql(lambda i: _literal(values[i - 1]))


@dataclass(frozen=True)
class Viewer:
    """An organisation's member with a role, or nobody in particular (anonymous)."""

    organisation_id: int | None = None
    organisation: str | None = None  # its code
    role: str | None = None
    # Who to record as the author of writes: a key's holder, a token's subject, an OS user.
    actor: str = "anonymous"
    channel: str = "api"
    client: str | None = None
    request_id: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.role is None

    @property
    def audience(self) -> str:
        """Everyone who sees exactly what this viewer sees: the key of remembered answers
        (counts, tiles), so that no answer made for one organisation reaches another."""
        if self.role == "admin":
            return "admin"
        if self.organisation_id is not None:
            return f"org:{self.organisation_id}"
        return "public"

    def settings_psycopg(self) -> tuple[str, ...]:
        """The values of SETTINGS_SQL_PSYCOPG's parameters, in order."""
        return tuple(
            value for value, names in zip(self.settings(), _SETTINGS, strict=True) for _ in names
        )

    def settings(self) -> tuple[str, ...]:
        """The settings' values, in the order of _SETTINGS."""
        return (
            "" if self.organisation_id is None else str(self.organisation_id),
            self.role or "",
            self.actor,
            self.channel,
            self.client or "",
            self.request_id or "",
        )


ANONYMOUS = Viewer()
# The viewer the current request or command works for (set by the HTTP layer per request, by
# the command line once per command).
VIEWER: ContextVar[Viewer] = ContextVar("veta_viewer", default=ANONYMOUS)
