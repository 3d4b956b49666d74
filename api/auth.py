"""Who is asking: the request's credential turned into the viewer its queries run for.

`Authorization: Bearer <token>` carries either a Veta API key (`veta_…`, checked by the
database function migration 0014 made, so that the service never reads the keys table) or an
OpenID Connect access token (checked against the provider's keys, geo/access/oidc.py). No
header: anonymous, which sees public records only. A header that does not check out is a 401
— never quietly treated as anonymous, which would answer with less and look like success.

A key costs a lookup only the first time a process sees it: after that a read (GET, HEAD)
takes it on trust until the database confirms it, in the round trip that opens the request's
first transaction as the viewer (geo/store/viewer.py RememberedKey; a list or a tile opens it
before checking its parameters, geo/store/ahead.py; a request that reads no such transaction
has its key looked up before its answer starts). A key revoked or expired since is
refused there, before anything is read, so remembering costs no delay in revocation. Writes
always look their key up.

Every answer varies by the credential (Vary: Authorization), and one given to a credential is
marked private, so no shared cache hands an organisation's answer to anyone else.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import replace
from urllib.parse import urlsplit

from fastapi import Depends
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import veta_error_response
from api.middleware import HttpMiddleware
from geo.access.keys import LOOKUP_SQL, digest, looks_like_key
from geo.access.oidc import TokenVerifier
from geo.core.errors import KEY_NOT_VALID, Forbidden, Unauthenticated, VetaError
from geo.core.settings import Settings
from geo.store.ahead import AHEAD, AheadSlot
from geo.store.viewer import ANONYMOUS, VIEWER, RememberedKey, Viewer

CHALLENGE = 'Bearer realm="veta"'
# Reads that may take a remembered key on trust until their first transaction confirms it.
_READS = frozenset({"GET", "HEAD"})


class Authenticate(HttpMiddleware):
    """Pure ASGI middleware: sets VIEWER for everything the request does, streaming included."""

    def __init__(self, app: ASGIApp, settings: Settings):
        super().__init__(app)
        self.tokens = TokenVerifier.configured(settings)
        self.keys = RememberedKeys(settings.remembered_keys)
        self.credentialed_origins = frozenset(settings.cors_credentialed_origins)
        self.base_origin = _origin_of(settings.base_url) if settings.base_url else None

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        credential = _bearer(scope)
        try:
            viewer = await self._viewer(scope, credential) if credential is not None else ANONYMOUS
        except VetaError as exc:
            await (await _refusal(scope, exc))(scope, receive, send)
            return
        client = scope.get("client")
        viewer = replace(
            viewer,
            client=client[0] if client else None,
            request_id=scope.get("state", {}).get("request_id"),
        )
        scope.setdefault("state", {})["viewer"] = viewer
        token = VIEWER.set(viewer)
        # Where a read route opens its viewer connection ahead (open_viewer_connection).
        ahead = AheadSlot() if credential is not None and scope["method"] in _READS else None
        ahead_token = AHEAD.set(ahead)

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.add_vary_header("Authorization")
                if credential is not None:
                    headers["Cache-Control"] = _private(headers.get("Cache-Control"))
            await send(message)

        refused = False

        async def confirmed(message: Message) -> None:
            """The app's answer, once a remembered key is confirmed; else a 401 in its place."""
            nonlocal refused
            if message["type"] == "http.response.start":
                if ahead is not None:
                    await ahead.settled()  # which confirms the key, or refuses it
                refused = not await self._confirm(scope, viewer.remembered_key)
                if refused:
                    refusal = await _refusal(scope, Unauthenticated(KEY_NOT_VALID))
                    await refusal(scope, receive, marked)
            if not refused:
                await marked(message)

        try:
            await self.app(scope, receive, marked if viewer.remembered_key is None else confirmed)
        finally:
            try:
                if ahead is not None:
                    await asyncio.shield(ahead.close())
            finally:
                AHEAD.reset(ahead_token)
                VIEWER.reset(token)

    async def _confirm(self, scope: Scope, key: RememberedKey | None) -> bool:
        """Whether the request's remembered key (if any) holds; forgotten if not."""
        if key is None or await _holds(scope["app"].state.pool, key):
            return True
        self.keys.forget(key.digest)
        return False

    async def _viewer(self, scope: Scope, credential: str) -> Viewer:
        if not credential:
            raise Unauthenticated("Authorization must be `Bearer <API key or access token>`")
        self._check_origin(scope)
        if looks_like_key(credential):
            key_digest = digest(credential)
            known = self.keys.get(key_digest) if scope["method"] in _READS else None
            if known is not None:
                return replace(known, remembered_key=RememberedKey.of(key_digest, known))
            # A key made a moment ago may not have reached a replica yet: asked of the primary then.
            row = await scope["app"].state.pool.lookup(LOOKUP_SQL, key_digest)
            if row is None:
                self.keys.forget(key_digest)
                raise Unauthenticated(KEY_NOT_VALID)
            viewer = Viewer(
                row["organisation_id"], row["organisation_code"], row["role"], row["holder"]
            )
            self.keys.remember(key_digest, viewer)
            return viewer
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


class RememberedKeys:
    """The viewers of the keys this process has looked up, the most recently used `size`
    (0: none), by the key's digest. Only a start: each use is confirmed by the database."""

    def __init__(self, size: int):
        self.size = size
        self._viewers: OrderedDict[str, Viewer] = OrderedDict()

    def get(self, key_digest: str) -> Viewer | None:
        viewer = self._viewers.get(key_digest)
        if viewer is not None:
            self._viewers.move_to_end(key_digest)
        return viewer

    def remember(self, key_digest: str, viewer: Viewer) -> None:
        if self.size <= 0:
            return
        self._viewers[key_digest] = viewer
        self._viewers.move_to_end(key_digest)
        while len(self._viewers) > self.size:
            self._viewers.popitem(last=False)

    def forget(self, key_digest: str) -> None:
        self._viewers.pop(key_digest, None)


async def open_viewer_connection(request: Request) -> None:
    """FastAPI dependency of the read routes whose work is reading through the request pool:
    a credentialed request's connection as the viewer, opened before the route's parameters
    are checked (geo/store/ahead.py). Listed first among a route's dependencies."""
    slot = AHEAD.get()
    if slot is not None:
        request.app.state.pool.open_ahead(slot)
        await asyncio.sleep(0)  # let the opening send its round trip before the route's work


# The `dependencies` of such a route's decorator.
OPENS_VIEWER_CONNECTION = [Depends(open_viewer_connection)]


async def confirm_remembered_key(request: Request) -> None:
    """For a read handed to a tool outside the request pool (an export), which cannot confirm
    the request's remembered key in its transaction: confirmed here, before it starts."""
    key = VIEWER.get().remembered_key
    if key is not None and not await _holds(request.app.state.pool, key):
        raise Unauthenticated(KEY_NOT_VALID)


async def _holds(pool, key: RememberedKey) -> bool:
    """Whether a remembered key holds: as a transaction of the request found it, else as a
    lookup finds it now."""
    if not key.confirmed and not key.refused:
        row = await pool.lookup(LOOKUP_SQL, key.digest)
        key.confirmed = row is not None and (row["organisation_id"], row["role"]) == (
            key.organisation_id,
            key.role,
        )
        key.refused = not key.confirmed
    return not key.refused


async def _refusal(scope: Scope, exc: VetaError) -> Response:
    """The problem answer for a credential refused (401, with the challenge) or not allowed here."""
    response = await veta_error_response(Request(scope), exc)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = f'{CHALLENGE}, error="invalid_token"'
    return response


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
