"""The CQL2 translator: canonical CQL2-JSON to type-checked PostGIS SQL with bound literals.

geo.features.cql2 parses the user's filter and calls FilterTranslator; every literal goes through
geo.core.sql.Params, every identifier comes from the caller's queryables.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import shapely.geometry
from shapely.errors import ShapelyError
from shapely.validation import explain_validity

from geo.core.crs import Crs, check_area_of_use
from geo.core.errors import InvalidParameter
from geo.core.limits import check_vertices, densify_step
from geo.core.sql import Params
from geo.core.vocabulary import suggest

if TYPE_CHECKING:
    from geo.features.cql2 import Queryable


@dataclass(frozen=True)
class _Value:
    """A translated operand: its SQL and its CQL2 type (a queryable type, or 'null'); the code
    list of a queryable, or the text of a string literal, for checking one against the other."""

    sql: str
    type: str
    enum: tuple[str, ...] | None = None
    text: str | None = None
    narrower: Callable[[str], tuple[str, ...]] | None = None


_NUMERIC = ("integer", "number")
_TEMPORAL = ("date", "datetime")
_ORDERED = ("string", *_NUMERIC, *_TEMPORAL)
_COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")
_SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_disjoint": "ST_Disjoint",
    "s_contains": "ST_Contains",
    "s_within": "ST_Within",
    "s_equals": "ST_Equals",
    "s_touches": "ST_Touches",
    "s_crosses": "ST_Crosses",
    "s_overlaps": "ST_Overlaps",
}
# CQL2 temporal functions on [ls, le] and [rs, re], as in the standard's tables. An instant
# is the interval [t, t] (as cql2-rs and pgstac read it); open ends are -infinity / infinity.
_TEMPORAL_FUNCTIONS = {
    "t_after": "{ls} > {re}",
    "t_before": "{le} < {rs}",
    "t_contains": "{ls} < {rs} AND {le} > {re}",
    "t_disjoint": "NOT ({ls} <= {re} AND {le} >= {rs})",
    "t_during": "{ls} > {rs} AND {le} < {re}",
    "t_equals": "{ls} = {rs} AND {le} = {re}",
    "t_finishedby": "{ls} < {rs} AND {le} = {re}",
    "t_finishes": "{ls} > {rs} AND {le} = {re}",
    "t_intersects": "{ls} <= {re} AND {le} >= {rs}",
    "t_meets": "{le} = {rs}",
    "t_metby": "{ls} = {re}",
    "t_overlappedby": "{ls} > {rs} AND {ls} < {re} AND {le} > {re}",
    "t_overlaps": "{ls} < {rs} AND {rs} < {le} AND {le} < {re}",
    "t_startedby": "{ls} = {rs} AND {le} > {re}",
    "t_starts": "{ls} = {rs} AND {le} < {re}",
}
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


class FilterTranslator:
    """Walks canonical CQL2-JSON, checking types and emitting SQL with bound literals."""

    def __init__(self, fields: Mapping[str, Queryable], params: Params, crs: Crs):
        self.fields = fields
        self.params = params
        self.crs = crs

    # -- predicates -------------------------------------------------------------------------

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
                f"{_describe(node)} is not a condition (it is a {value.type})",
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
                f"{op} does not apply to the list property {_describe(left)}",
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
                f"LIKE needs a string, {_describe(subject)} is a {a.type}", "string properties"
            )
        return f"({a.sql} LIKE {p.sql})"

    def _between(self, op: str, subject, low, high) -> str:
        a, lo, hi = self.value(subject), self.value(low), self.value(high)
        if a.type not in (*_NUMERIC, *_TEMPORAL):
            raise self._error(
                f"BETWEEN needs a number or a date, {_describe(subject)} is a {a.type}",
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
                    f"IN on the list property {_describe(subject)} needs string literals",
                    "commodity IN ('tungsten', 'lithium')",
                )
            for item in items:
                self._in_code_list(a, _Value("", "string", text=item), subject)
            if a.narrower:
                items = list(dict.fromkeys(code for item in items for code in a.narrower(item)))
            return f"({a.sql} && {self.params(list(items))}::text[])"
        values = [self.value(i) for i in items]
        for item, v in zip(items, values):
            self._comparable("IN", a, v, subject, item)
            self._in_code_list(a, v, subject)
        return f"({a.sql} IN ({', '.join(v.sql for v in values)}))"

    def _spatial(self, op: str, left, right) -> str:
        return f"{_SPATIAL[op]}({self._geometry(left, op)}, {self._geometry(right, op)})"

    def _array_function(self, op: str, left, right) -> str:
        return "(" + _ARRAY[op].format(a=self._array(left, op), b=self._array(right, op)) + ")"

    def _in_code_list(self, a: _Value, b: _Value, subject) -> None:
        """A literal compared with a coded property must be one of its codes: a near miss
        ('Tungsten', 'operatin') would otherwise silently match nothing."""
        if a.narrower and b.text is not None and a.narrower(b.text):
            return  # a value the list reads ('PGM', 'W'), not only its codes
        if a.enum and b.text is not None and b.text not in a.enum:
            near = suggest(b.text, a.enum)
            hint = f"; did you mean {near!r}?" if near else ""
            raise self._error(f"{b.text!r} is not a value of {_describe(subject)}{hint}", a.enum)

    def _comparable(self, op: str, a: _Value, b: _Value, left, right) -> None:
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
            f"{op} compares {_describe(left)} ({a.type}) with {_describe(right)} ({b.type})",
            allowed,
        )

    # -- values -----------------------------------------------------------------------------

    def value(self, node) -> _Value:
        """A node that evaluates to a scalar, array or geometry."""
        if node is None:
            return _Value("NULL", "null")
        if isinstance(node, bool):
            return _Value(f"{self.params(node)}::boolean", "boolean")
        if isinstance(node, (int, float)):
            return self._number(node)
        if isinstance(node, str):
            return _Value(f"{self.params(node)}::text", "string", text=node)
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
            return _Value(f"{self.params(_date(node['date']))}::date", "date")
        if "timestamp" in node:
            return _Value(f"{self.params(_timestamp(node['timestamp']))}::timestamptz", "datetime")
        if "interval" in node:
            raise self._error(
                "an INTERVAL can only be an argument of a T_ function", "T_DURING(x, INTERVAL(…))"
            )
        if "bbox" in node or "coordinates" in node or "geometries" in node:
            return _Value(self._geometry_literal(node), "geometry")
        if "op" in node:
            return self._function(node)
        raise self._error(
            f"unrecognised CQL2-JSON object with keys {sorted(node)}",
            "property, date, timestamp, interval, bbox, a GeoJSON geometry, op",
        )

    def _function(self, node: dict) -> _Value:
        """CASEI, ACCENTI, arithmetic, or a predicate used as a boolean value."""
        op = str(node["op"]).lower()
        if op in _PREDICATES:
            return _Value(self.predicate(node), "boolean")
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
                return _Value(f"lower({inner.sql})", "string")
            return _Value(_STRIP_ACCENTS.format(inner.sql), "string")
        if op in _ARITHMETIC:
            self._arity(op, args, 2)
            return self._arithmetic(op, *args)
        near = suggest(str(node["op"]), _OPERATOR_NAMES)
        hint = f"; did you mean {near}?" if near else ""
        raise self._error(f"unsupported operator or function {node['op']!r}{hint}", _OPERATOR_NAMES)

    def _number(self, number: float) -> _Value:
        if isinstance(number, float) and not math.isfinite(number):
            raise self._error(f"{number} is not a finite number", "finite numbers")
        # cql2 reads every number as a float; whole ones bind as bigint so that integer columns
        # compare without a cast (and keep their indexes).
        if float(number).is_integer() and abs(number) < 2**63:
            return _Value(f"{self.params(int(number))}::bigint", "integer")
        return _Value(f"{self.params(float(number))}::double precision", "number")

    def _property(self, name) -> _Value:
        queryable = self.fields.get(name) if isinstance(name, str) else None
        if queryable is None:
            near = suggest(name, list(self.fields)) if isinstance(name, str) else None
            hint = f"; did you mean {near!r}?" if near else ""
            raise self._error(f"unknown property {name!r}{hint}", sorted(self.fields))
        return _Value(f"({queryable.sql})", queryable.type, enum=queryable.enum,
                      narrower=queryable.narrower)

    def _arithmetic(self, op: str, left, right) -> _Value:
        a, b = self.value(left), self.value(right)
        for node, v in ((left, a), (right, b)):
            if v.type not in _NUMERIC:
                raise self._error(
                    f"arithmetic {op} needs numbers, {_describe(node)} is a {v.type}",
                    "number and integer properties and literals",
                )
        both_integer = a.type == b.type == "integer"
        if op in ("+", "-", "*"):
            return _Value(f"({a.sql} {op} {b.sql})", "integer" if both_integer else "number")
        if op == "/":
            return _Value(f"({a.sql}::double precision / NULLIF({b.sql}, 0))", "number")
        if op == "%":
            return _Value(f"mod({a.sql}::numeric, NULLIF({b.sql}, 0)::numeric)", "number")
        if op == "div":
            return _Value(f"div({a.sql}::numeric, NULLIF({b.sql}, 0)::numeric)", "integer")
        # Powers with no real result, or beyond double precision (|b·ln|a|| > 700), are NULL
        # like a division by zero: PostgreSQL would fail the whole request.
        base, exponent = f"{a.sql}::double precision", f"{b.sql}::double precision"
        return _Value(
            f"(CASE WHEN {base} = 0 THEN CASE WHEN {exponent} >= 0 THEN power(0, {exponent}) END"
            f" WHEN {base} < 0 AND {exponent} <> trunc({exponent}) THEN NULL"
            f" WHEN abs({exponent} * ln(abs({base}))) > 700 THEN NULL"
            f" ELSE power({base}, {exponent}) END)",
            "number",
        )

    # -- spatial ----------------------------------------------------------------------------

    def _geometry(self, node, op: str) -> str:
        v = self.value(node)
        if v.type != "geometry":
            raise self._error(
                f"{op.upper()} needs geometries, {_describe(node)} is a {v.type}",
                [n for n, q in self.fields.items() if q.type == "geometry"]
                + ["POINT(…)", "POLYGON(…)", "BBOX(…)", "GeoJSON geometry"],
            )
        return v.sql

    def _geometry_literal(self, node: dict) -> str:
        """A literal in filter-crs, as SQL of the same geometry in EPSG:4326 lon/lat."""
        if "bbox" in node:
            x1, y1, x2, y2 = self._bbox(node["bbox"])
            self._in_range(x1, y1, x2, y2)
            self._in_area_of_use(x1, y1, x2, y2)
            corners = ", ".join(
                f"{self.params(float(v))}::double precision" for v in (x1, y1, x2, y2)
            )
            perimeter = 2 * ((x2 - x1) + (y2 - y1))
            return self._to_storage(f"ST_MakeEnvelope({corners}, {self.crs.srid})", perimeter)
        members = node.get("geometries")
        parts = [g.get("coordinates") for g in members if isinstance(g, dict)] if isinstance(members, list) else []
        check_vertices(node.get("coordinates", parts), "filter")
        try:
            shape = shapely.geometry.shape(node)
        except (ShapelyError, ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
            raise self._error(f"malformed geometry: {error}", "WKT or GeoJSON geometries") from None
        # shapely closes an open ring quietly, PostGIS refuses it: say so rather than guess.
        if any(ring and ring[0] != ring[-1] for ring in _rings(node)):
            raise self._error(
                "a polygon ring is not closed", "rings whose last point repeats the first"
            )
        if not shape.is_valid:
            raise self._error(
                f"invalid geometry: {explain_validity(shape)}",
                "valid simple-feature geometries (closed, non-self-intersecting rings)",
            )
        if not shape.is_empty:
            self._in_range(*shape.bounds)
            self._in_area_of_use(*shape.bounds)
        geojson = self.params(json.dumps(node))
        return self._to_storage(f"ST_SetSRID(ST_GeomFromGeoJSON({geojson}::text), {self.crs.srid})",
                                shape.length)

    def _in_area_of_use(self, x1: float, y1: float, x2: float, y2: float) -> None:
        """Bounds in filter-crs axis order, checked against the CRS's area of use."""
        bounds = (y1, x1, y2, x2) if self.crs.northing_first else (x1, y1, x2, y2)
        check_area_of_use(self.crs, bounds, "filter", "filter-crs")

    def _to_storage(self, sql: str, perimeter: float) -> str:
        """Geometry SQL in filter-crs (and its axis order) turned into EPSG:4326 lon/lat."""
        if self.crs.northing_first:
            sql = f"ST_FlipCoordinates({sql})"
        if self.crs.srid != 4326:
            if not self.crs.geographic:
                # Straight edges in a projected CRS are curves in lon/lat: densify every 1 km
                # before transforming so the lon/lat polygon follows the one the user drew,
                # coarser for shapes so large that 1 km would make millions of vertices.
                sql = f"ST_Segmentize({sql}, {self.params(densify_step(perimeter))}::float8)"
            sql = f"ST_Transform({sql}, 4326)"
        return sql

    def _in_range(self, x_min: float, y_min: float, x_max: float, y_max: float) -> None:
        """Coordinates of a geographic filter-crs must be longitudes and latitudes."""
        if not self.crs.geographic:
            return
        lat_first = self.crs.northing_first
        lon, lat = (
            ((y_min, y_max), (x_min, x_max)) if lat_first else ((x_min, x_max), (y_min, y_max))
        )
        if lon[0] < -180 or lon[1] > 180 or lat[0] < -90 or lat[1] > 90:
            order = "latitude, longitude" if lat_first else "longitude, latitude"
            raise self._error(
                f"coordinates out of range for {self.crs.uri} ({order} order)",
                "longitude -180..180, latitude -90..90",
            )

    def _bbox(self, bbox) -> tuple[float, float, float, float]:
        if (
            not isinstance(bbox, list)
            or len(bbox) not in (4, 6)
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
        ):
            raise self._error("BBOX needs 4 (or 6) numbers", "BBOX(minx, miny, maxx, maxy)")
        x1, y1, x2, y2 = (bbox[0], bbox[1], bbox[3], bbox[4]) if len(bbox) == 6 else bbox
        if x1 > x2 or y1 > y2:
            raise self._error(
                f"BBOX({', '.join(map(str, bbox))}) has a minimum above its maximum "
                "(boxes across the antimeridian are not supported)",
                f"BBOX(min, min, max, max) in the axis order of {self.crs.uri}",
            )
        return x1, y1, x2, y2

    # -- temporal ---------------------------------------------------------------------------

    def _temporal(self, op: str, left, right) -> str:
        formula = _TEMPORAL_FUNCTIONS[op]
        ends = dict(
            zip(("ls", "le", "rs", "re"), (*self._period(left, op), *self._period(right, op)))
        )
        types = {t for t, _ in ends.values()} - {"open"}
        common = "date" if types <= {"date"} else "timestamptz"
        # Only the ends the function reads are rendered: a literal bound but unused in the SQL
        # would leave a $n the server does not expect.
        used = {name for _, name, _, _ in string.Formatter().parse(formula) if name}
        sql = {
            name: _cast(render(), t, common) for name, (t, render) in ends.items() if name in used
        }
        return "(" + formula.format(**sql) + ")"

    def _period(self, node, op: str) -> list[tuple[str, Callable[[], str]]]:
        """Start and end as (type, SQL renderer); an instant is the interval [t, t]."""
        if isinstance(node, dict) and "interval" in node:
            bounds = node["interval"]
            if not isinstance(bounds, list) or len(bounds) != 2:
                raise self._error(
                    "INTERVAL needs a start and an end", "INTERVAL('2020-01-01', '..')"
                )
            return [
                self._bound(x, open_end) for x, open_end in zip(bounds, ("-infinity", "infinity"))
            ]
        v = self.value(node)
        if v.type not in _TEMPORAL:
            raise self._error(
                f"{op.upper()} needs dates or timestamps, {_describe(node)} is a {v.type}",
                "DATE(…), TIMESTAMP(…), INTERVAL(…), date and datetime properties",
            )
        return [(v.type, lambda: v.sql), (v.type, lambda: v.sql)]

    def _bound(self, node, open_end: str) -> tuple[str, Callable[[], str]]:
        """One end of an interval; '..' and NULL properties are open (±infinity)."""
        if node == "..":
            return "open", lambda: open_end
        if isinstance(node, str):
            node = (
                {"date": node} if re.fullmatch(r"\d{4}-\d{2}-\d{2}", node) else {"timestamp": node}
            )
        if isinstance(node, dict) and "date" in node:
            day = _date(node["date"])
            return "date", lambda: f"{self.params(day)}::date"
        if isinstance(node, dict) and "timestamp" in node:
            instant = _timestamp(node["timestamp"])
            return "datetime", lambda: f"{self.params(instant)}::timestamptz"
        v = self.value(node)
        if v.type not in _TEMPORAL:
            raise self._error(
                f"an INTERVAL bound must be a date or timestamp, got a {v.type}",
                "'2020-01-01', '2020-01-01T00:00:00Z', '..', date and datetime properties",
            )
        cast = "date" if v.type == "date" else "timestamptz"
        return v.type, lambda: f"coalesce({v.sql}, '{open_end}'::{cast})"

    # -- arrays -----------------------------------------------------------------------------

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
                f"{op.upper()} needs lists, {_describe(node)} is a {v.type}",
                [n for n, q in self.fields.items() if q.type == "string_array"] + ["('a', 'b')"],
            )
        return v.sql

    # -- helpers ----------------------------------------------------------------------------

    def _arity(self, op: str, args: list, count: int, many: bool = False) -> None:
        if len(args) < count or (not many and len(args) != count):
            need = f"at least {count}" if many else str(count)
            raise self._error(f"{op} takes {need} arguments, got {len(args)}", f"{need} arguments")

    def _error(self, reason: str, allowed) -> InvalidParameter:
        return InvalidParameter("filter", reason, allowed)


