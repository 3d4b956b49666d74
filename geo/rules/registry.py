"""The mining-rights registry: status transitions, effective status, history and as-of reading.

Lifecycle (Ley 22/1973 de Minas, docs/domain.md), the only changes `set_status` accepts:

    applied  → admitted, denied, renounced
    admitted → granted, denied, renounced
    granted  → extended, lapsed, renounced
    extended → extended (a further extension), lapsed, renounced
    lapsed, renounced, denied: final

- **Effective status.** A granted or extended right reads as lapsed from its `expires_on` date
  on (the SQL function permit_effective_status, migration 0003); the recorded status is kept.
  Transitions are judged on the effective status of the day they take effect, so an expired
  permit cannot be extended after the fact.
- **History.** Every write to `permits` is recorded by a trigger in `permit_history`: when,
  from which day it takes effect, by whom, the whole row before and after. Writers here say
  who they are (the operating-system user for the CLI) and the effective day (`--on`).
- **As of a day.** The registry as it stood on day D is, for each right, the row after its
  last change effective on or before D (ties broken by the order they were recorded), read
  with D's effective status. A right recorded today without a date reads as absent before
  today: history starts when Veta first learns of a right.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter, NotFound

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "applied": ("admitted", "denied", "renounced"),
    "admitted": ("granted", "denied", "renounced"),
    "granted": ("extended", "lapsed", "renounced"),
    "extended": ("extended", "lapsed", "renounced"),
    "lapsed": (),
    "renounced": (),
    "denied": (),
}
# Rights that hold ground: an application holds it against later ones, a grant against all.
HOLDING = ("applied", "admitted", "granted", "extended")
IN_FORCE = ("granted", "extended")
CONCESSIONS = ("exploitation_derived", "exploitation_direct")


def effective_status_sql(row: str, day: str) -> str:
    """SQL: the status of right `row` as it reads on `day` (a SQL date expression)."""
    return f"permit_effective_status({row}.status, {row}.expires_on, {day})"


def as_of_source(day: str, alias: str = "p") -> str:
    """SQL FROM item (alias `alias`): the permits rows as they stood on `day`, from their history."""
    # LATERAL, not (jsonb_populate_record(…)).*, which would rebuild the row once per column.
    # A right whose last change is its deletion (after IS NULL) was gone that day.
    return (
        "(SELECT after FROM (SELECT DISTINCT ON (permit_id) after FROM permit_history "
        f"WHERE effective_on <= {day} ORDER BY permit_id, effective_on DESC, id DESC) latest "
        f"WHERE after IS NOT NULL) h CROSS JOIN LATERAL jsonb_populate_record(NULL::permits, h.after) {alias}"
    )


def record_as(conn: Connection, changed_by: str, effective_on: date | None) -> None:
    """Tell the history trigger who writes in this transaction and from which day it counts."""
    conn.execute(
        text(
            "SELECT set_config('veta.changed_by', :by, true), "
            "set_config('veta.effective_on', :on, true)"
        ),
        {"by": changed_by, "on": effective_on.isoformat() if effective_on else ""},
    )


def set_status(
    conn: Connection,
    registry_number: str,
    status: str,
    *,
    on: date,
    changed_by: str,
    expires_on: date | None = None,
) -> dict:
    """Move a right to a new status from day `on`, if the lifecycle allows it; returns the
    changed row. Granting sets granted_on; granting and extending may set a new expires_on."""
    if status not in v.PERMIT_STATUSES:
        raise InvalidParameter("status", f"unknown status {status!r}", v.PERMIT_STATUSES)
    row = (
        conn.execute(
            text(
                "SELECT p.id, p.status, p.applied_on, p.expires_on, "
                f"{effective_status_sql('p', ':on')} AS effective, "
                "(SELECT max(effective_on) FROM permit_history h WHERE h.permit_id = p.id) AS last_change "
                "FROM permits p WHERE p.registry_number = :number FOR UPDATE"
            ),
            {"number": registry_number, "on": on},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no right with registry number {registry_number!r}")
    current = row["effective"]
    allowed = TRANSITIONS[current]
    if status not in allowed:
        lapsed = f" (it expired on {row['expires_on']})" if current != row["status"] else ""
        raise InvalidParameter(
            "status",
            f"{registry_number} is {current} on {on}{lapsed} and cannot become {status}",
            allowed or "nothing: the right is final",
        )
    if row["last_change"] and on < row["last_change"]:
        raise InvalidParameter(
            "on",
            f"{registry_number} already has a change effective on "
            f"{row['last_change']}; changes are recorded in order",
            f"{row['last_change']} or later",
        )
    if row["applied_on"] and on < row["applied_on"]:
        raise InvalidParameter(
            "on",
            f"{on} is before the application ({row['applied_on']})",
            f"{row['applied_on']} or later",
        )
    if expires_on is not None and status not in ("granted", "extended"):
        raise InvalidParameter(
            "expires_on", f"only granting or extending sets an expiry, not {status}"
        )
    if status == "extended" and (
        expires_on is None or (row["expires_on"] and expires_on <= row["expires_on"])
    ):
        raise InvalidParameter(
            "expires_on",
            "an extension needs a new expiry date",
            f"a date after {row['expires_on']}" if row["expires_on"] else "a date",
        )
    if expires_on is not None and expires_on <= on:
        raise InvalidParameter(
            "expires_on", f"{expires_on} is not after {on}", f"a date after {on}"
        )

    record_as(conn, changed_by, on)
    changes: dict[str, object] = {"status": status}
    if status == "granted":
        changes["granted_on"] = on
    if expires_on is not None:
        changes["expires_on"] = expires_on
    assignments = ", ".join(f"{name} = :{name}" for name in changes)
    return dict(
        conn.execute(
            text(
                f"UPDATE permits SET {assignments} WHERE id = :id "
                "RETURNING registry_number, status, applied_on, granted_on, expires_on"
            ),
            {**changes, "id": row["id"]},
        )
        .mappings()
        .one()
    )


RECORD_COLUMNS = (
    "registry_number",
    "name",
    "holder",
    "authority",
    "status",
    "right_type",
    "section",
    "commodities",
    "remarks",
    "source",
    "source_id",
)


def record_rights(conn: Connection, records: list, changed_by: str) -> dict[str, int]:
    """Insert or update rights read from a registry export (objects with RECORD_COLUMNS and a
    shapely `geometry`), keyed by registry number; returns how many were inserted, updated and
    unchanged. An export is the authority's own statement of its registry, so its statuses are
    taken as they are, without the transition rules that guard changes made here."""
    record_as(conn, changed_by, None)
    columns = ", ".join(RECORD_COLUMNS)
    values = ", ".join(f":{c}" for c in RECORD_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*RECORD_COLUMNS[1:], "geom"))
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for record in records:
        row = conn.execute(
            text(
                f"INSERT INTO permits ({columns}, geom) VALUES ({values}, "
                "ST_Multi(ST_GeomFromWKB(decode(:wkb, 'hex'), 4326))) "
                f"ON CONFLICT (registry_number) DO UPDATE SET {updates} "
                f"WHERE (permits.{', permits.'.join(RECORD_COLUMNS[1:])}, ST_AsBinary(permits.geom)) "
                f"IS DISTINCT FROM (EXCLUDED.{', EXCLUDED.'.join(RECORD_COLUMNS[1:])}, ST_AsBinary(EXCLUDED.geom)) "
                "RETURNING (xmax = 0) AS inserted"
            ),
            {**{c: getattr(record, c) for c in RECORD_COLUMNS}, "wkb": record.geometry.wkb_hex},
        ).first()
        counts["unchanged" if row is None else "inserted" if row.inserted else "updated"] += 1
    return counts
