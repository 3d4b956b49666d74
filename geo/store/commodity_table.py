"""The database's copy of the commodity vocabulary (geo.core.commodities), kept in step by
migrations and `veta db upgrade`."""

from __future__ import annotations

from sqlalchemy import text

from geo.core.commodities import COMMODITIES, RENAMED
from geo.store.models import COMMODITY_COLUMNS


def sync_commodities(
    connection, holders: tuple[tuple[str, str, bool], ...] = COMMODITY_COLUMNS
) -> None:
    """Make the database's `commodities` table this vocabulary: every commodity inserted or
    updated, and each renamed code moved to its new name in the rows that hold it (only those
    rows change) before the old code goes. `holders`: the (table, column, is a list) holding
    codes, for a migration that must see the tables of its own revision."""
    columns = (
        "code",
        "name",
        "name_es",
        "symbol",
        "broader",
        "critical",
        "strategic",
        "cgi_id",
        "hierarchy_key",
    )
    connection.execute(
        text(
            f"INSERT INTO commodities ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)}) ON CONFLICT (code) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        ),
        [
            {c: list(getattr(x, c)) if c == "broader" else getattr(x, c) for c in columns}
            for x in COMMODITIES
        ],
    )
    for old, new in RENAMED.items():
        for table, column, is_list in holders:
            holds = f"{column} @> ARRAY[CAST(:old AS text)]" if is_list else f"{column} = :old"
            # Only when some row holds the old code: an UPDATE of no rows still fires the
            # table's change trigger, which would make every running server forget its
            # remembered counts and tiles on each `veta db upgrade`.
            if not connection.execute(
                text(f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {holds})"), {"old": old}
            ).scalar():
                continue
            value = f"array_replace({column}, :old, :new)" if is_list else ":new"
            connection.execute(
                text(f"UPDATE {table} SET {column} = {value} WHERE {holds}"),
                {"old": old, "new": new},
            )
    connection.execute(
        text("DELETE FROM commodities WHERE code = ANY(:old)"), {"old": list(RENAMED)}
    )
