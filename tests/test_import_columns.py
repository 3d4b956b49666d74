"""The import's description of its target tables (geo/io/importing/columns.py, written from the
models so that an import does not load them) is the models'."""

from __future__ import annotations

import subprocess
import sys

from geo.io.importing.columns import COLUMNS
from geo.io.importing.table_columns import TABLES, model_columns
from geo.io.importing.targets import LAYERS


def test_the_written_columns_are_the_models_columns():
    # Any change to a model of an importable table (a column, its type, length, nullability
    # or default) must be written out again with `python -m geo.io.importing.table_columns`.
    assert COLUMNS == model_columns()


def test_every_importable_layer_is_described():
    assert set(COLUMNS) == set(TABLES) == set(LAYERS)


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
