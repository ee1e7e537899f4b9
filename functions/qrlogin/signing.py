"""id_tokens: ES256 JWTs signed by a KMS key (ECC_NIST_P256, SIGN_VERIFY).

KMS returns a DER-encoded ECDSA signature; JOSE wants the raw 64-byte r||s
(RFC 7518 §3.4).  The public key is published as a JWK (RFC 7517) whose
``kid`` is the KMS key id, so signing needs no GetPublicKey call.

DER handling is written out here (a few lines for two fixed shapes) to keep
``cryptography`` out of the status and issue functions' cold start.
"""

from __future__ import annotations

import base64
import json
import secrets
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qrlogin import errors
from qrlogin.sessions import Session

# id_tokens live five minutes at most (DESIGN §3).
ID_TOKEN_LIFETIME_SECONDS = 300

# DER prefix of a SubjectPublicKeyInfo for an uncompressed P-256 point:
# SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 04||X||Y }.
_P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def der_signature_to_raw(der: bytes, size: int = 32) -> bytes:
    """ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r||s, each ``size`` bytes."""

    def read_length(pos: int) -> tuple[int, int]:
        length = der[pos]
        if length < 0x80:
            return length, pos + 1
        count = length & 0x7F
        return int.from_bytes(der[pos + 1 : pos + 1 + count], "big"), pos + 1 + count

    if not der or der[0] != 0x30:
        raise ValueError("not a DER sequence")
    _, pos = read_length(1)
    parts = []
    for _ in range(2):
        if der[pos] != 0x02:
            raise ValueError("not a DER integer")
        length, pos = read_length(pos + 1)
        value = int.from_bytes(der[pos : pos + length], "big")
        parts.append(value.to_bytes(size, "big"))
        pos += length
    return b"".join(parts)


def p256_jwk(spki_der: bytes, kid: str) -> dict[str, str]:
    if not spki_der.startswith(_P256_SPKI_PREFIX) or len(spki_der) != len(_P256_SPKI_PREFIX) + 65:
        raise ValueError("not an uncompressed P-256 public key")
    point = spki_der[len(_P256_SPKI_PREFIX) + 1 :]
    return {
        "kty": "EC",
        "crv": "P-256",
        "alg": "ES256",
        "use": "sig",
        "kid": kid,
        "x": b64url(point[:32]),
        "y": b64url(point[32:]),
    }


class KmsTokenSigner:
    def __init__(self, key_id: str, issuer: str, audience: str, client: Any = None) -> None:
        self.key_id = key_id
        self.issuer = issuer
        self.audience = audience
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from qrlogin.aws import client

            self._client = client("kms")
        return self._client

    @property
    def kid(self) -> str:
        # The key id is the last part of a key ARN ("arn:...:key/<id>") or the id itself.
        return self.key_id.rsplit("/", 1)[-1]

    @cached_property
    def jwks(self) -> dict[str, Any]:
        """The JWKS document, fetched from KMS once per container."""
        try:
            public_key = self.client.get_public_key(KeyId=self.key_id)["PublicKey"]
        except (ClientError, BotoCoreError):
            raise errors.ServiceUnavailable() from None
        return {"keys": [p256_jwk(public_key, self.kid)]}

    def claims_for(self, session: Session, now: int) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": session.user_sub,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME_SECONDS,
            "jti": secrets.token_urlsafe(16),
            "auth_time": session.auth_time or now,
            "amr": ["qr"],
        }
        if session.user_name:
            claims["name"] = session.user_name
        return claims

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "ES256", "typ": "JWT", "kid": self.kid}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        try:
            der = self.client.sign(
                KeyId=self.key_id,
                Message=signing_input.encode("ascii"),
                MessageType="RAW",
                SigningAlgorithm="ECDSA_SHA_256",
            )["Signature"]
        except (ClientError, BotoCoreError):
            raise errors.ServiceUnavailable("The signing service is unavailable; try again.", retry_after=1) from None
        return f"{signing_input}.{b64url(der_signature_to_raw(der))}"
