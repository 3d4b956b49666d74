"""Who may see and change what: organisations, their API keys, and the audit trail of writes.

Visibility itself is PostgreSQL's (row-level security, migration 0014): a record marked
`confidential` is seen only by its owning organisation (and admins), whatever the query.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from geo.store.models.base import Base, one_of

# reader: sees its organisation's confidential records; editor: also writes them; registry:
# records status changes of any mining right and edits protection zones; admin: everything.
ROLES = ("reader", "editor", "registry", "admin")
AUDIT_ACTIONS = ("insert", "update", "delete")
# How a write reached the database: the HTTP API, `veta import`, another command, or plain SQL.
AUDIT_CHANNELS = ("api", "import", "cli", "sql")


class Organisation(Base):
    """A company, survey or authority whose people work in Veta; owner of confidential records."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    # Short and stable (the OpenID Connect claim carries it): 'minas-leon', 'igme'.
    code: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )

    __table_args__ = (sa.CheckConstraint("code ~ '^[a-z0-9][a-z0-9_.-]*$'", name="code_slug"),)


class ApiKey(Base):
    """An API key: only its SHA-256 is kept (the key itself is shown once, when made)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    # The key's first characters, kept to tell keys apart in `veta keys list` (not secret alone).
    prefix: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    digest: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False
    )
    role: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    # The person or program the key was given to, recorded as the author of its writes.
    holder: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )
    expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (one_of("role", ROLES),)


class Confidentiality:
    """A record an organisation may keep to itself: seen by others only when not confidential."""

    confidential: Mapped[bool] = mapped_column(sa.Boolean, server_default="false", nullable=False)

    @declared_attr
    def owner_org(cls) -> Mapped[int | None]:
        return mapped_column(sa.ForeignKey("organisations.id"))

    @staticmethod
    def owned() -> sa.CheckConstraint:
        """CHECK that a confidential record has an owner to be seen by."""
        return sa.CheckConstraint(
            "NOT confidential OR owner_org IS NOT NULL", name="confidential_owned"
        )


class AuditEntry(Base):
    """One record written: by whom, when, from where and how, with the row before and after.

    Written by statement triggers (migration 0014) in the writing transaction, so a write that
    rolls back leaves none; the service's database role may read but never change this table.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )
    actor: Mapped[str] = mapped_column(sa.Text, nullable=False)
    organisation_id: Mapped[int | None] = mapped_column(sa.Integer)
    channel: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    client: Mapped[str | None] = mapped_column(sa.Text)
    request_id: Mapped[str | None] = mapped_column(sa.Text)
    table_name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    record_id: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    action: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)
    # The organisation the record was confidential to (before or after), else NULL: the entry
    # is as secret as the record.
    confidential_to: Mapped[int | None] = mapped_column(sa.Integer)

    __table_args__ = (
        one_of("action", AUDIT_ACTIONS),
        one_of("channel", AUDIT_CHANNELS),
        sa.Index("ix_audit_log_table_name_record_id", "table_name", "record_id", "id"),
        sa.Index("ix_audit_log_at", "at"),
        sa.Index("ix_audit_log_actor", "actor"),
    )
