"""Checking every row before anything is written: the mapping, each field, the table's rules,
duplicate ids and the geometry; the rows that pass become database-ready columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from geo.core import vocabulary as v
from geo.core.errors import InvalidParameter
from geo.io.importing.cells import commodity_column, commodity_notes, convert_cell, convert_column
from geo.io.importing.geometry import check_geometries
from geo.io.importing.mapping import Mapping
from geo.io.importing.points import Points, hex_wkb
from geo.io.importing.report import Problem, Repair
from geo.io.importing.targets import Layer


@dataclass
class ValidRows:
    """The rows that passed, column by column, and what was wrong with the rest."""

    columns: list[str]
    # Column name -> the valid rows' values, in row order.
    values: dict[str, list] = field(default_factory=dict)
    # Hex WKB, lon/lat, of the valid rows.
    geometry: pa.LargeStringArray = field(default_factory=lambda: pa.array([], pa.large_string()))
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
        """Leave out rows found bad after validation (by position, or by reference)."""
        if not bad_rows:
            return
        keep = [k for k, row in enumerate(self.rows) if row not in bad_rows]
        self.values = {name: [column[k] for k in keep] for name, column in self.values.items()}
        self.geometry = self.geometry.take(np.array(keep, dtype=np.int64))
        self.rows = [self.rows[k] for k in keep]


def _mapped_fields(layer: Layer, mapping: Mapping, columns: pd.DataFrame) -> dict[str, list[str]]:
    """Veta field -> file columns, refusing a mapping that names a missing column or leaves a
    required field without a column or constant."""
    mapping.check_against(layer)
    sources = mapping.columns_for(layer, list(columns.columns))
    for name, cols in sources.items():
        for col in cols:
            if col not in columns.columns:
                hint = v.suggest(col, [str(c) for c in columns.columns])
                raise InvalidParameter(
                    f"mapping [fields] {name}",
                    f"no column {col!r} in the file"
                    + (f"; did you mean {hint!r}?" if hint else ""),
                    list(columns.columns),
                )
    supplied = set(sources) | set(mapping.constants) | set(layer.defaults)
    missing = [f.name for f in layer.fields.values() if f.required and f.name not in supplied]
    if missing:
        raise InvalidParameter(
            "mapping",
            f"required field(s) {', '.join(missing)} of {layer.name} come from no column "
            f"(file columns: {', '.join(map(str, columns.columns))})",
            "a [fields] entry naming a column, or a [constants] value",
        )
    return sources


def validate(
    layer: Layer,
    mapping: Mapping,
    columns: pd.DataFrame,
    geometry: np.ndarray | Points,
    geometry_columns: tuple[str, ...],
    repair: bool,
    progress: Callable[[int], None] = lambda n: None,
    first_row: int = 1,
    seen_ids: SeenIds | None = None,
) -> ValidRows:
    """Every row checked; valid rows converted, invalid rows reported with field and reason.
    A chunk of a file is numbered from its `first_row`; `seen_ids` holds the ids of the chunks
    before, so that a duplicate is found across chunks too, and gains this chunk's."""
    sources = _mapped_fields(layer, mapping, columns)
    defaults = {
        f: d for f, d in layer.defaults.items() if f not in sources and f not in mapping.constants
    }
    mapping = replace(mapping, constants={**mapping.constants, **defaults})
    n = len(columns)
    written = [f for f in layer.fields if f in sources or f in mapping.constants]
    values: dict[str, list] = {}
    errors: dict[str, dict[int, str]] = {}
    derived_importance = False  # made from column order, so it matches the commodities
    for name in written:
        spec = layer.fields[name]
        if name == "commodities" and layer.name == "deposits":
            cells = (
                [pd.Series([mapping.constants[name]] * n, dtype=object)]
                if name in mapping.constants
                else [columns[c] for c in sources[name]]
            )
            values[name], importance, errors[name] = commodity_column(spec, cells)
            if name in mapping.constants and errors[name]:
                raise InvalidParameter(
                    f"mapping [constants] {name}", next(iter(errors[name].values()))
                )
            derived_importance = (
                "commodity_importance" not in sources
                and "commodity_importance" not in mapping.constants
            )
            if derived_importance:
                values["commodity_importance"] = importance
        elif name in mapping.constants:
            value, error = convert_cell(spec, mapping.constants[name], None)
            if error:
                raise InvalidParameter(f"mapping [constants] {name}", error)
            values[name] = [value] * n
        else:
            values[name], errors[name] = convert_column(
                spec, columns[sources[name][0]], mapping.values.get(name)
            )
        progress(n // (len(written) + 1))
    if layer.name == "admin_areas":
        values["name_folded"] = [None if x is None else v.fold(x) for x in values["name"]]
    for name in layer.fields:  # lists the database requires even when empty
        if name in values and layer.fields[name].kind == "list" and not layer.fields[name].required:
            values[name] = [[] if x is None else x for x in values[name]]

    validated = ValidRows(columns=list(values))
    validated.notes += [
        f"{f}: no column in the file, every row takes the default {d!r}"
        for f, d in defaults.items()
    ]
    if "commodities" in sources:
        validated.notes += commodity_notes([columns[c] for c in sources["commodities"]])
    used = {c for cols in sources.values() for c in cols} | set(geometry_columns)
    validated.ignored_columns = [str(c) for c in columns.columns if c not in used]
    key_field = layer.record_id
    ids = (
        values[key_field]
        if layer.fields[key_field].kind == "text"  # str or None already
        else [None if x is None else str(x) for x in values[key_field]]
    )
    validated.ids = ids

    for name, by_row in errors.items():
        validated.problems += [Problem(i + 1, ids[i], name, reason) for i, reason in by_row.items()]
    validated.problems += _rules(values, ids, check_importance=not derived_importance)
    geometry = check_geometries(
        layer, geometry, repair, ids, validated.problems, validated.repairs, validated.notes
    )
    if first_row != 1:  # numbered above within the chunk: now within the file
        shift = first_row - 1
        validated.problems = [
            replace(p, row=None if p.row is None else p.row + shift) for p in validated.problems
        ]
        validated.repairs = [replace(r, row=r.row + shift) for r in validated.repairs]
    validated.problems += _duplicates(
        ids, key_field, SeenIds() if seen_ids is None else seen_ids, first_row
    )
    validated.problems.sort(key=lambda p: p.row or 0)

    good = np.ones(n, dtype=bool)
    good[[p.row - first_row for p in validated.problems if p.row is not None]] = False
    keep = np.flatnonzero(good)
    validated.values = (
        values
        if len(keep) == n
        else {name: [column[i] for i in keep] for name, column in values.items()}
    )
    validated.rows = (keep + first_row).tolist()
    if len(keep):
        validated.geometry = hex_wkb(
            geometry.take(keep).wkb()
            if isinstance(geometry, Points)
            else pa.array(shapely.to_wkb(geometry[keep]), pa.large_binary())
        )
    progress(n - (n // (len(written) + 1)) * len(written))
    return validated


class SeenIds:
    """The ids of a file's chunks validated so far; the row where each first appeared is worked
    out only when a duplicate has to name it (a set is several times cheaper to keep)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self._chunks: list[tuple[int, list[str | None]]] = []
        self._first: dict[str, int] | None = None

    def first_rows(self) -> dict[str, int]:
        """Id -> the row it first appeared on, in the chunks so far."""
        if self._first is None:
            self._first = {}
            for first_row, ids in reversed(self._chunks):  # the earliest row wins
                self._first.update(
                    (i, first_row + k) for k, i in reversed(list(enumerate(ids))) if i is not None
                )
        return self._first

    def add(self, ids: list[str | None], first_row: int, present: set[str]) -> None:
        self._chunks.append((first_row, ids))
        self.ids |= present
        if self._first is not None:
            for k, i in enumerate(ids):
                if i is not None:
                    self._first.setdefault(i, first_row + k)


def _duplicates(
    ids: list[str | None], key_field: str, seen: SeenIds, first_row: int
) -> list[Problem]:
    """Each row whose id an earlier row (of this chunk, or of `seen`) already has, naming the
    first one; `seen` gains this chunk's ids."""
    present = set(ids)
    present.discard(None)
    unique = len(present) == len(ids) - ids.count(None)
    if unique and present.isdisjoint(seen.ids):  # the usual case, found fastest
        seen.add(ids, first_row, present)  # type: ignore[arg-type]  # None discarded
        return []
    first = dict(seen.first_rows())
    problems = []
    for k, i in enumerate(ids):
        if i is None:
            continue
        if i in first:
            problems.append(
                Problem(
                    first_row + k,
                    i,
                    key_field,
                    f"duplicate id: row {first[i]} has the same {key_field}",
                )
            )
        else:
            first[i] = first_row + k
    seen.add(ids, first_row, present)  # type: ignore[arg-type]
    return problems


def _rules(values: dict[str, list], ids: list, check_importance: bool) -> list[Problem]:
    """The table's cross-field CHECKs, answered per row instead of failing the whole write."""
    problems = []
    n = len(ids)
    if "depth_top_m" in values or "depth_bottom_m" in values:
        top = np.array(values.get("depth_top_m", [None] * n), dtype=float)  # None is NaN
        bottom = np.array(values.get("depth_bottom_m", [None] * n), dtype=float)
        for i in map(int, np.flatnonzero(top < 0)):
            problems.append(
                Problem(
                    i + 1, ids[i], "depth_top_m", f"{top[i]} is above the surface (allowed: ≥ 0 m)"
                )
            )
        for i in map(int, np.flatnonzero(bottom <= np.nan_to_num(top, nan=0.0))):
            problems.append(
                Problem(
                    i + 1,
                    ids[i],
                    "depth_bottom_m",
                    f"bottom {bottom[i]} m is not below the top {np.nan_to_num(top[i])} m",
                )
            )
    for start, end in (("applied_on", "granted_on"), ("valid_from", "valid_to")):
        if start in values and end in values:
            for i, (a, b) in enumerate(zip(values[start], values[end], strict=True)):
                if a and b and b < a:
                    problems.append(Problem(i + 1, ids[i], end, f"{b} is before {start} {a}"))
    if check_importance and "commodities" in values and "commodity_importance" in values:
        pairs = zip(values["commodities"], values["commodity_importance"], strict=True)
        for i, (codes, importance) in enumerate(pairs):
            if codes is not None and importance is not None and len(codes) != len(importance):
                problems.append(
                    Problem(
                        i + 1,
                        ids[i],
                        "commodity_importance",
                        f"{len(importance)} importances for {len(codes)} commodities",
                    )
                )
    return problems
