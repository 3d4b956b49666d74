"""The import's description of its target tables (geo/io/importing/columns.json, written from the
models so that an import does not load them) is the models', and ships with the package."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from geo.io.importing.columns import COLUMNS, FILE, Column
from geo.io.importing.table_columns import TABLES, file_text, model_columns
from geo.io.importing.targets import LAYERS

ROOT = Path(__file__).resolve().parents[1]


def test_the_written_columns_are_the_models_columns():
    # Any change to a model of an importable table (a column, its type, length, nullability
    # or default) must be written out again with `python -m geo.io.importing.table_columns`.
    assert COLUMNS == model_columns()
    assert all(type(c) is Column for columns in COLUMNS.values() for c in columns)


def test_the_file_is_as_the_generator_writes_it():
    # Edited by hand or merged by git, the file would still load; written again it reads as one
    # line per column, so a model's change is a one-line diff.
    assert FILE.read_text(encoding="utf-8") == file_text()


def test_every_importable_layer_is_described():
    assert set(COLUMNS) == set(TABLES) == set(LAYERS)


def test_the_file_is_package_data():
    # An installed wheel must carry columns.json: setuptools takes the globs of package-data,
    # relative to the package's folder.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["geo"]
    shipped = {p for pattern in patterns for p in (ROOT / "geo").glob(pattern)}
    assert FILE in shipped


def test_reading_the_layers_does_not_load_the_models():
    # Measured by `python -X importtime`: the ORM models and GeoAlchemy2 cost ~0.3 s of start-up.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; import geo.io.importing.pipeline; "
            "print(sorted(m for m in sys.modules if m.startswith(('geo.store.models', 'geoalchemy2'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert loaded.strip() == "[]"
