"""Bound parameters for hand-built SQL: values travel separately, never pasted into the text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Params:
    """Collects bound values and hands out asyncpg-style $n placeholders."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


@dataclass(frozen=True)
class SqlQuery:
    """A statement and its bound values, ready for the driver."""

    text: str
    values: tuple
    # The change-tracked tables whose rows the statement reads: a count over them is remembered
    # until one of them changes (geo/store/counts.py). Empty: never remembered.
    tables: tuple[str, ...] = ()


def quoted_list(values) -> str:
    """SQL string literals of code-list constants, comma-separated ('a', 'b'). Never for user
    input: that travels as Params."""
    return ", ".join("'" + x.replace("'", "''") + "'" for x in values)


def text_array(values) -> str:
    """A SQL text[] literal of code-list constants (never of user input)."""
    return f"ARRAY[{quoted_list(values)}]::text[]"
