"""OpenID Connect access tokens, for real: an identity provider of our own (an RSA key made
here, its JWKS served over HTTP on a local port) and Veta configured to trust it.

A good token shows its organisation's confidential deposit; every way a token can be wrong —
audience, issuer, expiry, signature, algorithm, role, organisation — is a 401 that says nothing
about the record asked for. Keys rotate (a new `kid` is fetched), a key the provider withdraws
stops working, the JWKS is fetched once for many requests, and a provider that is down makes a
401, never a 500.

PyJWT's key client keeps time with time.monotonic: the age of the JWKS it holds
(VETA_OIDC_JWKS_CACHE_S) and the pause between two fetches forced by unknown key ids. The `clock` fixture moves that clock
on, rather than the tests sleeping through an hour.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import jwt
import jwt.api_jwk
import jwt.jwk_set_cache
import jwt.jwks_client
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from records import insert_deposit
from sqlalchemy import text

from api.app import create_app
from geo.access.keys import create_organisation
from geo.access.oidc import REFETCH_COOLDOWN_S
from geo.core.settings import PROJECT_ROOT, Settings

SOURCE = "t-oidc"
ORG = "t-oidc-org"
ISSUER = "https://idp.test"
AUDIENCE = "veta"
SECRET_NAME = "Prospecto confidencial OIDC"
MISSING = object()  # a claim left out of the token


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class IdentityProvider:
    """Signing keys and their JWKS, served on a free local port; counts the JWKS requests.
    `answer` makes it misbehave: "jwks" (normal), "unavailable" (503) or "garbage" (not JSON)."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.requests = 0
        self.answer = "jwks"
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/.well-known/jwks.json"

    def publish(self, kid: str) -> rsa.RSAPrivateKey:
        self.keys[kid] = _rsa_key()
        return self.keys[kid]

    def jwks(self) -> dict:
        keys = []
        for kid, key in self.keys.items():
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def start(self) -> None:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                provider.requests += 1
                if provider.answer == "unavailable":
                    self.send_error(503)
                    return
                body = (
                    b"<html>maintenance</html>"
                    if provider.answer == "garbage"
                    else json.dumps(provider.jwks()).encode()
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

        # Port 0 at first (the system picks a free one), then the same port when restarted.
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def _settings(db_url: str, provider: IdentityProvider) -> Settings:
    return Settings(
        database_url=db_url,
        state_dir=PROJECT_ROOT / ".veta",
        oidc_jwks_url=provider.url,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
    )


@contextmanager
def _veta(db_url: str, provider: IdentityProvider) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(db_url, provider))) as client:
        yield client


@contextmanager
def _provider(*kids: str) -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    for kid in kids:
        provider.publish(kid)
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="module")
def idp() -> Iterator[IdentityProvider]:
    with _provider("key-1") as provider:
        yield provider


@pytest.fixture(scope="module")
def veta(db_url, idp) -> Iterator[TestClient]:
    with _veta(db_url, idp) as client:
        yield client


@pytest.fixture(scope="module")
def deposit(engine) -> Iterator[int]:
    """A confidential deposit of the organisation ORG."""
    with engine.begin() as conn:
        org = create_organisation(conn, ORG, "Minera OIDC")
        deposit_id = insert_deposit(
            conn, SECRET_NAME, (-6.2, 42.6), SOURCE, "oidc-1", org, "tungsten"
        )
    yield deposit_id
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM deposits WHERE source = :s"), {"s": SOURCE})
        conn.execute(text("DELETE FROM screening_reports WHERE owner_org = :o"), {"o": org})
        conn.execute(text("DELETE FROM organisations WHERE id = :o"), {"o": org})


@pytest.fixture
def clock(monkeypatch):
    """PyJWT's key client's clock, which the test can move on."""
    later = SimpleNamespace(offset=0.0)

    def monotonic() -> float:
        return time.monotonic() + later.offset

    for module in (jwt.jwks_client, jwt.jwk_set_cache, jwt.api_jwk):
        monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=monotonic))

    def advance(seconds: float) -> None:
        later.offset += seconds

    return advance


def _claims(**changes) -> dict:
    now = int(time.time())
    claims = {
        "sub": "ana@minera.example",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "org": ORG,
        "veta_role": "reader",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not MISSING}


