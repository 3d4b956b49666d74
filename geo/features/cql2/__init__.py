"""OGC CQL2 filters (cql2-text, cql2-json) translated into parameterised PostGIS WHERE fragments.

Interface (used by the OGC API collections layer):

    cql2_where(filter, lang, fields, params, filter_crs=None) -> str

`filter` is the user's CQL2 in `lang` ('cql2-text' or 'cql2-json'); `fields` maps each queryable
name to a `Queryable` whose `sql` is an expression over the caller's row alias (e.g. "t.name",
"d.commodities") and whose `type` says how it compares; `params` (geo.core.sql.Params) receives
every literal of the filter as a bound $n value, so user text never becomes SQL text and the
only identifiers in the fragment are the callers' own `sql` expressions. Geometry literals
(WKT, GeoJSON, BBOX) are read in `filter_crs` (a URI or EPSG:nnnn of geo.core.crs; default CRS84)
in that CRS's axis order and transformed to the stored EPSG:4326 lon/lat by PostGIS. The
returned fragment is a boolean SQL expression in parentheses, ready for `WHERE … AND <it>`.
Any problem raises geo.core.errors.InvalidParameter naming `filter` (or `filter-lang`,
`filter-crs`), what was wrong and what is allowed.

Semantics worth knowing:
- Parsing is done by `cql2` (the Rust cql2-rs parser), which implements the CQL2 1.0
  grammar: AND binds tighter than OR, '' escapes a quote, INTERVAL('..', …) is open.
  pygeofilter 0.4's cql2-text grammar gets those three wrong (and reads T_INTERSECTS as
  T_OVERLAPS), so it is not used here. The parsed tree (canonical CQL2-JSON) is type-checked
  and turned into SQL by geo.features.cql2.translate.FilterTranslator.
- A 'string_array' queryable (e.g. commodities) compares element-wise: `commodity = 'tin'`
  is true when any element is 'tin', `commodity <> 'tin'` when none is, `IN (…)` when any
  element is in the list, `LIKE` when any element matches. A_EQUALS, A_CONTAINS,
  A_CONTAINEDBY and A_OVERLAPS compare it as a set with an array literal or property.
- Comparisons follow SQL's handling of NULL: a NULL property satisfies neither `=` nor `<>`.
- T_ functions take instants (DATE, TIMESTAMP, date/datetime queryables), read as the
  interval [t, t], and intervals (INTERVAL(start, end) of literals, '..' for an open end, or
  queryables, whose NULL reads as an open end). Dates compare with timestamps as midnight UTC.
- CASEI lower-cases; ACCENTI drops diacritics after Unicode decomposition (á → a, ñ → n).
- Arithmetic `/`, `%` and `div` by zero, and `^` without a real or double-precision result,
  give NULL (the row does not match) instead of failing the whole request.
- A string literal compared (=, <>, IN) with a queryable that has an `enum` must be one of
  its codes; a near miss is refused with a did-you-mean instead of silently matching nothing.
- Filters are at most MAX_FILTER_CHARS characters and MAX_FILTER_DEPTH levels deep (see
  _parse for why); identical filters are parsed once (an LRU cache of 256).
"""

from __future__ import annotations

import copy
import functools
import os
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cql2

from geo.core.crs import parse_crs
from geo.core.errors import InvalidParameter
from geo.core.sql import Params
from geo.features.cql2.translate import FilterTranslator

QUERYABLE_TYPES = (
    "string",
    "integer",
    "number",
    "boolean",
    "date",
    "datetime",
    "geometry",
    "string_array",
)
LANGS = ("cql2-text", "cql2-json")

_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
_FEATURES_3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
# What this module implements. filter, features-filter and queryables also need the caller to
# accept `filter`, `filter-lang` and `filter-crs` on /items and to serve /queryables with
# queryables_schema(); queryables-query-parameters (?name=value) is not implemented here.
CONFORMANCE_CLASSES = [
    _FEATURES_3 + "filter",
    _FEATURES_3 + "features-filter",
    _FEATURES_3 + "queryables",
    _CQL2 + "cql2-text",
    _CQL2 + "cql2-json",
    _CQL2 + "basic-cql2",
    _CQL2 + "advanced-comparison-operators",
    _CQL2 + "case-insensitive-comparison",
    _CQL2 + "accent-insensitive-comparison",
    _CQL2 + "basic-spatial-functions",
    _CQL2 + "basic-spatial-functions-plus",
    _CQL2 + "spatial-functions",
    _CQL2 + "temporal-functions",
    _CQL2 + "array-functions",
    _CQL2 + "property-property",
    _CQL2 + "arithmetic",
]


