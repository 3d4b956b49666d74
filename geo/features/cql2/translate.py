"""The CQL2 translator: canonical CQL2-JSON to type-checked PostGIS SQL with bound literals.

The spatial and temporal predicates are in spatial.py and temporal.py. geo.features.cql2 parses the user's filter and calls FilterTranslator; every literal goes through
geo.core.sql.Params, every identifier comes from the caller's queryables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from geo.core.crs import Crs
from geo.core.errors import InvalidParameter
from geo.core.sql import Params
from geo.core.vocabulary import suggest
from geo.features.cql2.spatial import _SPATIAL, SpatialTerms
from geo.features.cql2.temporal import (
    _TEMPORAL,
    _TEMPORAL_FUNCTIONS,
    TemporalTerms,
    _date,
    _timestamp,
)
from geo.features.cql2.terms import Value, describe

if TYPE_CHECKING:
    from geo.features.cql2 import Queryable


_NUMERIC = ("integer", "number")
_ORDERED = ("string", *_NUMERIC, *_TEMPORAL)
_COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")
_ARRAY = {
    "a_equals": "({a} @> {b} AND {a} <@ {b})",
    "a_contains": "{a} @> {b}",
    "a_containedby": "{a} <@ {b}",
    "a_overlaps": "{a} && {b}",
}
_ARITHMETIC = ("+", "-", "*", "/", "%", "div", "^")
# CQL2 operator -> (number of arguments, the least for AND/OR; FilterTranslator's method)
_PREDICATES: dict[str, tuple[int, str]] = {
    "and": (2, "_logical"),
    "or": (2, "_logical"),
    "not": (1, "_not"),
    **{op: (2, "_comparison") for op in _COMPARISONS},
    "like": (2, "_like"),
    "between": (3, "_between"),
    "in": (2, "_in"),
    "isnull": (1, "_is_null"),
    **{op: (2, "_spatial") for op in _SPATIAL},
    **{op: (2, "_temporal") for op in _TEMPORAL_FUNCTIONS},
    **{op: (2, "_array_function") for op in _ARRAY},
}
_OPERATOR_NAMES = (
    "AND",
    "OR",
    "NOT",
    *_COMPARISONS,
    "LIKE",
    "BETWEEN",
    "IN",
    "IS NULL",
    "CASEI",
    "ACCENTI",
    *(name.upper() for name in (*_SPATIAL, *_TEMPORAL_FUNCTIONS, *_ARRAY)),
    *_ARITHMETIC,
)


# ACCENTI: decompose (NFD) and drop the combining diacritical marks, so á, ñ, ç compare as
# a, n, c in any Latin script. (translate() with a table of accented letters cost 200 µs a row;
# this costs about what LIKE itself does.)
_STRIP_ACCENTS = "regexp_replace(normalize({}, NFD), '[\\u0300-\\u036f]', '', 'g')"


class FilterTranslator(SpatialTerms, TemporalTerms):
    """Walks canonical CQL2-JSON, checking types and emitting SQL with bound literals."""

    def __init__(self, fields: Mapping[str, Queryable], params: Params, crs: Crs):
        self.fields = fields
        self.params = params
        self.crs = crs

    def predicate(self, node) -> str:
        """A node that must evaluate to a boolean."""
        if isinstance(node, dict) and "op" in node:
            op = str(node["op"]).lower()
            if op in _PREDICATES:
                arity, method = _PREDICATES[op]
                translate = getattr(self, method)
                args = node.get("args", [])
                args = args if isinstance(args, list) else [args]
                self._arity(op, args, arity, many=op in ("and", "or"))
                return translate(op, *args)
        value = self.value(node)
        if value.type != "boolean":
            raise self._error(
                f"{describe(node)} is not a condition (it is a {value.type})",
                "comparisons, LIKE, IN, BETWEEN, IS NULL, S_, T_ and A_ functions",
            )
        return f"({value.sql})"

    def _logical(self, op: str, *conditions) -> str:
        return "(" + f" {op.upper()} ".join(self.predicate(c) for c in conditions) + ")"

    def _not(self, op: str, condition) -> str:
        return f"(NOT {self.predicate(condition)})"

    def _is_null(self, op: str, subject) -> str:
        return f"({self.value(subject).sql} IS NULL)"

    def _comparison(self, op: str, left, right) -> str:
        if op in ("=", "<>"):
            for prop, literal in ((left, right), (right, left)):
                if isinstance(prop, dict) and "property" in prop and isinstance(literal, str):
                    a = self._property(prop["property"])
                    if a.narrower and a.narrower(literal):
                        # A broader commodity matches its narrower ones: one overlap, which the
                        # GIN index serves.
                        overlaps = f"{a.sql} && {self.params(list(a.narrower(literal)))}::text[]"
                        return f"({overlaps})" if op == "=" else f"(NOT ({overlaps}))"
        a, b = self.value(left), self.value(right)
        if op in ("=", "<>"):
            self._in_code_list(a, b, left)
            self._in_code_list(b, a, right)
        if b.type == "string_array" and a.type != "string_array":
            a, b = b, a
        if a.type == "string_array" and b.type == "string":
            # Element-wise: = holds when the list has the value, <> when it has not.
            # `@>` rather than `= ANY()` so that a GIN index on the list serves it.
            if op in ("=", "<>"):
                contains = f"{a.sql} @> ARRAY[{b.sql}]"
                return f"({contains})" if op == "=" else f"(NOT ({contains}))"
            raise self._error(
                f"{op} does not apply to the list property {describe(left)}",
                "=, <>, IN, LIKE and A_ functions on lists",
            )
        self._comparable(op, a, b, left, right)
        if op not in ("=", "<>") and a.type not in _ORDERED:
            raise self._error(f"{op} does not apply to a {a.type}", "=, <> for booleans")
        return f"({a.sql} {op} {b.sql})"

    def _like(self, op: str, subject, pattern) -> str:
        if not _is_string_literal(pattern):
            raise self._error(
                "the LIKE pattern must be a string literal (optionally in CASEI/ACCENTI)",
                "name LIKE 'Peña%'",
            )
        a, p = self.value(subject), self.value(pattern)
        if a.type == "string_array":
            return f"(EXISTS (SELECT 1 FROM unnest({a.sql}) AS element(v) WHERE v LIKE {p.sql}))"
        if a.type != "string":
            raise self._error(
                f"LIKE needs a string, {describe(subject)} is a {a.type}", "string properties"
            )
        return f"({a.sql} LIKE {p.sql})"

    def _between(self, op: str, subject, low, high) -> str:
        a, lo, hi = self.value(subject), self.value(low), self.value(high)
        if a.type not in (*_NUMERIC, *_TEMPORAL):
            raise self._error(
                f"BETWEEN needs a number or a date, {describe(subject)} is a {a.type}",
                "number, integer, date and datetime properties",
            )
        self._comparable("BETWEEN", a, lo, subject, low)
        self._comparable("BETWEEN", a, hi, subject, high)
        return f"({a.sql} BETWEEN {lo.sql} AND {hi.sql})"

    def _in(self, op: str, subject, items) -> str:
        if not isinstance(items, list) or not items:
            raise self._error("IN needs a non-empty list", "x IN ('a', 'b')")
        a = self.value(subject)
        if a.type == "string_array":
            if not all(isinstance(i, str) for i in items):
                raise self._error(
                    f"IN on the list property {describe(subject)} needs string literals",
                    "commodity IN ('tungsten', 'lithium')",
                )
            for item in items:
                self._in_code_list(a, Value("", "string", text=item), subject)
            if a.narrower:
                items = list(dict.fromkeys(code for item in items for code in a.narrower(item)))
            return f"({a.sql} && {self.params(list(items))}::text[])"
        values = [self.value(i) for i in items]
        for item, v in zip(items, values):
            self._comparable("IN", a, v, subject, item)
            self._in_code_list(a, v, subject)
        return f"({a.sql} IN ({', '.join(v.sql for v in values)}))"

    def _array_function(self, op: str, left, right) -> str:
        return "(" + _ARRAY[op].format(a=self._array(left, op), b=self._array(right, op)) + ")"

    def _in_code_list(self, a: Value, b: Value, subject) -> None:
        """A literal compared with a coded property must be one of its codes: a near miss
        ('Tungsten', 'operatin') would otherwise silently match nothing."""
        if a.narrower and b.text is not None and a.narrower(b.text):
            return  # a value the list reads ('PGM', 'W'), not only its codes
        if a.enum and b.text is not None and b.text not in a.enum:
            near = suggest(b.text, a.enum)
            hint = f"; did you mean {near!r}?" if near else ""
            raise self._error(f"{b.text!r} is not a value of {describe(subject)}{hint}", a.enum)

    def _comparable(self, op: str, a: Value, b: Value, left, right) -> None:
        def group(t: str) -> str:
            return "number" if t in _NUMERIC else "temporal" if t in _TEMPORAL else t

        if "null" in (a.type, b.type):
            raise self._error("NULL cannot be compared", "x IS NULL, x IS NOT NULL")
        if group(a.type) == group(b.type) and a.type not in ("geometry", "string_array"):
            return
        hint = {
            "date": "DATE('2020-01-31')",
            "datetime": "TIMESTAMP('2020-01-31T12:00:00Z')",
            "geometry": "S_INTERSECTS, S_EQUALS and the other S_ functions",
            "string_array": "=, <>, IN, LIKE and A_ functions",
        }
        allowed = hint.get(a.type) or hint.get(b.type) or f"a {a.type} on both sides"
        raise self._error(
            f"{op} compares {describe(left)} ({a.type}) with {describe(right)} ({b.type})",
            allowed,
        )

    def value(self, node) -> Value:
        """A node that evaluates to a scalar, array or geometry."""
        if node is None:
            return Value("NULL", "null")
        if isinstance(node, bool):
            return Value(f"{self.params(node)}::boolean", "boolean")
        if isinstance(node, (int, float)):
            return self._number(node)
        if isinstance(node, str):
            return Value(f"{self.params(node)}::text", "string", text=node)
        if isinstance(node, list):
            raise self._error(
                "a list is only allowed in IN and in A_ functions",
                "x IN ('a', 'b'), A_CONTAINS(list, ('a', 'b'))",
            )
        if not isinstance(node, dict):
            raise self._error(f"unexpected {type(node).__name__} in the filter", "CQL2-JSON values")
        if "property" in node:
            return self._property(node["property"])
        if "date" in node:
            return Value(f"{self.params(_date(node['date']))}::date", "date")
        if "timestamp" in node:
            return Value(f"{self.params(_timestamp(node['timestamp']))}::timestamptz", "datetime")
        if "interval" in node:
            raise self._error(
                "an INTERVAL can only be an argument of a T_ function", "T_DURING(x, INTERVAL(…))"
            )
        if "bbox" in node or "coordinates" in node or "geometries" in node:
            return Value(self._geometry_literal(node), "geometry")
        if "op" in node:
            return self._function(node)
        raise self._error(
            f"unrecognised CQL2-JSON object with keys {sorted(node)}",
            "property, date, timestamp, interval, bbox, a GeoJSON geometry, op",
        )

    def _function(self, node: dict) -> Value:
        """CASEI, ACCENTI, arithmetic, or a predicate used as a boolean value."""
        op = str(node["op"]).lower()
        if op in _PREDICATES:
            return Value(self.predicate(node), "boolean")
        args = node.get("args", [])
        args = args if isinstance(args, list) else [args]
        if op in ("casei", "accenti"):
            self._arity(op, args, 1)
            inner = self.value(args[0])
            if inner.type != "string":
                raise self._error(
                    f"{op.upper()} needs a string, got a {inner.type}",
                    "string properties and literals",
                )
            if op == "casei":
                return Value(f"lower({inner.sql})", "string")
            return Value(_STRIP_ACCENTS.format(inner.sql), "string")
        if op in _ARITHMETIC:
            self._arity(op, args, 2)
            return self._arithmetic(op, *args)
        near = suggest(str(node["op"]), _OPERATOR_NAMES)
        hint = f"; did you mean {near}?" if near else ""
        raise self._error(f"unsupported operator or function {node['op']!r}{hint}", _OPERATOR_NAMES)

    def _number(self, number: float) -> Value:
        if isinstance(number, float) and not math.isfinite(number):
            raise self._error(f"{number} is not a finite number", "finite numbers")
        # cql2 reads every number as a float; whole ones bind as bigint so that integer columns
        # compare without a cast (and keep their indexes).
        if float(number).is_integer() and abs(number) < 2**63:
            return Value(f"{self.params(int(number))}::bigint", "integer")
        return Value(f"{self.params(float(number))}::double precision", "number")

    def _property(self, name) -> Value:
        queryable = self.fields.get(name) if isinstance(name, str) else None
        if queryable is None:
            near = suggest(name, list(self.fields)) if isinstance(name, str) else None
            hint = f"; did you mean {near!r}?" if near else ""
            raise self._error(f"unknown property {name!r}{hint}", sorted(self.fields))
        return Value(
            f"({queryable.sql})", queryable.type, enum=queryable.enum, narrower=queryable.narrower
        )

    def _arithmetic(self, op: str, left, right) -> Value:
        a, b = self.value(left), self.value(right)
        for node, v in ((left, a), (right, b)):
            if v.type not in _NUMERIC:
                raise self._error(
                    f"arithmetic {op} needs numbers, {describe(node)} is a {v.type}",
                    "number and integer properties and literals",
                )
        both_integer = a.type == b.type == "integer"
        if op in ("+", "-", "*"):
            return Value(f"({a.sql} {op} {b.sql})", "integer" if both_integer else "number")
        if op == "/":
            return Value(f"({a.sql}::double precision / NULLIF({b.sql}, 0))", "number")
        if op == "%":
            return Value(f"mod({a.sql}::numeric, NULLIF({b.sql}, 0)::numeric)", "number")
        if op == "div":
            return Value(f"div({a.sql}::numeric, NULLIF({b.sql}, 0)::numeric)", "integer")
        # Powers with no real result, or beyond double precision (|b·ln|a|| > 700), are NULL
        # like a division by zero: PostgreSQL would fail the whole request.
        base, exponent = f"{a.sql}::double precision", f"{b.sql}::double precision"
        return Value(
            f"(CASE WHEN {base} = 0 THEN CASE WHEN {exponent} >= 0 THEN power(0, {exponent}) END"
            f" WHEN {base} < 0 AND {exponent} <> trunc({exponent}) THEN NULL"
            f" WHEN abs({exponent} * ln(abs({base}))) > 700 THEN NULL"
            f" ELSE power({base}, {exponent}) END)",
            "number",
        )

    def _array(self, node, op: str) -> str:
        if isinstance(node, list):
            if not all(isinstance(x, str) for x in node):
                raise self._error(
                    f"{op.upper()} compares lists of strings", "('tungsten', 'lithium')"
                )
            return f"{self.params(list(node))}::text[]"
        v = self.value(node)
        if v.type != "string_array":
            raise self._error(
                f"{op.upper()} needs lists, {describe(node)} is a {v.type}",
                [n for n, q in self.fields.items() if q.type == "string_array"] + ["('a', 'b')"],
            )
        return v.sql

    def _arity(self, op: str, args: list, count: int, many: bool = False) -> None:
        if len(args) < count or (not many and len(args) != count):
            need = f"at least {count}" if many else str(count)
            raise self._error(f"{op} takes {need} arguments, got {len(args)}", f"{need} arguments")

    def _error(self, reason: str, allowed) -> InvalidParameter:
        return InvalidParameter("filter", reason, allowed)


def _is_string_literal(node) -> bool:
    if isinstance(node, str):
        return True
    return (
        isinstance(node, dict)
        and str(node.get("op", "")).lower() in ("casei", "accenti")
        and len(node.get("args", [])) == 1
        and _is_string_literal(node["args"][0])
    )
