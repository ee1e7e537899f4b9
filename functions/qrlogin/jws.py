"""Compact JWS verification (RS256, ES256) with ``cryptography``'s primitives only.

Used for phone tokens (``phone_auth``) and for our own access tokens at /userinfo.

PyJWT imports the whole of ``cryptography`` (x509, SSH key serialization,
ciphers) at its first use, which the confirm function pays inside its cold
start before its first AWS call (docs/performance.md).  Verifying an RS256
or ES256 signature needs only the asymmetric primitives and SHA-256, so this
module does what ``jwt_mode`` used PyJWT for, in the same order and with the
same refusals: parse the compact form strictly (RFC 7515 §7.1), turn a JWK
into a public key (RFC 7517, RFC 7518 §6), verify the signature (RFC 7518
§3.3 RSASSA-PKCS1-v1_5 with SHA-256, §3.4 ECDSA P-256 with SHA-256 and the
64-byte R||S form), then the registered claims (RFC 7519 §4.1: ``exp``,
``nbf``, ``iat`` with leeway; ``iss`` equal to the configured issuer).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

# No token we verify comes near it; a bigger one is refused before it is decoded.
MAX_TOKEN_LENGTH = 16 * 1024

ES256_SIGNATURE_BYTES = 64  # R || S, 32 bytes each (RFC 7518 §3.4)


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class JwsError(ValueError):
    """Not a well-formed, correctly signed JWS, or a JWK we cannot use."""


class ExpiredError(JwsError):
    """The token's ``exp`` has passed (beyond the leeway)."""


@dataclass(frozen=True)
class PublicKey:
    """A verification key and the one algorithm it is for (``RS256`` or ``ES256``)."""

    algorithm_name: str
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    key_id: str | None = None


@dataclass(frozen=True)
class Jws:
    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes


def b64url_decode(part: str) -> bytes:
    """Unpadded base64url (RFC 7515 §2); anything else, padding included, is refused."""
    if not _B64URL.fullmatch(part):
        raise JwsError("not base64url")
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise JwsError("not base64url") from None


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise JwsError("not JSON") from None
    if not isinstance(value, dict):
        raise JwsError("not a JSON object")
    return value


def parse(token: str) -> Jws:
    """header.payload.signature, each base64url; the header a JSON object (payload checked after the signature)."""
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        raise JwsError("not a compact JWS")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise JwsError("not a compact JWS")
    header = _json_object(b64url_decode(parts[0]))
    return Jws(header, b64url_decode(parts[1]), f"{parts[0]}.{parts[1]}".encode("ascii"), b64url_decode(parts[2]))


def _int(member: Any) -> int:
    if not isinstance(member, str):
        raise JwsError("a JWK member is not a string")
    return int.from_bytes(b64url_decode(member), "big")


def public_key(jwk: dict[str, Any]) -> PublicKey:
    """An RSA or EC P-256 public JWK as a key; its ``alg``, when present, must be the one the key type gives."""
    kty = jwk.get("kty")
    if kty == "RSA":
        algorithm = "RS256"
        key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey = rsa.RSAPublicNumbers(
            _int(jwk.get("e")), _int(jwk.get("n"))).public_key()
    elif kty == "EC" and jwk.get("crv") == "P-256":
        algorithm = "ES256"
        key = ec.EllipticCurvePublicNumbers(_int(jwk.get("x")), _int(jwk.get("y")), ec.SECP256R1()).public_key()
    else:
        raise JwsError("a key type we do not use")
    if jwk.get("alg", algorithm) != algorithm:
        raise JwsError("a key for another algorithm")
    kid = jwk.get("kid")
    return PublicKey(algorithm, key, kid if isinstance(kid, str) else None)


def verify_signature(jws: Jws, key: PublicKey) -> None:
    try:
        if key.algorithm_name == "RS256" and isinstance(key.key, rsa.RSAPublicKey):
            key.key.verify(jws.signature, jws.signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif key.algorithm_name == "ES256" and isinstance(key.key, ec.EllipticCurvePublicKey):
            if len(jws.signature) != ES256_SIGNATURE_BYTES:
                raise JwsError("an ES256 signature is 64 bytes")
            r = int.from_bytes(jws.signature[:32], "big")
            s = int.from_bytes(jws.signature[32:], "big")
            key.key.verify(utils.encode_dss_signature(r, s), jws.signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            raise JwsError("no such algorithm")
    except InvalidSignature:
        raise JwsError("bad signature") from None


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JwsError(f"{name} is not a number")
    return float(value)


def verified_claims(jws: Jws, key: PublicKey, *, issuer: str, now: float, leeway: float,
                    required: tuple[str, ...] = ("exp", "iss", "sub")) -> dict[str, Any]:
    """The payload's claims once the signature, the required claims, the times and the issuer check out."""
    verify_signature(jws, key)
    claims = _json_object(jws.payload)
    missing = [name for name in required if name not in claims]
    if missing:
        raise JwsError(f"missing {', '.join(missing)}")
    expires, not_before, issued = _number(claims, "exp"), _number(claims, "nbf"), _number(claims, "iat")
    if expires is not None and now > expires + leeway:
        raise ExpiredError("expired")
    if not_before is not None and now + leeway < not_before:
        raise JwsError("not valid yet")
    if issued is not None and now + leeway < issued:
        raise JwsError("issued in the future")
    if claims.get("iss") != issuer:
        raise JwsError("another issuer")
    return claims
