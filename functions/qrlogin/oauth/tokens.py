"""The tokens a client gets from /token: an OIDC id_token and an RFC 9068 access token.

- id_token (OIDC Core §2): ``iss, sub, aud = client_id, azp, exp, iat,
  auth_time, nonce?, amr, name?``, signed with the client's registered
  algorithm (RS256 unless it named ES256).
- access token (RFC 9068): ``typ: at+jwt``, RS256 (the only family an API
  Gateway JWT authorizer verifies), ``iss, exp, aud = the configured API
  audience, sub, client_id, iat, jti, scope, auth_time, name?``.  /userinfo
  accepts it and answers from it alone.

Signing is ``qrlogin.signing``'s: ``signer.sign(claims, algorithm=, typ=)``;
/userinfo checks with the key its kid names in the signer's RS256 keyring.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qrlogin.oauth import errors
from qrlogin.oauth.clients import Client

TOKEN_LIFETIME_SECONDS = 300
ACCESS_TOKEN_ALG = "RS256"
ACCESS_TOKEN_TYP = "at+jwt"
ACCESS_TOKEN_TYPS = (ACCESS_TOKEN_TYP, f"application/{ACCESS_TOKEN_TYP}")  # RFC 9068 §2.1 allows either
# Clock skew tolerated when checking an access token's exp/iat.
LEEWAY_SECONDS = 30
MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True)
class Grant:
    """What a grant established: who approved, for which client, with what scope."""

    client: Client
    sub: str
    name: str | None
    auth_time: int
    scope: str
    nonce: str | None = None


class TokenMinter:
    def __init__(self, signer: Any, access_token_audience: str) -> None:
        self.signer = signer
        self.access_token_audience = access_token_audience

    def id_token_claims(self, grant: Grant, issuer: str, now: int) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": grant.sub,
            "aud": grant.client.client_id,
            "azp": grant.client.client_id,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "iat": now,
            "auth_time": grant.auth_time,
            "amr": ["qr"],
            "jti": secrets.token_urlsafe(16),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        if grant.name:
            claims["name"] = grant.name
        return claims

    def access_token_claims(self, grant: Grant, issuer: str, now: int) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": grant.sub,
            "aud": self.access_token_audience,
            "client_id": grant.client.client_id,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
            "scope": grant.scope,
            "auth_time": grant.auth_time,
        }
        if grant.name:
            claims["name"] = grant.name  # so that /userinfo can answer from the token alone
        return claims

    def mint(self, grant: Grant, issuer: str, now: int) -> dict[str, Any]:
        """The token response body (RFC 6749 §5.1, OIDC Core §3.1.3.3)."""
        id_token = self.signer.sign(self.id_token_claims(grant, issuer, now),
                                    algorithm=grant.client.id_token_signed_response_alg, typ="JWT")
        access_token = self.signer.sign(self.access_token_claims(grant, issuer, now),
                                        algorithm=ACCESS_TOKEN_ALG, typ=ACCESS_TOKEN_TYP)
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "id_token": id_token,
            "scope": grant.scope,
        }


# -- checking an access token (/userinfo) ----------------------------------------------


def access_token_key(signer: Any, kid: str, now: float) -> dict[str, Any] | None:
    """Our published RS256 public key named ``kid``, or None.

    The container's keyring copy (re-read every KEY_REFRESH_SECONDS), read afresh once
    for a kid it does not know: a key another container made since.  Not ``signer.jwks``,
    which reads every keyring afresh (and may make a key) on each call.
    """
    for fresh in (False, True):
        ring = signer.keys.keyring(ACCESS_TOKEN_ALG, now, fresh=fresh)
        found = next((e.public_jwk for e in ring.published(now) if e.kid == kid), None) if ring else None
        if found is not None:
            return dict(found)
    return None


def verify_access_token(token: str, key_for: Callable[[str], dict[str, Any] | None], *, issuer: str,
                        audience: str, now: float) -> dict[str, Any]:
    """The claims of one of our access tokens, or InvalidToken.

    Checks the RFC 9068 profile: ``typ`` at+jwt, RS256 only, signature by the key
    ``key_for(kid)`` gives, ``iss``, ``aud``, ``exp`` (qrlogin.jws does the JWS part).
    """
    from qrlogin import jws  # on first use: cryptography's primitives stay out of the cold start

    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise errors.InvalidToken()
    try:
        parsed = jws.parse(token)
        header, kid = parsed.header, parsed.header.get("kid")
        if header.get("alg") != ACCESS_TOKEN_ALG or str(header.get("typ", "")).lower() not in ACCESS_TOKEN_TYPS:
            raise errors.InvalidToken()
        jwk = key_for(kid) if isinstance(kid, str) else None
        key = jws.public_key(jwk) if jwk is not None else None
        if key is None or key.algorithm_name != ACCESS_TOKEN_ALG:
            raise errors.InvalidToken()
        claims = jws.verified_claims(parsed, key, issuer=issuer, now=now, leeway=LEEWAY_SECONDS)
    except jws.ExpiredError:
        raise errors.InvalidToken("The access token is expired or malformed.") from None
    except jws.JwsError:
        raise errors.InvalidToken() from None
    if claims.get("aud") != audience or not isinstance(claims.get("sub"), str):
        raise errors.InvalidToken()
    return claims
