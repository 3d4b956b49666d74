"""Checking every row before anything is written: geometry, required fields, types, code lists,
duplicates; the rows that pass become database-ready records."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
import shapely

from geo import vocabulary as v
from geo.errors import InvalidParameter
from geo.importing.layers import Field, Layer
from geo.importing.mapping import Mapping
from geo.importing.report import Problem, Repair

_LIST_SEPARATORS = re.compile(r"[;,]")
_YEAR = re.compile(r"^\d{4}$")
_YEAR_FIRST = re.compile(r"^\d{4}/\d{2}/\d{2}")
_POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass
class ValidRows:
    """The rows that passed, as records in `columns` order, and what was wrong with the rest."""

    columns: list[str]
    records: list[tuple] = field(default_factory=list)
    geometry: list[str] = field(default_factory=list)  # hex EWKB, SRID 4326
    rows: list[int] = field(default_factory=list)
    # The record id of every row (None where it has none), valid or not.
    ids: list[str | None] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        """The ids present in the file: --replace-source keeps these records, even invalid ones."""
        return [i for i in self.ids if i is not None]

    def drop(self, bad_rows: set[int]) -> None:
        """Leave out rows found bad after validation (by position)."""
        keep = [k for k, row in enumerate(self.rows) if row not in bad_rows]
        self.records = [self.records[k] for k in keep]
        self.geometry = [self.geometry[k] for k in keep]
        self.rows = [self.rows[k] for k in keep]

    @property
    def rejected_rows(self) -> set[int]:
        return {p.row for p in self.problems if p.row is not None}


class _Bad(ValueError):
    """A cell that cannot become a value of its field; the message is the report's reason."""


def _blank(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if value is pd.NaT or (isinstance(value, str) and not value.strip()):
        return True
    return False


def _text(value, spec: Field):
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))  # an id read as a number: 1234.0 is "1234"
    if spec.max_length and len(text) > spec.max_length:
        raise _Bad(f"{len(text)} characters, at most {spec.max_length} allowed")
    if spec.allowed is not None:
        return _code(text, spec)
    return text


def _code(text: str, spec: Field) -> str:
    if text in spec.allowed:
        return text
    by_fold = {v.fold(a): a for a in spec.allowed}
    if v.fold(text) in by_fold:  # only case or accents differ
        return by_fold[v.fold(text)]
    hint = v.suggest(text, spec.allowed)
    raise _Bad(f"unknown value {text!r}" + (f"; did you mean {hint!r}?" if hint else "")
               + f" (allowed: {', '.join(spec.allowed)})")


def _number(value, spec: Field) -> float:
    try:
        number = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
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
        raise _Bad(f"not a date: {value!r} (allowed: YYYY-MM-DD, YYYY/MM/DD or a year YYYY)") from None


def _items(value) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(x).strip() for x in value if not _blank(x)]
    return [x.strip() for x in _LIST_SEPARATORS.split(str(value)) if x.strip()]


def _list(value, spec: Field) -> list[str]:
    items = _items(value)
    if spec.name == "commodities":
        codes = []
        for item in items:
            code = v.commodity_code(item)
            if code is None:
                hint = v.suggest_commodity(item)
                raise _Bad(f"unknown commodity {item!r}" + (f"; did you mean {hint!r}?" if hint else "")
                           + " (allowed: INSPIRE commodity names or chemical symbols)")
            codes.append(code)
        return codes
    return [_code(item, spec) for item in items]


_CONVERT: dict[str, Callable] = {"text": _text, "number": _number, "integer": _integer,
                                 "date": _date, "list": _list}


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


