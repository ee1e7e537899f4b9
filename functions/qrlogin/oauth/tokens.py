"""The tokens a client gets from /token: an OIDC id_token and an RFC 9068 access token.

- id_token (OIDC Core §2): ``iss, sub, aud = client_id, azp, exp, iat,
  auth_time, nonce?, amr, name?``, signed with the client's registered
  algorithm (RS256 unless it named ES256).
- access token (RFC 9068): ``typ: at+jwt``, RS256 (the only family an API
  Gateway JWT authorizer verifies), ``iss, exp, aud = the configured API
  audience, sub, client_id, iat, jti, scope, auth_time``.  /userinfo accepts it.

Signing is ``qrlogin.signing``'s: ``signer.sign(claims, algorithm=, typ=)``
and ``signer.jwks``.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from typing import Any

from qrlogin.oauth import errors
from qrlogin.oauth.clients import Client

TOKEN_LIFETIME_SECONDS = 300
ACCESS_TOKEN_ALG = "RS256"
ACCESS_TOKEN_TYP = "at+jwt"
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


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_access_token(token: str, jwks: dict[str, Any], *, issuer: str, audience: str,
                        now: float) -> dict[str, Any]:
    """The claims of one of our access tokens, or InvalidToken.

    Checks the RFC 9068 profile: ``typ`` at+jwt, RS256 only, signature by a key of
    our JWKS (by ``kid``), ``iss``, ``aud``, ``exp``.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise errors.InvalidToken()
    parts = token.split(".")
    if len(parts) != 3:
        raise errors.InvalidToken()
    try:
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
        signature = _b64decode(parts[2])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise errors.InvalidToken() from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise errors.InvalidToken()
    if header.get("alg") != ACCESS_TOKEN_ALG or str(header.get("typ", "")).lower() not in ("at+jwt",
                                                                                          "application/at+jwt"):
        raise errors.InvalidToken()
    key = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid") and k.get("kty") == "RSA"), None)
    if key is None or not _rsa_signature_valid(key, f"{parts[0]}.{parts[1]}".encode("ascii"), signature):
        raise errors.InvalidToken()
    exp = claims.get("exp")
    if claims.get("iss") != issuer or claims.get("aud") != audience:
        raise errors.InvalidToken()
    if not isinstance(exp, int) or exp + LEEWAY_SECONDS <= now or not isinstance(claims.get("sub"), str):
        raise errors.InvalidToken("The access token is expired or malformed.")
    return claims


def _rsa_signature_valid(jwk: dict[str, Any], signing_input: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        numbers = rsa.RSAPublicNumbers(int.from_bytes(_b64decode(jwk["e"]), "big"),
                                       int.from_bytes(_b64decode(jwk["n"]), "big"))
        numbers.public_key().verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, KeyError, ValueError, binascii.Error):
        return False
    return True
