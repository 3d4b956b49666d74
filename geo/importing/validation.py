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
    """The rows that passed, column by column, and what was wrong with the rest."""

    columns: list[str]
    # Column name -> the valid rows' values, in row order.
    values: dict[str, list] = field(default_factory=dict)
    geometry: list[str] = field(default_factory=list)  # hex WKB, lon/lat
    rows: list[int] = field(default_factory=list)
    # The record id of every row (None where it has none), valid or not.
    ids: list[str | None] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        """The ids present in the file: --replace-source keeps these records, even invalid ones."""
        return [i for i in self.ids if i is not None]

    def drop(self, bad_rows: set[int]) -> None:
        """Leave out rows found bad after validation (by position)."""
        keep = [k for k, row in enumerate(self.rows) if row not in bad_rows]
        self.values = {name: [column[k] for k in keep] for name, column in self.values.items()}
        self.geometry = [self.geometry[k] for k in keep]
        self.rows = [self.rows[k] for k in keep]


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
    if not items and spec.required:
        raise _Bad("required field is empty")
    if spec.name != "commodities":
        return [_code(item, spec) for item in items]
    codes = []
    for item in items:
        code = v.commodity_code(item)
        if code is None:
            hint = v.suggest_commodity(item)
            raise _Bad(f"unknown commodity {item!r}" + (f"; did you mean {hint!r}?" if hint else "")
                       + " (allowed: INSPIRE commodity names or chemical symbols)")
        if code not in codes:  # 'W; tungsten' names one commodity
            codes.append(code)
    return codes


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
    for i in map(int, np.flatnonzero(missing)):
        validated.problems.append(Problem(i + 1, ids[i], "geometry", "no geometry (null)"))
    present = np.flatnonzero(~missing)
    if shapely.has_z(out[present]).any():
        out[present] = shapely.force_2d(out[present])
        validated.notes.append("Z coordinates dropped: Veta stores 2D geometries (depths are fields)")
    empty = shapely.is_empty(out[present])
    for i in map(int, present[empty]):
        validated.problems.append(Problem(i + 1, ids[i], "geometry", "empty geometry"))
    check = present[~empty]
    invalid = check[~shapely.is_valid(out[check])]
    for i in map(int, invalid):
        reason = shapely.is_valid_reason(out[i])
        if repair:
            out[i], action = _repaired(out[i])
            validated.repairs.append(Repair(i + 1, ids[i], reason, action))
        else:
            validated.problems.append(Problem(i + 1, ids[i], "geometry",
                                              f"invalid geometry: {reason} (--repair makes it valid)"))
    if len(invalid) and not repair:
        check = np.setdiff1d(check, invalid)
    kinds = shapely.get_type_id(out[check])
    if "MultiPolygon" in layer.geometry_types:
        polygons = check[kinds == shapely.GeometryType.POLYGON]
        out[polygons] = shapely.multipolygons(out[polygons], indices=np.arange(len(polygons)))
        kinds[kinds == shapely.GeometryType.POLYGON] = shapely.GeometryType.MULTIPOLYGON
    # One ring orientation (exterior counter-clockwise, as RFC 7946) whatever the file used:
    # Shapefiles store the other one, and a re-import must not look like a change.
    polygonal = check[kinds == shapely.GeometryType.MULTIPOLYGON]
    out[polygonal] = shapely.orient_polygons(out[polygonal], exterior_cw=False)
    allowed = {getattr(shapely.GeometryType, t.upper()) for t in layer.geometry_types}
    names = ", ".join(layer.geometry_types + (("Polygon",) if "MultiPolygon" in layer.geometry_types else ()))
    for i in map(int, check[~np.isin(kinds, list(allowed))]):
        validated.problems.append(Problem(i + 1, ids[i], "geometry",
                                          f"a {out[i].geom_type} cannot be a {layer.name} geometry (allowed: {names})"))
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


