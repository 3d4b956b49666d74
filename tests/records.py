"""Records the access tests put in place: one deposit at a point, public or an organisation's
confidential prospect, written as the tables' owner (row-level security does not apply)."""

from __future__ import annotations

from sqlalchemy import text

_INSERT_DEPOSIT = text(
    "INSERT INTO deposits (name, occurrence_type, commodities, commodity_importance, "
    "location_precision, geom, source, source_id, confidential, owner_org) VALUES "
    "(:name, 'prospect', ARRAY[CAST(:commodity AS text)], '{main}', 'exact', "
    "ST_SetSRID(ST_MakePoint(:x, :y), 4326), :source, :source_id, :confidential, :owner) "
    "RETURNING id"
)


def insert_deposit(
    conn,
    name: str,
    at: tuple[float, float],
    source: str,
    source_id: str,
    owner: int | None,
    commodity: str = "lithium",
) -> int:
    """A prospect of one commodity at `at` (lon, lat): confidential to `owner`, public when
    None. Its id."""
    return conn.execute(
        _INSERT_DEPOSIT,
        {
            "name": name,
            "commodity": commodity,
            "x": at[0],
            "y": at[1],
            "source": source,
            "source_id": source_id,
            "confidential": owner is not None,
            "owner": owner,
        },
    ).scalar_one()
