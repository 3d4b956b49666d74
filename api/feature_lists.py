"""A feature list answered from the engine: an items query's page and count, streamed.

Every list — the OGC items as GeoJSON, the REST searches (/deposits, /permits, /areas,
/grid/cells) and a right's conflicts — goes through `stream_items`; the REST ones end with the
members they always had (numberReturned, numberMatched, links with an opaque `next` cursor,
timeStamp), as does batch screening, streamed by `whole_list` from its own statement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from api.auth import OPENS_VIEWER_CONNECTION
from api.links import same_query
from api.streaming import (
    GEOJSON,
    Progress,
    feature_chunks,
    feature_collection_tail,
    stream_features,
)
from geo.core.sql import SqlQuery
from geo.features.items import ItemsQuery, count_query, page_query
from geo.features.keyset import Cursor

Tail = Callable[[int, Any, int | None], dict]

# How a REST list is declared (`@router.get(path, **LIST_ROUTE)`): a GeoJSON answer, and a
# credentialed request's viewer connection opened before its parameters are checked.
LIST_ROUTE: dict[str, Any] = {
    "response_class": Response,
    "responses": {200: {"content": {GEOJSON: {}}}},
    "dependencies": OPENS_VIEWER_CONNECTION,
}


async def stream_items(
    request: Request,
    query: ItemsQuery,
    tail: Tail,
    counted: bool = True,
    headers: dict | None = None,
    progress: Progress | None = None,
) -> Response:
    """The query's page streamed, its count (remembered while the data stays) beside it."""
    state = request.app.state
    progress = progress or Progress()
    count = count_query(query) if counted else None
    chunks = feature_chunks(
        state.pool, page_query(query), query.limit, count, tail, state.counts, progress
    )
    return await stream_features(chunks, progress, headers=headers)


def _tail(request: Request, query: ItemsQuery | None, counted: bool, members: dict | None) -> Tail:
    """The members after a list's features: `members` (what the list is of), the counts, the
    self link and, for a paged items query, the next link."""

    def tail(returned: int, next_key: Any, matched: int | None) -> dict:
        links = [{"rel": "self", "type": GEOJSON, "href": same_query(request)}]
        if query is not None and next_key is not None:
            href = same_query(request, cursor=next_cursor(query, next_key))
            links.append({"rel": "next", "type": GEOJSON, "href": href})
        return {
            **(members or {}),
            **feature_collection_tail(returned, matched if counted else returned, links),
        }

    return tail


def next_cursor(query: ItemsQuery, last_key: list[str | None]) -> str:
    """The cursor of the page after the row with these keys."""
    return Cursor(tuple(last_key), query.order).encode()


async def feature_list(
    request: Request, query: ItemsQuery, counted: bool = True, members: dict | None = None
) -> Response:
    """A REST list: self and next links; without `counted`, the list is whole (no paging) and
    numberMatched is what it returns. `members` go before the counts (what the list is of)."""

    return await stream_items(request, query, _tail(request, query, counted, members), counted)


# More rows than any answer has: a whole list is never cut short.
ALL_ROWS = 2**62


async def whole_list(request: Request, rows: SqlQuery) -> Response:
    """A whole list (never paged; numberMatched is what it returns) from a statement of
    (key, feature text) rows that is not an items query — batch screening, which says why
    (geo/queries/screening_batch.py) — streamed alike."""
    tail = _tail(request, None, counted=False, members=None)
    progress = Progress()
    chunks = feature_chunks(request.app.state.pool, rows, ALL_ROWS, None, tail, progress=progress)
    return await stream_features(chunks, progress)
