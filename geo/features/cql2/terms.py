"""What the translator's parts share: a translated operand and how a node is named in errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from geo.core.errors import InvalidParameter

if TYPE_CHECKING:
    from collections.abc import Mapping

    from geo.core.crs import Crs
    from geo.core.sql import Params
    from geo.features.cql2 import Queryable


@dataclass(frozen=True)
class Value:
    """A translated operand: its SQL and its CQL2 type (a queryable type, or 'null'); the code
    list of a queryable, or the text of a string literal, for checking one against the other."""

    sql: str
    type: str
    enum: tuple[str, ...] | None = None
    text: str | None = None
    narrower: Callable[[str], tuple[str, ...]] | None = None


def describe(node) -> str:
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


class Terms:
    """What the spatial and temporal parts read of the translator they are parts of
    (geo.features.cql2.translate.FilterTranslator, which sets and defines these)."""

    fields: Mapping[str, Queryable]
    params: Params
    crs: Crs

    def value(self, node) -> Value:
        raise NotImplementedError

    def _error(self, reason: str, allowed) -> InvalidParameter:
        return InvalidParameter("filter", reason, allowed)
