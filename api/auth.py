"""Who is asking: the request's credential turned into the viewer its queries run for.

`Authorization: Bearer <token>` carries either a Veta API key (`veta_…`, checked by the
database function migration 0014 made, so that the service never reads the keys table) or an
OpenID Connect access token (checked against the provider's keys, geo/access/oidc.py). No
header: anonymous, which sees public records only. A header that does not check out is a 401
— never quietly treated as anonymous, which would answer with less and look like success.

Every answer varies by the credential (Vary: Authorization), and one given to a credential is
marked private, so no shared cache hands an organisation's answer to anyone else.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import veta_error_response
from geo.access.keys import LOOKUP_SQL, digest, looks_like_key
from geo.access.oidc import TokenVerifier
from geo.core.errors import Forbidden, Unauthenticated, VetaError
from geo.core.settings import Settings
from geo.store.viewer import ANONYMOUS, VIEWER, Viewer

CHALLENGE = 'Bearer realm="veta"'


class Authenticate:
    """Pure ASGI middleware: sets VIEWER for everything the request does, streaming included."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.tokens = TokenVerifier.configured(settings)
        self.credentialed_origins = frozenset(settings.cors_credentialed_origins)
        self.base_origin = _origin_of(settings.base_url) if settings.base_url else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        credential = _bearer(scope)
        try:
            viewer = await self._viewer(scope, credential) if credential is not None else ANONYMOUS
        except VetaError as exc:
            response = await veta_error_response(Request(scope), exc)
            if exc.status == 401:
                response.headers["WWW-Authenticate"] = f'{CHALLENGE}, error="invalid_token"'
            await response(scope, receive, send)
            return
        client = scope.get("client")
        viewer = replace(
            viewer,
            client=client[0] if client else None,
            request_id=scope.get("state", {}).get("request_id"),
        )
        scope.setdefault("state", {})["viewer"] = viewer
        token = VIEWER.set(viewer)

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.add_vary_header("Authorization")
                if credential is not None:
                    headers["Cache-Control"] = _private(headers.get("Cache-Control"))
            await send(message)

        try:
            await self.app(scope, receive, marked)
        finally:
            VIEWER.reset(token)

    async def _viewer(self, scope: Scope, credential: str) -> Viewer:
        if not credential:
            raise Unauthenticated("Authorization must be `Bearer <API key or access token>`")
        self._check_origin(scope)
        if looks_like_key(credential):
            # A key made a moment ago may not have reached a replica yet: asked of the primary then.
            row = await scope["app"].state.pool.lookup(LOOKUP_SQL, digest(credential))
            if row is None:
                raise Unauthenticated("the API key is not valid: unknown, expired or revoked")
            return Viewer(
                row["organisation_id"], row["organisation_code"], row["role"], row["holder"]
            )
        if self.tokens is None:
            raise Unauthenticated(
                "the bearer token is not a Veta API key, and this service accepts no other tokens"
            )
        claims = await run_in_threadpool(self.tokens.verify, credential)
        row = await scope["app"].state.pool.lookup(
            "SELECT veta_organisation($1)", claims.organisation
        )
        organisation = row[0] if row else None
        if organisation is None:
            raise Unauthenticated(
                f"the token's organisation {claims.organisation!r} is not known here"
            )
        return Viewer(organisation, claims.organisation, claims.role, claims.subject)

    def _check_origin(self, scope: Scope) -> None:
        """A credential sent from a web page is accepted only from Veta's own pages and the
        origins of VETA_CORS_CREDENTIALED_ORIGINS: any site may read public data, but no
        other site may act with a user's key."""
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not origin or origin in self.credentialed_origins:
            return
        own = self.base_origin or f"{scope.get('scheme', 'http')}://" + headers.get(
            b"host", b""
        ).decode("latin-1")
        if origin != own:
            raise Forbidden(
                f"credentials are not accepted from pages of {origin}; "
                "allowed: this service's own pages and VETA_CORS_CREDENTIALED_ORIGINS"
            )


def _bearer(scope: Scope) -> str | None:
    """The bearer token of the Authorization header; None when there is no header. Any other
    scheme, or an empty token, is a bad credential (an empty string)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
    return None


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _private(cache_control: str | None) -> str:
    """The answer's caching, for the requesting browser alone."""
    kept = [
        part.strip()
        for part in (cache_control or "").split(",")
        if part.strip() and part.strip().lower() not in ("public", "private")
    ]
    return ", ".join(["private", *kept])
