"""What a caller adds to a collection's items query as SQL it builds, meaning unknown to the engine.

The engine (geo/features/items.py) pages, filters, counts and writes any collection's features;
an `Extension` lets a caller that knows the domain (geo/queries) add conditions, computed
properties, a computed geometry, joins and another source of rows without the engine learning
the domain's words. Every piece is a function of the statement's `Params`, so its values are
bound like the engine's own, and returns `Sql`: code's text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from geo.core.sql import Params, Sql

SqlPart = Callable[[Params], Sql]


def constant(sql: Sql) -> SqlPart:
    """A piece of SQL with no values to bind."""
    return lambda _params: sql


@dataclass(frozen=True)
class Extension:
    """Conditions, rows, joins and properties added to a collection's query."""

    # Conditions on the row `t`, beside the query's own (pages and count alike).
    conditions: tuple[SqlPart, ...] = ()
    # The rows to read instead of the collection's source: a FROM item aliased t with the same
    # columns (e.g. the rows as they stood on a past day).
    source: SqlPart | None = None
    # FROM items joined to the rows of a page once the page is chosen ("CROSS JOIN LATERAL
    # (…) x"): a lookup that only the properties need runs for the rows shown, not every match.
    joins: SqlPart | None = None
    # Properties by name: one of the collection's is replaced (its value read another way),
    # any other name is added after them. They may read `t` and the joins.
    properties: tuple[tuple[str, SqlPart], ...] = ()
    # The geometry written instead of the collection's, in lon/lat (e.g. the part of the row's
    # geometry another one shares); None: the collection's.
    geometry: SqlPart | None = None
    # Change-tracked tables its SQL reads beyond the collection's: a remembered count is kept
    # only until one of them changes too (geo/store/counts.py).
    reads: tuple[str, ...] = ()


NONE = Extension()