def _mapped_fields(layer: Layer, mapping: Mapping, columns: pd.DataFrame) -> dict[str, list[str]]:
    """Veta field -> file columns, refusing a mapping that names a missing column or leaves a
    required field without a column or constant."""
    mapping.check_against(layer)
    sources = mapping.columns_for(layer, list(columns.columns))
    for name, cols in sources.items():
        for col in cols:
            if col not in columns.columns:
                hint = v.suggest(col, [str(c) for c in columns.columns])
                raise InvalidParameter(f"mapping [fields] {name}", f"no column {col!r} in the file"
                                       + (f"; did you mean {hint!r}?" if hint else ""), list(columns.columns))
    supplied = set(sources) | set(mapping.constants)
    missing = [f.name for f in layer.fields.values() if f.required and f.name not in supplied]
    if missing:
        raise InvalidParameter(
            "mapping", f"required field(s) {', '.join(missing)} of {layer.name} come from no column "
            f"(file columns: {', '.join(map(str, columns.columns))})",
            "a [fields] entry naming a column, or a [constants] value")
    return sources


def _convert_column(spec: Field, raw: pd.Series, values: dict[str, str] | None) -> tuple[list, dict[int, str]]:
    """One field for every row: the values, and the reason for each cell that failed. Each
    distinct cell is converted once (files repeat their code-list values a lot)."""
    if spec.kind == "text" and spec.allowed is None and values is None and \
            pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        return _plain_text_column(spec, raw)
    try:
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    except TypeError:  # list cells (GeoJSON arrays, Parquet lists) are not hashable
        converted = [_convert_cell(spec, cell, values) for cell in raw]
        return [c[0] for c in converted], {i: c[1] for i, c in enumerate(converted) if c[1]}
    converted = [_convert_cell(spec, u, values) for u in uniques] + [_convert_cell(spec, None, values)]
    out = np.empty(len(converted), dtype=object)
    out[:] = [c[0] for c in converted]
    errors = {}
    failed = [k for k, c in enumerate(converted) if c[1]]
    if failed:
        codes_all = np.where(codes < 0, len(converted) - 1, codes)
        for i in np.flatnonzero(np.isin(codes_all, failed)):
            errors[int(i)] = converted[codes_all[i]][1]
    return out[codes].tolist(), errors


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


def _convert_cell(spec: Field, cell, values: dict[str, str] | None) -> tuple[object, str | None]:
    if _blank(cell):
        return None, ("required field is empty" if spec.required else None)
    if values is not None:
        key = str(cell).strip()
        if key not in values:
            return None, (f"value {key!r} is not in the mapping's [values.{spec.name}] table "
                          f"(allowed: {', '.join(values)})")
        cell = values[key] or None
        if cell is None:
            return None, ("required field is empty" if spec.required else None)
    try:
        return _CONVERT[spec.kind](cell, spec), None
    except _Bad as exc:
        return None, str(exc)


def _commodity_column(spec: Field, cells: list[list]) -> tuple[list, list, dict[int, str]]:
    """Deposit commodities from one or more columns, with their importance by column."""
    if len(cells) == 1:
        listed = Field(spec.name, "list", spec.required, allowed=spec.allowed)
        codes, errors = _convert_column(listed, pd.Series(cells[0], dtype=object), None)
        # The first commodity is the main one, the rest by-products (one list per length).
        by_length = {k: [v.COMMODITY_IMPORTANCE[0]] + [v.COMMODITY_IMPORTANCE[1]] * (k - 1)
                     for k in {len(c) for c in codes if c is not None}}
        return codes, [None if c is None else by_length[len(c)] for c in codes], errors
    codes, importance, errors, seen = [], [], {}, {}
    for i, row in enumerate(zip(*cells, strict=True)):
        key = tuple(str(c) if isinstance(c, list | np.ndarray) else c for c in row)
        if key not in seen:
            try:
                found = _commodities(list(row), spec)
                seen[key] = (*found, "required field is empty" if not found[0] else None)
            except _Bad as exc:
                seen[key] = (None, None, str(exc))
        c, imp, error = seen[key]
        codes.append(c)
        importance.append(imp)
        if error:
            errors[i] = error
    return codes, importance, errors


