"""Turning file cells into field values: text, numbers, dates, code lists and commodity lists,
each distinct cell converted once, every failure kept with its row and reason."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.core import commodities
from geo.core import vocabulary as v
from geo.io.importing.targets import Field

_LIST_SEPARATORS = re.compile(r"[;,]")
_YEAR = re.compile(r"^\d{4}$")
_YEAR_FIRST = re.compile(r"^\d{4}/\d{2}/\d{2}")


class _Bad(ValueError):
    """A cell that cannot become a value of its field; the message is the report's reason."""


def _blank(value) -> bool:
    """No value: None, NaN, NaT or only spaces."""
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def _text(value, spec: Field):
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))  # an id read as a number: 1234.0 is "1234"
    if spec.max_length and len(text) > spec.max_length:
        raise _Bad(f"{len(text)} characters, at most {spec.max_length} allowed")
    if spec.allowed is not None:
        return _code(text, spec.allowed)
    return text


def _code(text: str, allowed: tuple[str, ...]) -> str:
    if text in allowed:
        return text
    by_fold = {v.fold(a): a for a in allowed}
    if v.fold(text) in by_fold:  # only case or accents differ
        return by_fold[v.fold(text)]
    hint = v.suggest(text, allowed)
    raise _Bad(
        f"unknown value {text!r}"
        + (f"; did you mean {hint!r}?" if hint else "")
        + f" (allowed: {', '.join(allowed)})"
    )


