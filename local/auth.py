"""A local token issuer and API Gateway's JWT authorizer, so that the authenticated path runs end to end offline.

`up --auth` makes an RSA key for the session, prints a development token, and the front then checks every route's
`Authorization` header as a deployed JWT authorizer does (RS256 signature, issuer, audience, expiry, not-before):
401 `{"message": "Unauthorized"}` otherwise, and the verified claims reach the function in
`requestContext.authorizer.jwt`. Plain `up` stays open.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

LOCAL_ISSUER = "https://issuer.image-analyzer.local"
LOCAL_AUDIENCE = "image-analyzer-local"
DEFAULT_LIFETIME_S = 12 * 3600
_LEEWAY_S = 0  # API Gateway allows no clock skew


@dataclass
class LocalIssuer:
    issuer: str = LOCAL_ISSUER
    audience: str = LOCAL_AUDIENCE
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": uuid.uuid4().hex[:8]}))

    def token(self, subject: str = "developer", lifetime_s: int = DEFAULT_LIFETIME_S, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": self.audience, "sub": subject, "iat": now, "nbf": now}
        payload |= {"exp": now + lifetime_s, "jti": uuid.uuid4().hex} | claims
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, payload, self.key)

    def verify(self, authorization: str | None) -> dict[str, Any] | None:
        """The token's claims if the header carries a valid token of this issuer; else None. Like API Gateway,
        it takes the token with or without the "Bearer " prefix."""
        if not authorization:
            return None
        token = authorization.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        try:
            decoded = jwt.decode(token, self.key, algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                now=int(time.time()),
                leeway=_LEEWAY_S,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
                # No rule on sub: API Gateway's authorizer has none either; the handlers refuse a token without one.
            ).validate(decoded.claims)
        except (JoseError, ValueError, TypeError):
            return None
        return dict(decoded.claims)


def authorizer_context(claims: dict[str, Any]) -> dict[str, Any]:
    """`requestContext.authorizer` as API Gateway's JWT authorizer fills it: every claim as a string."""
    scopes = str(claims.get("scope", "")).split() or None
    return {"jwt": {"claims": {k: str(v) for k, v in claims.items()}, "scopes": scopes}}