def validate(layer: Layer, mapping: Mapping, columns: pd.DataFrame, geometry: np.ndarray,
             geometry_columns: tuple[str, ...], repair: bool,
             progress: Callable[[int], None] = lambda n: None) -> ValidRows:
    """Every row checked; valid rows converted, invalid rows reported with field and reason."""
    sources = _mapped_fields(layer, mapping, columns)
    n = len(columns)
    written = [f for f in layer.fields if f in sources or f in mapping.constants]
    values: dict[str, list] = {}
    errors: dict[str, dict[int, str]] = {}
    for name in written:
        spec = layer.fields[name]
        if name in mapping.constants:
            value, error = _convert_cell(spec, mapping.constants[name], None)
            if error:
                raise InvalidParameter(f"mapping [constants] {name}", error)
            values[name] = [value] * n
        elif name == "commodities" and layer.name == "deposits":
            cells = [columns[c].tolist() for c in sources[name]]
            values[name], importance, errors[name] = _commodity_column(spec, cells)
            if "commodity_importance" not in sources and "commodity_importance" not in mapping.constants:
                values["commodity_importance"] = importance
        else:
            values[name], errors[name] = _convert_column(spec, columns[sources[name][0]],
                                                         mapping.values.get(name))
        progress(n // (len(written) + 1))
    if layer.name == "admin_areas":
        values["name_folded"] = [None if x is None else v.fold(x) for x in values["name"]]
    for name in layer.fields:  # lists the database requires even when empty
        if name in values and layer.fields[name].kind == "list" and not layer.fields[name].required:
            values[name] = [[] if x is None else x for x in values[name]]

    validated = ValidRows(columns=list(values))
    used = {c for cols in sources.values() for c in cols} | set(geometry_columns)
    validated.ignored_columns = [str(c) for c in columns.columns if c not in used]
    key_field = layer.record_id
    ids = [None if x is None else str(x) for x in values[key_field]]
    validated.ids = ids

    for name, by_row in errors.items():
        validated.problems += [Problem(i + 1, ids[i], name, reason) for i, reason in by_row.items()]
    first_row: dict[str, int] = {}
    for i, key in enumerate(ids):
        if key is None:
            continue
        if key in first_row:
            validated.problems.append(Problem(i + 1, key, key_field,
                                              f"duplicate id: row {first_row[key]} has the same {key_field}"))
        else:
            first_row[key] = i + 1
    validated.problems += _rules(values, ids)
    geometry = _geometry_checks(layer, geometry, repair, ids, validated)
    validated.problems.sort(key=lambda p: (p.row or 0))

    good = np.ones(n, dtype=bool)
    good[[p.row - 1 for p in validated.problems if p.row is not None]] = False
    keep = np.flatnonzero(good)
    validated.values = values if len(keep) == n else {
        name: [column[i] for i in keep] for name, column in values.items()}
    validated.rows = (keep + 1).tolist()
    if len(keep):
        validated.geometry = shapely.to_wkb(geometry[keep], hex=True).tolist()
    progress(n - (n // (len(written) + 1)) * len(written))
    return validated


def _rules(values: dict[str, list], ids: list) -> list[Problem]:
    """The table's cross-field CHECKs, answered per row instead of failing the whole write."""
    problems = []
    n = len(ids)
    if "depth_top_m" in values or "depth_bottom_m" in values:
        top = np.array(values.get("depth_top_m", [None] * n), dtype=float)  # None is NaN
        bottom = np.array(values.get("depth_bottom_m", [None] * n), dtype=float)
        for i in map(int, np.flatnonzero(top < 0)):
            problems.append(Problem(i + 1, ids[i], "depth_top_m", f"{top[i]} is above the surface (allowed: ≥ 0 m)"))
        for i in map(int, np.flatnonzero(bottom <= np.nan_to_num(top, nan=0.0))):
            problems.append(Problem(i + 1, ids[i], "depth_bottom_m",
                                    f"bottom {bottom[i]} m is not below the top {np.nan_to_num(top[i])} m"))
    for start, end in (("applied_on", "granted_on"), ("valid_from", "valid_to")):
        if start in values and end in values:
            for i, (a, b) in enumerate(zip(values[start], values[end], strict=True)):
                if a and b and b < a:
                    problems.append(Problem(i + 1, ids[i], end, f"{b} is before {start} {a}"))
    if "commodities" in values and "commodity_importance" in values:
        for i, (codes, importance) in enumerate(zip(values["commodities"], values["commodity_importance"], strict=True)):
            if codes is not None and importance is not None and len(codes) != len(importance):
                problems.append(Problem(i + 1, ids[i], "commodity_importance",
                                        f"{len(importance)} importances for {len(codes)} commodities"))
    return problems
