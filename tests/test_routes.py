"""The app's routes: no two answer the same method and path, so that the order routers are
included in (api/app.py puts the most asked first) decides nothing but speed."""

from __future__ import annotations

import itertools
import re

from starlette.routing import Match

from api.app import create_app
from geo.core.settings import Settings

APP = create_app(Settings())


def _routes(routes) -> list:
    """Every route, through included routers (which FastAPI may keep as wrappers)."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found += _routes(inner.routes)
        elif getattr(route, "methods", None):  # not a mount (static files)
            found.append(route)
    return found


def _a_path(path_format: str) -> str:
    """A concrete path the route answers: each {parameter} filled with a plain segment."""
    return re.sub(r"\{[^}]+\}", "p1", path_format)


def test_no_two_routes_answer_the_same_method_and_path():
    routes = _routes(APP.router.routes)
    assert len(routes) > 50  # the walk reached the included routers' own routes
    clashes = []
    for a, b in itertools.combinations(routes, 2):
        if not (set(a.methods or ()) & set(b.methods or ())):
            continue
        for first, second in ((a, b), (b, a)):
            if first.path_regex.fullmatch(_a_path(second.path_format)):
                clashes.append((first.path_format, second.path_format))
    assert clashes == []


def test_the_most_asked_paths_reach_their_routes():
    expected = {
        "/collections/deposits/items": "collection_items",
        "/collections/deposits/items/7": "collection_item",
        "/collections/deposits/tiles/WebMercatorQuad/8/122/94": "get_tile",
        "/deposits": "list_deposits",
        "/collections": "list_collections",
    }
    routes = _routes(APP.router.routes)
    for path, name in expected.items():
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "root_path": "",
            "query_string": b"",
            "headers": [],
        }
        matched = [r for r in routes if r.matches(scope)[0] == Match.FULL]
        assert [r.name for r in matched] == [name], path