@dataclass(frozen=True)
class Queryable:
    """A property a filter may name: its SQL over the caller's row alias and its CQL2 type."""

    name: str
    sql: str
    type: str
    description: str
    enum: tuple[str, ...] | None = None
    # For a hierarchical code list (commodities): what a value matches, itself and its narrower
    # codes; () for a value it does not know.
    narrower: Callable[[str], tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        if self.type not in QUERYABLE_TYPES:
            raise ValueError(f"queryable {self.name}: type {self.type!r} not in {QUERYABLE_TYPES}")


def cql2_where(
    filter: str,
    lang: str,
    fields: Mapping[str, Queryable],
    params: Params,
    filter_crs: str | None = None,
) -> str:
    """The filter as a boolean SQL expression over the caller's row alias, values bound in params."""
    tree = _parse(filter, lang)
    crs = parse_crs(filter_crs, "filter-crs")
    return FilterTranslator(fields, params, crs).predicate(tree)


def queryables_schema(
    collection_id: str, title: str, fields: Mapping[str, Queryable], base_url: str
) -> dict:
    """The JSON Schema of /collections/{id}/queryables (OGC API – Features Part 3)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url.rstrip('/')}/collections/{collection_id}/queryables",
        "type": "object",
        "title": title,
        "properties": {name: _property_schema(q) for name, q in fields.items()},
        # Filters naming anything else are refused, so say so.
        "additionalProperties": False,
    }


_JSON_SCHEMA: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "geometry": {"format": "geometry-any"},
    "string_array": {"type": "array", "items": {"type": "string"}},
}


def _property_schema(q: Queryable) -> dict:
    schema: dict[str, Any] = {
        "title": q.name,
        "description": q.description,
        **copy.deepcopy(_JSON_SCHEMA[q.type]),
    }
    if q.enum:
        target: dict[str, Any] = schema["items"] if q.type == "string_array" else schema
        target["enum"] = list(q.enum)
    return schema


# cql2-rs parses (and frees its tree) recursively on the C stack: under 2,000 nested
# parentheses overflow a default 8 MB thread stack and kill the whole server process. So
# filters are parsed on one thread with a 256 MB stack (address space; only what a parse
# touches is used) and are at most 64k characters, far below what that stack holds; the
# parsed tree is then limited in depth before Python walks it recursively.
MAX_FILTER_CHARS = 65_536
MAX_FILTER_DEPTH = 100
_PARSER_STACK_BYTES = 256 * 2**20


@functools.cache
def _parser_thread() -> ThreadPoolExecutor:
    previous = threading.stack_size(_PARSER_STACK_BYTES)
    try:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cql2-parser")
        executor.submit(int).result()  # starts the thread now, while the large stack is set
    finally:
        threading.stack_size(previous)
    return executor


# A forked child has no parser thread, only its parent's executor: it starts its own.
os.register_at_fork(after_in_child=_parser_thread.cache_clear)


def _parse_to_json(text: str, lang: str):
    """Runs on the parser thread: the Rust tree never reaches (or is freed on) another one."""
    expr = cql2.parse_text(text) if lang == "cql2-text" else cql2.parse_json(text)
    return expr.to_json()


# QGIS and scripts send the same filter for every page: parse it once. The cached trees are
# only read, never changed.
@functools.lru_cache(maxsize=256)
def _parse(text: str, lang: str):
    """The filter as canonical CQL2-JSON (dicts, lists, scalars)."""
    if lang not in LANGS:
        raise InvalidParameter("filter-lang", f"unsupported filter language {lang!r}", LANGS)
    if not text or not text.strip():
        raise InvalidParameter("filter", "the filter is empty", "a CQL2 expression")
    if len(text) > MAX_FILTER_CHARS:
        raise InvalidParameter(
            "filter", f"the filter has {len(text)} characters", f"at most {MAX_FILTER_CHARS}"
        )
    try:
        tree = _parser_thread().submit(_parse_to_json, text, lang).result()
    # cql2 raises ParseError for bad syntax and a bare Exception for some literals it parsed
    # but cannot represent (POINT EMPTY): both are the filter's fault.
    except Exception as error:
        raise InvalidParameter(
            "filter",
            f"not valid {lang}: {_parse_message(str(error))}",
            "a CQL2 expression, see /conformance for the classes",
        ) from None
    if _depth(tree) > MAX_FILTER_DEPTH:
        raise InvalidParameter(
            "filter", "the filter is nested too deeply", f"at most {MAX_FILTER_DEPTH} levels"
        )
    return tree


def _depth(tree) -> int:
    """How deeply the parsed filter nests (iteratively: it may be very deep)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _parse_message(message: str) -> str:
    """cql2's multi-line parser message as one line: where, and what was expected."""
    where = re.search(r"-->\s*(\d+):(\d+)", message)
    expected = re.search(r"=\s*(.+)$", message.strip())
    if where and expected:
        return f"at line {where.group(1)}, column {where.group(2)}: {expected.group(1)}"
    return " ".join(message.split())