def _geometry_checks(layer: Layer, geometry: np.ndarray, repair: bool, ids: list, validated: ValidRows) -> np.ndarray:
    """Promote polygons to multipolygons, repair if asked, and report each bad geometry."""
    missing = shapely.is_missing(geometry)
    out = geometry.copy()
    bad = set()
    for i in map(int, np.flatnonzero(missing)):
        validated.problems.append(Problem(i + 1, ids[i], "geometry", "no geometry (null)"))
        bad.add(i)
    present = np.flatnonzero(~missing).astype(int)
    if shapely.has_z(geometry[present]).any():
        out[present] = shapely.force_2d(geometry[present])
    empty = shapely.is_empty(out[present])
    for i in map(int, present[empty]):
        validated.problems.append(Problem(i + 1, ids[i], "geometry", "empty geometry"))
        bad.add(i)
    check = present[~empty]
    valid = shapely.is_valid(out[check])
    for i in map(int, check[~valid]):
        reason = shapely.is_valid_reason(out[i])
        if not repair:
            validated.problems.append(Problem(i + 1, ids[i], "geometry",
                                              f"invalid geometry: {reason} (--repair makes it valid)"))
            bad.add(i)
            continue
        fixed, action = _repaired(out[i])
        out[i] = fixed
        validated.repairs.append(Repair(i + 1, ids[i], reason, action))
    for i in map(int, check):
        if i in bad:
            continue
        name = out[i].geom_type
        if name == "Polygon" and "MultiPolygon" in layer.geometry_types:
            out[i] = shapely.MultiPolygon([out[i]])
        elif name == "MultiPoint" and "Point" in layer.geometry_types and len(out[i].geoms) == 1:
            out[i] = out[i].geoms[0]
        elif name not in layer.geometry_types:
            allowed = ", ".join(layer.geometry_types + (("Polygon",) if "MultiPolygon" in layer.geometry_types else ()))
            validated.problems.append(Problem(i + 1, ids[i], "geometry",
                                              f"a {name} cannot be a {layer.name} geometry (allowed: {allowed})"))
            bad.add(i)
    return out


def _repaired(geom) -> tuple[object, str]:
    """make_valid, keeping the polygonal parts: the repaired shape and what changed."""
    fixed = shapely.make_valid(geom)
    parts = shapely.get_parts(fixed)
    polygons = [p for part in parts for p in (shapely.get_parts(part) if part.geom_type == "MultiPolygon" else [part])
                if p.geom_type == "Polygon"]
    dropped = len(parts) - sum(1 for p in parts if p.geom_type in _POLYGONAL)
    result = shapely.MultiPolygon(polygons) if polygons else fixed
    before, after = geom.area, result.area
    change = f"area {100 * (after - before) / before:+.4f}%" if before else "area from 0"
    action = f"make_valid → {result.geom_type} of {len(polygons)} part(s), {change}"
    if dropped:
        action += f"; dropped {dropped} line/point part(s) without area"
    return result, action


