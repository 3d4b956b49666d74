"""The importable tables' columns as geo.store.models defines them, and the module that says
them as plain data (geo/io/importing/columns.py) written from the models, so that an import
reads them without loading the ORM models and GeoAlchemy2 (~0.3 s of every import's start).

Run `python -m geo.io.importing.table_columns` (then `ruff format`) after changing a model of an
importable table; tests/test_import_columns.py fails while the module's data differ from the
models'."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import ARRAY, Date, Float, Integer, String

from geo.io.importing.columns import Column

TABLES = ("deposits", "permits", "protection_zones", "admin_areas")
MODULE = Path(__file__).with_name("columns.py")


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


def module_text() -> str:
    """The text of columns.py for the models as they are: its head (the Column type) kept,
    its COLUMNS written again."""
    written = MODULE.read_text(encoding="utf-8")
    head = written[: written.index("COLUMNS: dict")]
    tables = "".join(
        f"    {name!r}: (\n"
        + "".join(f"        Column{tuple(c)!r},\n" for c in columns)
        + "    ),\n"
        for name, columns in model_columns().items()
    )
    return head + "COLUMNS: dict[str, tuple[Column, ...]] = {\n" + tables + "}\n"


if __name__ == "__main__":
    MODULE.write_text(module_text(), encoding="utf-8")