def _token(key: rsa.RSAPrivateKey, kid: object, **changes) -> str:
    return jwt.encode(_claims(**changes), key, algorithm="RS256", headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _handmade(header: dict, claims: dict, sign=lambda signing_input: b"") -> str:
    """A token put together by hand, as an attacker would (PyJWT refuses to make these)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(sign(signing_input.encode()))}"


def _rs256(key: rsa.RSAPrivateKey):
    algorithm = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256)
    return lambda signing_input: algorithm.sign(signing_input, key)


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _item(deposit_id: int) -> str:
    return f"/collections/deposits/items/{deposit_id}"


def _refused(response) -> dict:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    return response.json()


# -- A good token ----------------------------------------------------------------------------


def test_a_valid_token_sees_its_organisations_confidential_deposit(veta, idp, deposit):
    anonymous = veta.get(_item(deposit))
    assert anonymous.status_code == 404 and SECRET_NAME not in anonymous.text
    own = veta.get(_item(deposit), headers=_bearer(_token(idp.keys["key-1"], "key-1")))
    assert own.status_code == 200, own.text
    assert own.json()["properties"]["name"] == SECRET_NAME
    assert own.headers["cache-control"].startswith("private")
    assert "authorization" in own.headers["vary"].lower()


def test_a_token_of_another_organisation_does_not(veta, idp, deposit, engine):
    with engine.begin() as conn:
        create_organisation(conn, "t-oidc-other", "Otra")
    try:
        token = _token(idp.keys["key-1"], "key-1", org="t-oidc-other", veta_role="editor")
        response = veta.get(_item(deposit), headers=_bearer(token))
        assert response.status_code == 404 and SECRET_NAME not in response.text
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM organisations WHERE code = 't-oidc-other'"))


# -- Bad tokens ------------------------------------------------------------------------------


def _forged(key: rsa.RSAPrivateKey) -> dict[str, str]:
    """Tokens that must be refused, by what is wrong with them; `key` is the provider's."""
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "wrong audience": _token(key, "key-1", aud="someone-else"),
        "no audience": _token(key, "key-1", aud=MISSING),
        "wrong issuer": _token(key, "key-1", iss="https://evil.test"),
        "expired": _token(key, "key-1", exp=int(time.time()) - 60, iat=int(time.time()) - 600),
        "no expiry": _token(key, "key-1", exp=MISSING),
        "no subject": _token(key, "key-1", sub=MISSING),
        "not yet valid": _token(key, "key-1", nbf=int(time.time()) + 600),
        "another key, same kid": _token(_rsa_key(), "key-1"),
        "alg none": _handmade({"alg": "none", "typ": "JWT", "kid": "key-1"}, _claims()),
        "alg none, no kid": _handmade({"alg": "none"}, _claims()),
        # The classic confusion: the public key (which anyone may fetch) used as an HMAC secret.
        "HS256 with the public key": _handmade(
            {"alg": "HS256", "typ": "JWT", "kid": "key-1"},
            _claims(),
            lambda signing_input: hmac.new(public_pem, signing_input, hashlib.sha256).digest(),
        ),
        "signature cut off": _token(key, "key-1").rsplit(".", 1)[0] + ".",
        "claims changed after signing": _resigned(_token(key, "key-1"), veta_role="admin"),
        "a kid that is not a string": _handmade(
            {"alg": "RS256", "typ": "JWT", "kid": ["key-1"]}, _claims(), _rs256(key)
        ),
        "not a JWT at all": "abc.def",
    }


def _resigned(token: str, **changes) -> str:
    """The token with its claims changed and its signature kept."""
    header, _, signature = token.split(".")
    return f"{header}.{_b64(json.dumps(_claims(**changes)).encode())}.{signature}"


FORGERIES = list(_forged(_rsa_key()))


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_bad_token_is_401_and_says_nothing_of_the_record(veta, idp, deposit, forgery):
    token = _forged(idp.keys["key-1"])[forgery]
    existing = _refused(veta.get(_item(deposit), headers=_bearer(token)))
    absent = _refused(veta.get(_item(deposit + 10_000_000), headers=_bearer(token)))
    # The answer is the same whether the record exists or not, and never names it.
    assert existing["detail"] == absent["detail"]
    assert existing["status"] == absent["status"] == 401
    assert SECRET_NAME not in existing["detail"] and str(deposit) not in existing["detail"]


