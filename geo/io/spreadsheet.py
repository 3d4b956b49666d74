"""CSV cells made safe for spreadsheets: text starting like a formula is quoted with an apostrophe.

Excel, LibreOffice and Google Sheets run a cell beginning with = + - @ (or a tab or carriage
return, which they strip first) as a formula, so a deposit named `=HYPERLINK(…)` would become
a live link in the recipient's sheet (OWASP "CSV injection"). The leading apostrophe is what
those programs themselves use to mark a cell as text. Numbers are not text and stay as they are.
Every CSV Veta writes goes through here.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_PATTERN = "^[=+\\-@\t\r]"


def safe_cell(value: object) -> object:
    """A value for a CSV cell: text that would start a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values) -> list:
    return [safe_cell(v) for v in values]


def safe_column(column: pa.Array) -> pa.Array:
    """The same for a whole Arrow column (for files GDAL writes); other types pass through."""
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        return column
    formula = pc.fill_null(pc.match_substring_regex(column, _FORMULA_PATTERN), False)
    return pc.if_else(formula, pc.binary_join_element_wise("'", column, ""), column)
