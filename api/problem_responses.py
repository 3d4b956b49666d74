"""The problem+json answers every operation can give, declared in the OpenAPI document.

Declared from what the code does rather than per route: api.guard refuses any URL over the
limit (414), any body over the limit (413, operations with a body), NUL bytes and unknown or
bad parameters (400); a path with an id answers 404 for an unknown one; anything that reads the
database answers 503 with Retry-After when it is unreachable or a statement runs too long.
FastAPI's default 422 is never sent (validation errors are 400) and is removed.
"""

from __future__ import annotations

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details; `invalid_params` names each parameter at fault.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "invalid_params": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "reason"],
                "properties": {
                    "name": {"type": "string"},
                    "reason": {"type": "string"},
                    "allowed": {"description": "what is allowed: text or a list of values"},
                },
            },
        },
    },
}
_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
ANSWERS = {
    "400": "A parameter or body member is not allowed (named in invalid_params).",
    "401": "The credential sent (Authorization: Bearer …) is not valid, or this needs one.",
    "403": "The caller's role may not do this, or its credential came from a page of another site.",
    "409": "A record with the same key exists.",
    "412": "The record has changed since the version named in If-Match.",
    "428": "A write must name the version it changes (If-Match).",
    "404": "Nothing has this id.",
    "413": "The request body is larger than the service accepts.",
    "414": "The URL is longer than the service accepts.",
    "503": "The database is unreachable or the request ran past its time limit; retry after Retry-After seconds.",
}
# Served without the database.
_NO_DATABASE = ("/api", "/api.html")


def declare_problems(document: dict) -> dict:
    """The OpenAPI document (3.1, as FastAPI writes it) with the problem answers added."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.pop("422", None)
            # Any request may carry a credential (api/auth.py), and be refused for it.
            codes = ["400", "401", "403", "414"]
            if "{" in path:
                codes.append("404")
            if "requestBody" in operation:
                codes.append("413")
            if method in ("put", "patch", "delete"):
                codes += ["412", "428"]
            if method in ("post", "put", "patch"):
                codes.append("409")
            if path not in _NO_DATABASE:
                codes.append("503")
            for code in codes:
                answer = responses.setdefault(code, {"description": ANSWERS[code]})
                answer.setdefault("content", {}).update(_CONTENT)
                if code == "503":
                    answer["headers"] = {
                        "Retry-After": {
                            "description": "Seconds to wait before retrying.",
                            "schema": {"type": "integer"},
                        }
                    }
    schemas = document["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document
