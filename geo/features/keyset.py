"""Keyset paging: the total order of a page's rows and the cursor a next or prev link resumes from.

Paging is by keyset (the sort keys, then the id), never OFFSET, so a deep page costs what the
first one does. A cursor is opaque to clients: base64 of the last (or first) row's keys as
text, the sort order they belong to, and the direction.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import orjson

from geo.core.errors import InvalidParameter
from geo.core.sql import Params, Sql, joined
from geo.features.collections import Collection

# What a malformed or foreign cursor is told to be instead.
CURSOR_ALLOWED = "the value of a next link (or prev link) of the same query"


@dataclass(frozen=True)
class SortKey:
    name: str
    descending: bool = False


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (or, for a prev link, before) the row with these keys, in the
    sort order `order` (a sortby value; '' for the default order by id)."""

    keys: tuple[str | None, ...]
    order: str = ""
    backwards: bool = False

    def encode(self) -> str:
        raw = orjson.dumps([list(self.keys), self.order, self.backwards])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, order: str, parameter: str = "cursor") -> Cursor:
        """The cursor of a next/prev link, which must belong to the same sort order."""
        try:
            keys, cursor_order, backwards = orjson.loads(
                base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            )
            valid = (
                isinstance(keys, list)
                and isinstance(backwards, bool)
                and isinstance(cursor_order, str)
                and all(k is None or isinstance(k, str) for k in keys)
            )
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
            valid = False
        if not valid:
            raise InvalidParameter(parameter, f"malformed cursor {text!r}", CURSOR_ALLOWED)
        if cursor_order != order:
            raise InvalidParameter(
                parameter,
                f"the cursor pages by sortby={cursor_order!r}, not {order!r}",
                CURSOR_ALLOWED,
            )
        return cls(tuple(keys), order, backwards)


def sort_order(sortby: tuple[SortKey, ...]) -> str:
    """The sort order as a sortby value, the part of a cursor that must not change."""
    return ",".join(("-" if k.descending else "") + k.name for k in sortby)


# (SQL expression, SQL type, descending) of one term of the total order.
Term = tuple[Sql, Sql, bool]


def order_terms(collection: Collection, sortby: tuple[SortKey, ...]) -> list[Term]:
    """The total order: sort keys with NULLs last, then the id."""
    terms: list[Term] = []
    for key in sortby:
        prop = collection.by_name[key.name]
        terms.append((Sql(f"({prop.sql} IS NULL)"), Sql("boolean"), False))
        terms.append((prop.expression, prop.sql_type, key.descending))
    terms.append((collection.id_sql, collection.id_sql_type, False))
    return terms


def order_by_sql(terms: list[Term], reverse: bool) -> Sql:
    return joined(
        ", ", (f"{expr} {'DESC' if desc != reverse else 'ASC'}" for expr, _, desc in terms)
    )


def keys_sql(terms: list[Term]) -> Sql:
    """A row's cursor keys: each sort key's value (its NULL flag follows from it) and the id."""
    return Sql(
        "ARRAY[" + ", ".join(f"({expr})::text" for expr, _, _ in terms[1::2] + terms[-1:]) + "]"
    )


def keyset_sql(cursor: Cursor, terms: list[Term], params: Params) -> Sql:
    """Rows strictly after (or before) the cursor in the total order."""
    values = []
    for key in cursor.keys[:-1]:
        values += [params("true" if key is None else "false"), params(key)]
    values.append(params(cursor.keys[-1]))
    alternatives = []
    for i, (expr, sql_type, descending) in enumerate(terms):
        equal = [
            f"{terms[j][0]} IS NOT DISTINCT FROM CAST({values[j]}::text AS {terms[j][1]})"
            for j in range(i)
        ]
        after = descending == cursor.backwards
        op = ">" if after else "<"
        equal.append(f"{expr} {op} CAST({values[i]}::text AS {sql_type})")
        alternatives.append("(" + " AND ".join(equal) + ")")
    return Sql("(" + " OR ".join(alternatives) + ")")
