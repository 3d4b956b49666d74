"""One problem+json shape (RFC 9457) for every error, mapped from domain errors in one place."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.links import base_url, request_url
from api.middleware import HttpMiddleware
from geo.core.errors import VetaError
from geo.core.i18n import pgettext
from geo.store.timed_pool import DatabaseBusy, DatabaseUnavailable

PROBLEM = "application/problem+json"
TYPE_BASE = "https://veta.example/problems/"
log = logging.getLogger("veta")


def problem(
    status: int, title: str, detail: str, slug: str, instance: str, **extensions
) -> JSONResponse:
    # The title in the request's language (Content-Language says which); the detail, built from
    # the request's own names and values, stays in English.
    body = {
        "type": TYPE_BASE + slug,
        "title": pgettext("problem", title),
        "status": status,
        "detail": detail,
        "instance": instance,
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


async def veta_error_response(request: Request, exc: VetaError) -> JSONResponse:
    response = problem(
        exc.status, exc.title, exc.detail, exc.slug, request_url(request), **exc.extensions()
    )
    if exc.status == 503:
        response.headers["Retry-After"] = str(request.app.state.settings.retry_after_s)
    if exc.status == 413:  # the rest of the body is never read: the connection cannot go on
        response.headers["Connection"] = "close"
    return response


async def _export_database_error(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
    # Exports read through psycopg in a worker thread, outside geo.store.timed_pool: the same answers.
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return await veta_error_response(
            request,
            DatabaseBusy(
                "the export took longer than its "
                f"{request.app.state.settings.statement_timeout_export_s:g} s limit"
            ),
        )
    return await veta_error_response(
        request, DatabaseUnavailable(f"the database cannot be reached ({exc})")
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    params = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "path", "body", "header")]
        params.append({"name": ".".join(loc) or "request", "reason": err.get("msg", "invalid")})
    detail = "; ".join(f"{p['name']}: {p['reason']}" for p in params)
    return problem(
        400,
        "Invalid parameter",
        detail,
        "invalid-parameter",
        request_url(request),
        invalid_params=params,
    )


# Statuses Starlette raises itself: their problem type and title.
_HTTP_PROBLEMS = {
    404: ("not-found", "Not Found"),
    405: ("method-not-allowed", "Method Not Allowed"),
    406: ("not-acceptable", "Not acceptable"),
}


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    phrase = HTTPStatus(exc.status_code).phrase
    slug, title = _HTTP_PROBLEMS.get(exc.status_code, ("http-error", phrase))
    detail = str(exc.detail)
    allowed = (exc.headers or {}).get("Allow")
    if detail == phrase and exc.status_code == 404:  # no route: where to find what there is
        detail = f"nothing is served at {request.url.path}; {base_url(request)}/ lists what is"
    elif detail == phrase and allowed:
        detail = f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})"
    response = problem(exc.status_code, title, detail, slug, request_url(request))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _data_error(request: Request, exc: asyncpg.exceptions.DataError) -> JSONResponse:
    # Values that pass every check yet cannot be computed (1e300 * 1e300 in a CQL2 filter):
    # the request's fault, and only a filter carries arithmetic the database evaluates.
    parameter = "filter" if "filter" in request.query_params else "request"
    reason = f"the database could not evaluate it: {exc}"
    return problem(
        400,
        "Invalid parameter",
        f"{parameter}: {reason}",
        "invalid-parameter",
        request_url(request),
        invalid_params=[{"name": parameter, "reason": reason}],
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s", request.url)
    return problem(
        500,
        "Internal server error",
        "the server failed to answer; see its log",
        "internal-error",
        request_url(request),
    )


class UnexpectedErrors(HttpMiddleware):
    """ASGI middleware: an exception no handler took becomes a 500 problem+json, logged once,
    instead of Starlette re-raising it to the server, which drops the client's connection."""

    async def http(self, scope, receive, send) -> None:
        started = False

        async def tracked_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception as exc:
            if started:  # half a body already went out: nothing well-formed can follow it
                raise
            response = await _unexpected(Request(scope), exc)
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    # Starlette types a handler as taking any Exception; each of these takes the class it is
    # registered for, which is what Starlette passes it.
    handlers: list[tuple[type[Exception], Any]] = [
        (VetaError, veta_error_response),
        (RequestValidationError, _validation_error),
        (HTTPException, _http_error),
        (asyncpg.exceptions.DataError, _data_error),
        (psycopg.OperationalError, _export_database_error),
    ]
    for kind, handler in handlers:
        app.add_exception_handler(kind, handler)
    app.add_middleware(UnexpectedErrors)
