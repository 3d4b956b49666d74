"""SQL made by code, and bound parameters: values travel separately, never pasted into the text.

`Sql` marks text that code wrote as SQL (a column, an expression, a clause). It is a `str` at
run time, but the type checker keeps the two apart: a function that takes `Sql` refuses a plain
`str`, so a string that came from a user can only reach the statement text by being bound
(`Params`), never by accident. Wrapping a literal or an f-string in `Sql(...)` is the claim
that every piece of it is code's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NewType

Sql = NewType("Sql", str)


class Params:
    """Collects bound values and hands out asyncpg-style $n placeholders."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> Sql:
        self.values.append(value)
        return Sql(f"${len(self.values)}")


@dataclass(frozen=True)
class SqlQuery:
    """A statement and its bound values, ready for the driver."""

    text: str
    values: tuple
    # The change-tracked tables whose rows the statement reads: a count over them is remembered
    # until one of them changes (geo/store/counts.py). Empty: never remembered.
    tables: tuple[str, ...] = ()


def joined(separator: str, parts: Iterable[str]) -> Sql:
    """SQL fragments joined by a separator (', ', ' AND '): still code's own SQL."""
    return Sql(separator.join(parts))


def quoted_list(values) -> Sql:
    """SQL string literals of code-list constants, comma-separated ('a', 'b'). Never for user
    input: that travels as Params."""
    return Sql(", ".join("'" + x.replace("'", "''") + "'" for x in values))


def text_array(values) -> Sql:
    """A SQL text[] literal of code-list constants (never of user input)."""
    return Sql(f"ARRAY[{quoted_list(values)}]::text[]")
