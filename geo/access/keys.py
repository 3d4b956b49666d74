"""API keys: made with enough entropy that a hash is all that needs keeping, shown once.

A key is `veta_` followed by 32 random bytes in URL-safe base64 (256 bits). Only its SHA-256
is stored: a slow password hash buys nothing against guessing 256 bits, and a fast one lets
every request be checked with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core.errors import InvalidParameter, NotFound
from geo.store.models import ROLES

KEY_PREFIX = "veta_"
# SQL of the lookup the service may run (the function, not the table: migration 0014).
LOOKUP_SQL = "SELECT key_id, organisation_id, organisation_code, role, holder FROM veta_api_key($1)"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


@dataclass(frozen=True)
class KeyRecord:
    id: int
    prefix: str
    organisation: str
    role: str
    holder: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def create_organisation(conn: Connection, code: str, name: str) -> int:
    exists = conn.execute(text("SELECT 1 FROM organisations WHERE code = :c"), {"c": code}).first()
    if exists:
        raise InvalidParameter("code", f"an organisation {code!r} exists already")
    return conn.execute(
        text("INSERT INTO organisations (code, name) VALUES (:c, :n) RETURNING id"),
        {"c": code, "n": name},
    ).scalar_one()


def organisation_id(conn: Connection, code: str) -> int:
    found = conn.execute(text("SELECT id FROM organisations WHERE code = :c"), {"c": code}).scalar()
    if found is None:
        known = conn.execute(text("SELECT code FROM organisations ORDER BY code")).scalars().all()
        raise InvalidParameter("org", f"no organisation {code!r}", known or "none yet")
    return found


def create_key(
    conn: Connection, organisation: str, role: str, holder: str, expires_at: datetime | None
) -> tuple[str, int]:
    """A new key for a member of an organisation: (the key, shown only now; its id)."""
    if role not in ROLES:
        raise InvalidParameter("role", f"{role!r} is not a role", ROLES)
    org = organisation_id(conn, organisation)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = conn.execute(
        text(
            "INSERT INTO api_keys (prefix, digest, organisation_id, role, holder, expires_at) "
            "VALUES (:p, :d, :o, :r, :h, :e) RETURNING id"
        ),
        {"p": key[:12], "d": digest(key), "o": org, "r": role, "h": holder, "e": expires_at},
    ).scalar_one()
    return key, key_id


def list_keys(conn: Connection) -> list[KeyRecord]:
    rows = conn.execute(
        text(
            "SELECT k.id, k.prefix, o.code, k.role, k.holder, k.created_at, k.expires_at, "
            "k.revoked_at FROM api_keys k JOIN organisations o ON o.id = k.organisation_id "
            "ORDER BY k.id"
        )
    )
    return [KeyRecord(*row) for row in rows]


def revoke_key(conn: Connection, key_id: int) -> None:
    revoked = conn.execute(
        text("UPDATE api_keys SET revoked_at = now() WHERE id = :i AND revoked_at IS NULL"),
        {"i": key_id},
    ).rowcount
    if not revoked:
        raise NotFound(f"no key {key_id} that is not already revoked")