def validate(layer: Layer, mapping: Mapping, columns: pd.DataFrame, geometry: np.ndarray,
             geometry_columns: tuple[str, ...], repair: bool,
             progress: Callable[[int], None] = lambda n: None) -> ValidRows:
    """Every row checked; valid rows converted, invalid rows reported with field and reason."""
    mapping.check_against(layer)
    sources = mapping.columns_for(layer, list(columns.columns))
    for name, cols in sources.items():
        for col in cols:
            if col not in columns.columns:
                raise InvalidParameter(f"mapping [fields] {name}", f"no column {col!r} in the file",
                                       list(columns.columns))
    supplied = set(sources) | set(mapping.constants)
    missing = [f.name for f in layer.fields.values() if f.required and f.name not in supplied]
    if missing:
        raise InvalidParameter(
            "mapping", f"required field(s) {', '.join(missing)} of {layer.name} come from no column "
            f"(file columns: {', '.join(map(str, columns.columns))})",
            "a [fields] entry naming a column, or a [constants] value")
    written = [f for f in layer.fields if f in supplied]
    derived = []
    if "commodities" in written and "commodity_importance" not in supplied and layer.name == "deposits":
        derived.append("commodity_importance")
    if layer.name == "admin_areas":
        derived.append("name_folded")
    validated = ValidRows(columns=written + derived)
    used = {c for cols in sources.values() for c in cols} | set(geometry_columns)
    validated.ignored_columns = [str(c) for c in columns.columns if c not in used]

    key_field = layer.record_id
    cells = {name: [columns[c].to_numpy(dtype=object) for c in cols] for name, cols in sources.items()}
    n = len(columns)
    ids = [None] * n
    if key_field in cells:
        ids = [None if _blank(x) else _text(x, Field(key_field, "text", True)) for x in cells[key_field][0]]
    elif key_field in mapping.constants:
        ids = [str(mapping.constants[key_field])] * n
    validated.ids = ids

    geometry = _geometry_checks(layer, geometry, repair, ids, validated)
    bad_rows = validated.rejected_rows
    first_row: dict[str, int] = {}
    valid_geometry = []
    for i in range(n):
        row, problems, record = i + 1, [], {}
        for name in written:
            spec = layer.fields[name]
            raw = [mapping.constants[name]] if name in mapping.constants else [c[i] for c in cells[name]]
            table = mapping.values.get(name)
            if table is not None and not _blank(raw[0]) and name not in mapping.constants:
                key = str(raw[0]).strip()
                if key not in table:
                    problems.append(Problem(row, ids[i], name, f"value {key!r} is not in the mapping's "
                                            f"[values.{name}] table (allowed: {', '.join(table)})"))
                    continue
                raw = [table[key] or None]
            try:
                if name == "commodities" and layer.name == "deposits":
                    record["commodities"], importance = _commodities(raw, spec)
                    if "commodity_importance" in derived:
                        record["commodity_importance"] = importance
                    value = record["commodities"]
                    if not value and spec.required:
                        raise _Bad("required field is empty")
                    continue
                value = None if _blank(raw[0]) else _CONVERT[spec.kind](raw[0], spec)
            except _Bad as exc:
                problems.append(Problem(row, ids[i], name, str(exc)))
                continue
            if value is None and spec.required:
                problems.append(Problem(row, ids[i], name, "required field is empty"))
            record[name] = value if spec.kind != "list" or value is not None else []
        problems += _rules(layer, record, row, ids[i])
        if ids[i] is not None:
            if ids[i] in first_row:
                problems.append(Problem(row, ids[i], key_field,
                                        f"duplicate id: row {first_row[ids[i]]} has the same {key_field}"))
            else:
                first_row[ids[i]] = row
        validated.problems += problems
        if (i + 1) % 10_000 == 0:
            progress(10_000)
        if problems or row in bad_rows:
            continue
        if "name_folded" in derived:
            record["name_folded"] = v.fold(record["name"])
        validated.records.append(tuple(record.get(c) for c in validated.columns))
        validated.rows.append(row)
        valid_geometry.append(geometry[i])
    progress(n % 10_000)
    validated.problems.sort(key=lambda p: (p.row or 0))
    if valid_geometry:
        validated.geometry = shapely.to_wkb(shapely.set_srid(np.array(valid_geometry, dtype=object), 4326),
                                            hex=True, include_srid=True).tolist()
    return validated


def _rules(layer: Layer, record: dict, row: int, source_id: str | None) -> list[Problem]:
    """The table's cross-field CHECKs, answered per row instead of failing the whole write."""
    problems = []
    top, bottom = record.get("depth_top_m"), record.get("depth_bottom_m")
    if top is not None and top < 0:
        problems.append(Problem(row, source_id, "depth_top_m", f"{top} is above the surface (allowed: ≥ 0 m)"))
    if bottom is not None and bottom <= (top or 0):
        problems.append(Problem(row, source_id, "depth_bottom_m",
                                f"bottom {bottom} m is not below the top {top or 0} m"))
    for start, end in (("applied_on", "granted_on"), ("valid_from", "valid_to")):
        if record.get(start) and record.get(end) and record[end] < record[start]:
            problems.append(Problem(row, source_id, end, f"{record[end]} is before {start} {record[start]}"))
    codes, importance = record.get("commodities"), record.get("commodity_importance")
    if codes is not None and importance is not None and len(codes) != len(importance):
        problems.append(Problem(row, source_id, "commodity_importance",
                                f"{len(importance)} importances for {len(codes)} commodities"))
    return problems
