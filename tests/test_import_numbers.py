"""Numbers written as text (CSV coordinates, depths): Arrow's fast parser and float() agree,
cell by cell, whatever the column holds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from geo.io.importing.cells import written_numbers


def by_float(cell) -> tuple[float, bool]:
    """What one cell means, read the slow way: str.strip, a decimal comma, float()."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or not str(cell).strip():
        return math.nan, True
    try:
        number = float(str(cell).strip().replace(",", "."))
    except ValueError:
        return math.nan, False
    return (number if math.isfinite(number) else math.nan), False


PLAIN = ["4770409.12", " -5,57 ", "+1.5", ".5", "1e5", "00012", "", None, "  ", "-0", "inf", "nan"]
# Cells only float() reads (underscores, Arabic digits, a no-break space), or nobody does.
ODD = ["1_000", "١٢", "\u00a01.5", "1.5e", "x", "1,000.5"]


@pytest.mark.parametrize(
    "cells",
    [PLAIN, PLAIN + ODD[:1], PLAIN + ODD[1:2], PLAIN + ODD[2:3], PLAIN + ODD[3:], ODD],
    ids=["plain", "underscore", "arabic digits", "no-break space", "not numbers", "odd only"],
)
def test_numbers_written_as_text_are_read_as_float_reads_them(cells):
    rng = np.random.default_rng(5)
    column = cells + [f"{x:.6f}" for x in rng.uniform(-1e6, 1e6, 1_000)]
    numbers, blank = written_numbers(pd.Series(column, dtype=object))
    expected = [by_float(c) for c in column]
    assert blank.tolist() == [b for _, b in expected]
    np.testing.assert_array_equal(numbers, np.array([n for n, _ in expected]))
