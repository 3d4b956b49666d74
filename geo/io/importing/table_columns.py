"""The importable tables' columns as geo.store.models defines them, and the data file that says
them (geo/io/importing/columns.json) written from the models, so that an import reads them
without loading the ORM models and GeoAlchemy2 (~0.3 s of every import's start).

Run `python -m geo.io.importing.table_columns` after changing a model of an importable table;
tests/test_import_columns.py fails while the file differs from what this module writes."""

from __future__ import annotations

import json

from sqlalchemy import ARRAY, Date, Float, Integer, String

from geo.io.importing.columns import FILE, Column

TABLES = ("deposits", "permits", "protection_zones", "admin_areas")


def _kind(column) -> str:
    if isinstance(column.type, ARRAY):
        return "list"
    if isinstance(column.type, Date):
        return "date"
    if isinstance(column.type, Float):
        return "number"
    if isinstance(column.type, Integer):
        return "integer"
    return "text"


def model_columns() -> dict[str, tuple[Column, ...]]:
    """Each importable table's columns, in the models' order, read from the models."""
    from geo.store.models import Base

    tables = Base.metadata.tables
    return {
        name: tuple(
            Column(
                c.name,
                _kind(c),
                bool(c.nullable),
                c.server_default is not None,
                c.type.length if isinstance(c.type, String) else None,
            )
            for c in tables[name].columns
        )
        for name in TABLES
    }


def file_text() -> str:
    """The text of columns.json for the models as they are: the names of Column's fields, then
    each table's columns, one to a line so that a change to a model reads as a one-line diff."""
    tables = ",\n".join(
        f"    {json.dumps(name)}: [\n"
        + ",\n".join(f"      {json.dumps(list(c))}" for c in columns)
        + "\n    ]"
        for name, columns in model_columns().items()
    )
    fields = json.dumps(list(Column._fields))
    return f'{{\n  "fields": {fields},\n  "tables": {{\n{tables}\n  }}\n}}\n'


if __name__ == "__main__":
    FILE.write_text(file_text(), encoding="utf-8")
