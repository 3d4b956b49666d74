"""OpenID Connect access tokens (JWT) checked against the provider's published keys (JWKS).

Signature, issuer, audience and expiry are all checked; the keys (JWKS) are fetched once, again
when they are older than VETA_OIDC_JWKS_CACHE_S, and again when a token names a key id (`kid`)
they do not hold, which is how a provider rotates them — at most once every
REFETCH_COOLDOWN_S, so that tokens with made-up key ids cannot make Veta hammer the provider.
Which claims carry the organisation and the role is configuration (VETA_OIDC_*), since every
provider names them its own way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import jwt

from geo.core.errors import Unauthenticated
from geo.core.settings import Settings
from geo.store.models import ROLES

# Roles a token may carry. Not admin, which sees every organisation's confidential records: a
# provider where an organisation manages its own users' claims would let it make itself admin
# of all Veta. Admins get API keys from the operator (veta keys create --role admin).
TOKEN_ROLES = tuple(role for role in ROLES if role != "admin")

# Asymmetric algorithms only: a shared-secret (HS*) token could be forged by anyone who has
# the public key if the algorithm were taken from the token.
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
# Seconds between two fetches of the JWKS forced by unknown key ids: a flood of made-up ids
# costs the provider one fetch per period, and a token signed with a key published since the
# last fetch may be refused for up to this long.
REFETCH_COOLDOWN_S = 30


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    organisation: str
    role: str


class TokenVerifier:
    """Checks tokens of one provider; None when no provider is configured."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.org_claim = settings.oidc_org_claim
        self.role_claim = settings.oidc_role_claim
        # The JWKS is kept for oidc_jwks_cache_s, then fetched again. Not PyJWT's per-kid key
        # cache (cache_keys): it never expires, so a key the provider withdraws (say, leaked)
        # would go on being trusted until Veta restarts.
        self.keys = jwt.PyJWKClient(
            settings.oidc_jwks_url,
            lifespan=settings.oidc_jwks_cache_s,
            cooldown_duration=REFETCH_COOLDOWN_S,
        )

    @classmethod
    def configured(cls, settings: Settings) -> TokenVerifier | None:
        return cls(settings) if settings.oidc_jwks_url else None

    def verify(self, token: str) -> TokenClaims:
        """The token's subject, organisation and role; Unauthenticated when anything is wrong.
        Blocking (the first use and a new key fetch the JWKS over HTTP): call off the loop."""
        try:
            key = self.keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise Unauthenticated(f"the token's keys could not be fetched: {exc}") from None
        except json.JSONDecodeError:
            # PyJWT lets a JWKS answer that is not JSON (a proxy's error page, say) through
            # unwrapped; like an unreachable provider, that is a 401, not a 500.
            raise Unauthenticated("the token's keys could not be fetched: not a JWKS") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from None
        organisation, role = claims.get(self.org_claim), claims.get(self.role_claim)
        if not isinstance(organisation, str) or not organisation:
            raise Unauthenticated(f"the token has no organisation claim {self.org_claim!r}")
        if role not in TOKEN_ROLES:
            raise Unauthenticated(
                f"the token's claim {self.role_claim!r} is {role!r}, not one of "
                f"{', '.join(TOKEN_ROLES)} (admin comes with an API key only)"
            )
        return TokenClaims(str(claims["sub"]), organisation, role)
