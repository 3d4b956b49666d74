"""The importable tables' columns as geo.store.models defines them, read from columns.json: data
written from the models by `python -m geo.io.importing.table_columns` (do not edit it: run that
after changing a model), so that an import does not load the ORM models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

FILE = Path(__file__).with_name("columns.json")


class Column(NamedTuple):
    """One column of a table: its name, the kind of value an import reads into it, whether it
    may be NULL, whether the database has a default for it, and its maximum length (text)."""

    name: str
    kind: str
    nullable: bool
    server_default: bool
    max_length: int | None


def read_columns(data: bytes) -> dict[str, tuple[Column, ...]]:
    """Each table's columns from the text of columns.json: its rows are Column's fields in order."""
    tables = json.loads(data)["tables"]
    return {name: tuple(Column(*row) for row in rows) for name, rows in tables.items()}


COLUMNS: dict[str, tuple[Column, ...]] = read_columns(FILE.read_bytes())