def test_the_good_token_of_those_forgeries_is_accepted(veta, idp, deposit):
    """The forgeries above fail for what was changed in them, not for the way they are made."""
    key = idp.keys["key-1"]
    made = _handmade({"alg": "RS256", "typ": "JWT", "kid": "key-1"}, _claims(), _rs256(key))
    assert veta.get(_item(deposit), headers=_bearer(made)).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {"veta_role": "king"},
        # Admin sees every organisation's records: never taken from a token.
        {"veta_role": "admin"},
        {"veta_role": ["reader"]},
        {"veta_role": MISSING},
        {"org": "t-oidc-unknown"},
        {"org": ""},
        {"org": MISSING},
        {"org": [ORG]},
    ],
    ids=lambda claims: ", ".join(
        f"{name} {'left out' if value is MISSING else repr(value)}"
        for name, value in claims.items()
    ),
)
def test_an_unknown_role_or_organisation_is_401(veta, idp, deposit, claims):
    token = _token(idp.keys["key-1"], "key-1", **claims)
    _refused(veta.get(_item(deposit), headers=_bearer(token)))


# -- The provider's keys ---------------------------------------------------------------------


def test_keys_are_fetched_once_and_a_rotated_key_is_fetched_when_seen(db_url, deposit, clock):
    with _provider("old") as provider, _veta(db_url, provider) as client:
        old = _token(provider.keys["old"], "old")
        for _ in range(20):
            assert client.get(_item(deposit), headers=_bearer(old)).status_code == 200
        assert provider.requests == 1

        # The provider rotates: a new key, published beside the old one.
        provider.publish("new")
        new = _token(provider.keys["new"], "new")
        # Unknown key ids force a fetch at most once every REFETCH_COOLDOWN_S, so that tokens
        # with made-up ids cannot make Veta hammer the provider: right after the first fetch,
        # even the new key waits.
        for token in (_token(_rsa_key(), "made-up-1"), _token(_rsa_key(), "made-up-2"), new):
            _refused(client.get(_item(deposit), headers=_bearer(token)))
        assert provider.requests == 1
        clock(REFETCH_COOLDOWN_S + 1)
        assert client.get(_item(deposit), headers=_bearer(new)).status_code == 200
        assert provider.requests == 2
        for _ in range(20):
            for token in (old, new):
                assert client.get(_item(deposit), headers=_bearer(token)).status_code == 200
        assert provider.requests == 2


def test_a_key_the_provider_withdraws_stops_working(db_url, deposit, clock):
    with _provider("compromised") as provider, _veta(db_url, provider) as client:
        leaked = _token(provider.keys["compromised"], "compromised")
        assert client.get(_item(deposit), headers=_bearer(leaked)).status_code == 200
        del provider.keys["compromised"]
        provider.publish("replacement")
        # Once the JWKS Veta holds is older than VETA_OIDC_JWKS_CACHE_S, it is fetched again
        # and the withdrawn key is no longer trusted.
        clock(_settings(db_url, provider).oidc_jwks_cache_s + 1)
        _refused(client.get(_item(deposit), headers=_bearer(leaked)))
        assert provider.requests == 2
        replacement = _token(provider.keys["replacement"], "replacement")
        assert client.get(_item(deposit), headers=_bearer(replacement)).status_code == 200


@pytest.mark.parametrize("outage", ["stopped", "unavailable", "garbage"])
def test_the_provider_down_is_401_not_500(db_url, deposit, clock, outage):
    with _provider("known") as provider, _veta(db_url, provider) as client:
        known = _token(provider.keys["known"], "known")
        assert client.get(_item(deposit), headers=_bearer(known)).status_code == 200
        if outage == "stopped":
            provider.stop()
        else:
            provider.answer = outage
        requests_before = provider.requests
        clock(REFETCH_COOLDOWN_S + 1)  # so that the unknown kid makes Veta ask the provider
        unknown = _token(provider.publish("unknown"), "unknown")
        problem = _refused(client.get(_item(deposit), headers=_bearer(unknown)))
        assert "keys could not be fetched" in problem["detail"]
        if outage != "stopped":
            assert provider.requests == requests_before + 1  # it was asked, and failed
        # The keys already held keep working while the provider is down.
        assert client.get(_item(deposit), headers=_bearer(known)).status_code == 200
