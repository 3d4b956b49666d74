"""The API definition at /api as OpenAPI 3.0, the version OGC API – Features (oas30) and QGIS expect.

FastAPI writes OpenAPI 3.1; the only 3.1 constructs in Veta's document are optional values
(`anyOf` with `{"type": "null"}`, 3.0's `nullable`) and schema `examples` (3.0's `example`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.problem_responses import declare_problems

VERSION = "3.0.3"
_NULL = {"type": "null"}


def as_openapi_30(node: Any) -> Any:
    """A copy of an OpenAPI 3.1 document (or part of one) in OpenAPI 3.0 terms."""
    if isinstance(node, list):
        return [as_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: as_openapi_30(value) for key, value in node.items()}
    if "anyOf" in out and _NULL in out["anyOf"]:
        others = [schema for schema in out.pop("anyOf") if schema != _NULL]
        if len(others) == 1:
            out.update(others[0])
        else:
            out["anyOf"] = others
        out["nullable"] = True
    if isinstance(out.get("examples"), list) and "schema" not in out and "type" in out:
        # In a 3.1 schema `examples` is a list; a 3.0 schema has a single `example`.
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    return out


def declare_limits(document: dict, default: int, maximum: int) -> dict:
    """Every `limit` query parameter with the page sizes this app allows (its settings, read at
    start-up: VETA_DEFAULT_LIMIT, VETA_MAX_LIMIT), which the routes check at run time."""
    for operation in (op for path in document.get("paths", {}).values() for op in path.values()):
        for parameter in operation.get("parameters", ()) if isinstance(operation, dict) else ():
            if parameter.get("name") == "limit" and parameter.get("in") == "query":
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": maximum,
                    "default": default,
                }
    return document


def install(app: FastAPI) -> None:
    """Serve the app's OpenAPI document as 3.0 (built once, on first request)."""
    generate = app.openapi

    def openapi_30() -> dict:
        if app.openapi_schema is None or app.openapi_schema.get("openapi") != VERSION:
            settings = app.state.settings
            document = declare_limits(
                declare_problems(generate()), settings.default_limit, settings.max_limit
            )
            app.openapi_schema = {**as_openapi_30(document), "openapi": VERSION}
        return app.openapi_schema

    app.openapi = openapi_30  # type: ignore[method-assign]  # FastAPI's documented way to replace the document
