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
from dataclasses import dataclass, field

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


# A READ ONLY transaction writes nothing for the audit trail or the history of rights to record:
# it needs only the settings row-level security reads (veta.org, veta.role), the first two.
_READ_SETTINGS = _SETTINGS[:2]


def _settings_sql(placeholder, first: str = "", settings=_SETTINGS) -> str:
    return "SELECT " + ", ".join(
        ([first] if first else [])
        + [
            f"set_config('{name}', {placeholder(i)}, true)"
            for i, names in enumerate(settings, 1)
            for name in names
        ]
    )


# For psycopg (%s, each value given once per use); asyncpg's go as literals (settings_statement).
SETTINGS_SQL_PSYCOPG = _settings_sql(lambda i: "%s")


def _literal(value: str) -> str:
    """An escape-string literal, whatever standard_conforming_strings says: the one place a
    value is written into SQL text, because BEGIN cannot share a round trip with bound
    parameters. NUL, which no PostgreSQL text holds, becomes U+FFFD."""
    escaped = value.replace("\\", "\\\\").replace("'", "''").replace("\x00", "\ufffd")
    return f"E'{escaped}'"


def settings_statement(viewer: Viewer, read_only: bool = False) -> str:
    """The viewer's settings as a statement of literals, to follow BEGIN in one simple-protocol
    round trip where BEGIN and a statement with bound parameters take two
    (geo/store/timed_pool.py); with the confirmation of a remembered key first, while the
    request has not had it. A READ ONLY transaction gets only what row-level security reads."""
    values = viewer.settings()
    key = viewer.remembered_key
    confirm = key.confirmation() if key is not None and not key.confirmed else ""
    settings = _READ_SETTINGS if read_only else _SETTINGS
    return _settings_sql(lambda i: _literal(values[i - 1]), confirm, settings)


@dataclass(eq=False)
class RememberedKey:
    """An API key an earlier request looked up, taken on trust by this one only until the
    database confirms it: the request's first transaction as the viewer begins by calling
    veta_confirm_api_key (migration 0015) in the round trip that sets the settings, so that a
    key revoked or expired since is refused before that transaction reads anything, and the
    request pays no round trip of its own for its key."""

    digest: str
    organisation_id: int
    role: str
    confirmed: bool = False
    # Set when the database said no: the HTTP layer then forgets the key.
    refused: bool = False

    @classmethod
    def of(cls, digest: str, viewer: Viewer) -> RememberedKey:
        """The key, remembered as the viewer a lookup made of it (always an organisation's)."""
        if viewer.organisation_id is None or viewer.role is None:
            raise ValueError("only an organisation member's key is remembered")
        return cls(digest, viewer.organisation_id, viewer.role)

    def confirmation(self) -> str:
        return (
            f"veta_confirm_api_key({_literal(self.digest)}, {int(self.organisation_id):d}, "
            f"{_literal(self.role)})"
        )


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
    # A key remembered from an earlier request and not yet confirmed by this one (api/auth.py).
    remembered_key: RememberedKey | None = field(default=None, compare=False)

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
