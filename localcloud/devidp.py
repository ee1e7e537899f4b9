"""The development identity provider: mints phone-user tokens for demo users.

Local only.  It holds one ES256 key pair made at start; its JWKS is what the
``jwt`` phone-auth mode verifies against.  Tests use it to mint good tokens
and, through ``mint(..., key=...)``/``forge_*``, bad ones.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

DEFAULT_ISSUER = "http://qrlogin.localhost/dev-idp"
DEFAULT_AUDIENCE = "qrlogin-phone-app"
TOKEN_LIFETIME_SECONDS = 3600
# Bodies over 16 KiB are refused, here as on every route of the stack (DESIGN §3).
MAX_REQUEST_BYTES = 16 * 1024
MAX_SUBJECT_LENGTH = 256


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DevIdentityProvider:
    def __init__(self, issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "dev-" + secrets.token_hex(4)

    def jwks(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        return {"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }]}

    def claims(self, sub: str, name: str | None = None, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": sub,
            "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME_SECONDS,
        }
        if name:
            claims["name"] = name
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(self, sub: str, name: str | None = None, *, key: Any = None, kid: str | None = None,
             algorithm: str = "ES256", **overrides: Any) -> str:
        return jwt.encode(self.claims(sub, name, **overrides), key or self.private_key, algorithm=algorithm,
                          headers={"kid": kid or self.kid})

    def token_response(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """``POST /dev/phone-token``: ``{"sub", "name"?}`` -> (status, JSON answer); errors as the contract's."""
        if len(body) > MAX_REQUEST_BYTES:
            return 413, {"error": "payload_too_large", "message": "The request body is larger than 16 KiB."}
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return _invalid('Send a JSON object {"sub": ..., "name": ...}.')
        sub, name = request.get("sub"), request.get("name")
        if not isinstance(sub, str) or not sub.strip() or len(sub) > MAX_SUBJECT_LENGTH:
            return _invalid("sub must be a non-empty string.")
        if name is not None and not isinstance(name, str):
            return _invalid("name must be a string.")
        return 200, {"access_token": self.mint(sub.strip(), name), "token_type": "Bearer"}

    def forge_alg_none(self, sub: str, name: str | None = None) -> str:
        header = _b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": self.kid}).encode())
        body = _b64url(json.dumps(self.claims(sub, name)).encode())
        return f"{header}.{body}."


def _invalid(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": "invalid_request", "message": message}