def _number(value, spec: Field) -> float:
    try:
        number = (
            float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
        )
    except (TypeError, ValueError):
        raise _Bad(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise _Bad(f"not a finite number: {value!r}")
    return number


def _integer(value, spec: Field) -> int:
    number = _number(value, spec)
    if not number.is_integer():
        raise _Bad(f"not a whole number: {value!r}")
    return int(number)


def _date(value, spec: Field) -> date:
    if isinstance(value, datetime | pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if isinstance(value, int | float) and float(value).is_integer():
        text = str(int(value))
    if _YEAR.match(text):
        return date(int(text), 1, 1)
    if _YEAR_FIRST.match(text):  # GDAL writes dates as YYYY/MM/DD
        text = text[:10].replace("/", "-")
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise _Bad(
            f"not a date: {value!r} (allowed: YYYY-MM-DD, YYYY/MM/DD or a year YYYY)"
        ) from None


def _items(value) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(x).strip() for x in value if not _blank(x)]
    return [x.strip() for x in _LIST_SEPARATORS.split(str(value)) if x.strip()]


def _list(value, spec: Field) -> list[str]:
    items = _items(value)
    if not items and spec.required:
        raise _Bad("required field is empty")
    if spec.name != "commodities":
        assert spec.allowed is not None  # a list field other than commodities is a code list
        return [_code(item, spec.allowed) for item in items]
    codes = []
    for item in items:
        code = v.commodity_code(item)
        if code is None:
            hint = v.suggest_commodity(item)
            raise _Bad(
                f"unknown commodity {item!r}"
                + (f"; did you mean {hint!r}?" if hint else "")
                + " (allowed: a commodity's INSPIRE code, name in English or Spanish, symbol, "
                "formula or mineral; see /vocabularies/commodities)"
            )
        if code not in codes:  # 'W; tungsten' names one commodity
            codes.append(code)
    return codes


_CONVERT: dict[str, Callable] = {
    "text": _text,
    "number": _number,
    "integer": _integer,
    "date": _date,
    "list": _list,
}


def _commodities(cells: list, spec: Field) -> tuple[list[str], list[str]]:
    """Commodities from one or more columns; with several, column order gives the importance
    (main, by-product, trace) and a commodity named twice keeps its first importance."""
    codes, importance = [], []
    for level, cell in zip(v.COMMODITY_IMPORTANCE, cells, strict=False):
        if _blank(cell):
            continue
        for code in _list(cell, spec):
            if code not in codes:
                codes.append(code)
                importance.append(level)
    return codes, importance


def convert_column(
    spec: Field, raw: pd.Series, values: dict[str, str] | None
) -> tuple[list, dict[int, str]]:
    """One field for every row: the values, and the reason for each cell that failed. Each
    distinct cell is converted once (files repeat their code-list values a lot)."""
    if (
        spec.kind == "text"
        and spec.allowed is None
        and values is None
        and pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty")
    ):
        return _plain_text_column(spec, raw)
    if spec.kind == "number" and values is None:
        if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
            return _number_column(spec, raw, raw.to_numpy(dtype=float, na_value=np.nan))
        if pd.api.types.infer_dtype(raw, skipna=True) == "string":  # numbers as text (CSV)
            return _number_column(spec, raw, written_numbers(raw)[0])
    try:
        codes, converted, errors = _convert_distinct(spec, raw, values)
    except TypeError:  # list cells (GeoJSON arrays, Parquet lists) are not hashable
        converted, errors = _convert_cells(spec, raw, values)
        return converted.tolist(), errors
    return converted[codes].tolist(), errors


def _convert_distinct(
    spec: Field, raw: pd.Series, values: dict[str, str] | None
) -> tuple[np.ndarray, np.ndarray, dict[int, str]]:
    """Each distinct cell converted once: per row the index of its converted value (-1, the last,
    for a blank cell), the converted values, and the reason for each row that failed."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    converted = [convert_cell(spec, u, values) for u in uniques] + [
        convert_cell(spec, None, values)
    ]
    out = _objects(c[0] for c in converted)
    errors = {}
    failed = [k for k, c in enumerate(converted) if c[1]]
    if failed:
        codes_all = np.where(codes < 0, len(converted) - 1, codes)
        for i in np.flatnonzero(np.isin(codes_all, failed)):
            errors[int(i)] = converted[codes_all[i]][1]
    return codes, out, errors


def _convert_cells(
    spec: Field, raw: pd.Series, values: dict[str, str] | None
) -> tuple[np.ndarray, dict[int, str]]:
    """Cell by cell, for cells that cannot be compared (lists): the values and the failures."""
    converted = [convert_cell(spec, cell, values) for cell in raw]
    return _objects(c[0] for c in converted), {i: c[1] for i, c in enumerate(converted) if c[1]}


def _objects(items) -> np.ndarray:
    """A one-dimensional object array of the items, lists included (never a 2-D array)."""
    return np.fromiter(items, dtype=object)


def _number_column(spec: Field, raw: pd.Series, numbers: np.ndarray) -> tuple[list, dict[int, str]]:
    """A column of numbers read all at once: taken as they are, cell by cell only where one is
    not a finite number (a blank, or a cell to report)."""
    out = numbers.tolist()
    rest = np.flatnonzero(~np.isfinite(numbers))
    if not len(rest):
        return out, {}
    codes, converted, errors = _convert_distinct(spec, raw.iloc[rest], None)
    for i, value in zip(rest.tolist(), converted[codes].tolist(), strict=True):
        out[i] = value
    return out, {int(rest[k]): reason for k, reason in errors.items()}


def stripped_text(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cells as text without surrounding spaces (numpy's variable-width strings, stripped as
    str.strip does), and which are blank (missing, or only spaces)."""
    text = np.strings.strip(
        np.array(cells.to_numpy(dtype=object, na_value=""), dtype=np.dtypes.StringDType())
    )
    return text, cells.isna().to_numpy() | (text == "")


def written_numbers(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Numbers as written in files, a decimal comma accepted ('-5,57'): each cell's number (NaN
    where blank, not a number or not finite), and which cells are blank."""
    plain = _plain_numbers(cells)
    if plain is not None:
        return plain
    text, blank = stripped_text(cells)
    numbers = np.full(len(text), np.nan)
    written = np.strings.replace(text[~blank], ",", ".")
    try:
        numbers[~blank] = written.astype(np.float64)  # what float() makes of each, all at once
    except ValueError:  # some cell is not a number: each on its own
        numbers[~blank] = [_float_or_nan(t) for t in written]
    numbers[~np.isfinite(numbers)] = np.nan
    return numbers, blank


# Spaces Arrow may take off a cell: ASCII only, each one also a space to str.strip.
_ASCII_SPACES = " \t\n\r\v\f"


def _plain_numbers(cells: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """written_numbers through Arrow's parser (C++, several times faster than numpy's), when
    every cell is blank or a number Arrow reads after ASCII spaces: Arrow reads a subset of what
    float() does, to the same value. None when any cell is not, for float() to decide each."""
    try:
        text = pa.array(cells.to_numpy(dtype=object), pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # cells that are not all text
        return None
    text = pc.utf8_trim(text, characters=_ASCII_SPACES)
    blank = pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False)
    try:
        parsed = pc.cast(
            pc.replace_substring(text.filter(pa.array(~blank)), ",", "."), pa.float64()
        )
    except pa.ArrowInvalid:
        return None
    numbers = np.full(len(text), np.nan)
    numbers[~blank] = parsed.to_numpy(zero_copy_only=False)
    numbers[~np.isfinite(numbers)] = np.nan
    return numbers, blank


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return np.nan


def _plain_text_column(spec: Field, raw: pd.Series) -> tuple[list, dict[int, str]]:
    """Free text (names, ids, remarks) done by pandas: strip, blank is NULL, length limit."""
    text = raw.astype("string[pyarrow]").str.strip()
    blank = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
    errors = {}
    if spec.required:
        errors.update({int(i): "required field is empty" for i in np.flatnonzero(blank)})
    if spec.max_length:
        lengths = text.str.len().to_numpy(dtype=float, na_value=0)
        for i in np.flatnonzero(lengths > spec.max_length):
            errors[int(i)] = f"{int(lengths[i])} characters, at most {spec.max_length} allowed"
    out = text.to_numpy(dtype=object, na_value=None)
    out[blank] = None
    return out.tolist(), errors


def convert_cell(spec: Field, cell, values: dict[str, str] | None) -> tuple[object, str | None]:
    if _blank(cell):
        return None, ("required field is empty" if spec.required else None)
    if values is not None:
        key = str(cell).strip()
        if key not in values:
            return None, (
                f"value {key!r} is not in the mapping's [values.{spec.name}] table "
                f"(allowed: {', '.join(values)})"
            )
        cell = values[key] or None
        if cell is None:
            return None, ("required field is empty" if spec.required else None)
    try:
        return _CONVERT[spec.kind](cell, spec), None
    except _Bad as exc:
        return None, str(exc)


def commodity_column(spec: Field, cells: list[pd.Series]) -> tuple[list, list, dict[int, str]]:
    """Deposit commodities from one or more columns, with their importance by column."""
    if len(cells) == 1:
        listed = Field(spec.name, "list", spec.required, allowed=spec.allowed)
        raw = cells[0]
        try:
            codes, converted, errors = _convert_distinct(listed, raw, None)
        except TypeError:  # list cells: each row on its own
            codes, (converted, errors) = np.arange(len(raw)), _convert_cells(listed, raw, None)
        # The first commodity is the main one, the rest by-products.
        importance = _objects(
            None
            if c is None
            else [v.COMMODITY_IMPORTANCE[0]] + [v.COMMODITY_IMPORTANCE[1]] * (len(c) - 1)
            for c in converted
        )
        return converted[codes].tolist(), importance[codes].tolist(), errors
    by_row: list = []
    importance_by_row: list = []
    problems: dict[int, str] = {}
    seen: dict[tuple, tuple] = {}
    for i, row in enumerate(zip(*cells, strict=True)):
        key = tuple(str(c) if isinstance(c, list | np.ndarray) else c for c in row)
        if key not in seen:
            try:
                found = _commodities(list(row), spec)
                seen[key] = (*found, "required field is empty" if not found[0] else None)
            except _Bad as exc:
                seen[key] = (None, None, str(exc))
        c, imp, error = seen[key]
        by_row.append(c)
        importance_by_row.append(imp)
        if error:
            problems[i] = error
    return by_row, importance_by_row, problems


def commodity_notes(cells: list[pd.Series]) -> list[str]:
    """One report note per distinct commodity value that was read as something other than
    its code ('% Cu' -> 'copper' (grade)), so that every normalisation is said."""
    items: dict[str, None] = {}
    for series in cells:
        try:
            distinct = pd.unique(series)
        except TypeError:  # list cells are not hashable
            distinct = series
        for cell in distinct:
            if not _blank(cell):
                items.update(dict.fromkeys(_items(cell)))
    return list(commodities.notes_for(tuple(items)))