def _rings(geojson: dict):
    """Every polygon ring of a GeoJSON geometry, collections included."""
    kind = geojson.get("type")
    if kind == "Polygon":
        yield from geojson["coordinates"]
    elif kind == "MultiPolygon":
        for polygon in geojson["coordinates"]:
            yield from polygon
    elif kind == "GeometryCollection":
        for member in geojson["geometries"]:
            yield from _rings(member)


def _cast(sql: str, sql_type: str, common: str) -> str:
    """A temporal bound in the predicate's common type (dates as midnight UTC)."""
    if sql_type == "open":
        return f"'{sql}'::{common}"
    if common == "timestamptz" and sql_type == "date":
        return f"({sql}::timestamp AT TIME ZONE 'UTC')"
    return sql


def _is_string_literal(node) -> bool:
    if isinstance(node, str):
        return True
    return (
        isinstance(node, dict)
        and str(node.get("op", "")).lower() in ("casei", "accenti")
        and len(node.get("args", [])) == 1
        and _is_string_literal(node["args"][0])
    )


def _describe(node) -> str:
    """A short name for a node in error messages."""
    if isinstance(node, dict):
        if "property" in node:
            return repr(node["property"])
        if "op" in node:
            return f"{str(node['op']).upper()}(…)"
        if "type" in node:
            return f"a {node['type']} literal"
        key = next(iter(node), "object")
        return (
            f"{key.upper()}({json.dumps(node[key], default=str)[1:-1]})"
            if key in ("date", "timestamp")
            else key.upper()
        )
    return json.dumps(node, default=str)


def _date(text) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidParameter(
            "filter", f"bad date {text!r}", "DATE('YYYY-MM-DD'), e.g. DATE('2020-01-31')"
        ) from None


def _timestamp(text) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidParameter(
            "filter",
            f"bad timestamp {text!r}",
            "TIMESTAMP('YYYY-MM-DDThh:mm:ssZ'), RFC 3339 in UTC",
        ) from None
    # CQL2 timestamps are UTC ('Z'); one without an offset is read as UTC too.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
