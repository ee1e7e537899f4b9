"""id_tokens: ES256 JWTs, signed with a key that KMS protects (``SigningKeyMode``).

- ``envelope`` (default): a P-256 key whose private half is stored encrypted
  under the stack's KMS key and decrypted once per container; tokens are
  signed in-process.
- ``kms``: the stack's KMS key is an ECC_NIST_P256 SIGN_VERIFY key and signs
  every token; the private key never leaves KMS (one Sign request per login).

Both produce a DER ECDSA signature; JOSE wants the raw 64-byte r||s
(RFC 7518 §3.4).  The public key is published as a JWK (RFC 7517).

DER handling is written out here (a few lines for two fixed shapes) to keep
``cryptography`` out of the status and issue functions' cold start.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qrlogin import errors
from qrlogin.config import Settings
from qrlogin.sessions import Session
from qrlogin.store import SessionStore, SigningKeyRecord

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


class TokenSigner:
    """Builds and signs id_tokens; subclasses say where the private key lives."""

    def __init__(self, key_id: str, issuer: str, audience: str, client: Any = None) -> None:
        self.key_id = key_id
        self.issuer = issuer
        self.audience = audience
        self._client = client

    @property
    def client(self) -> Any:
        """The KMS client, made on first use."""
        if self._client is None:
            from qrlogin.aws import client

            self._client = client("kms")
        return self._client

    @property
    def kid(self) -> str:
        raise NotImplementedError

    @property
    def jwks(self) -> dict[str, Any]:
        raise NotImplementedError

    def _der_signature(self, signing_input: bytes) -> bytes:
        raise NotImplementedError

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
        der = self._der_signature(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url(der_signature_to_raw(der))}"


class KmsTokenSigner(TokenSigner):
    """``SigningKeyMode=kms``: every token is signed inside KMS; the key never leaves it."""

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

    def _der_signature(self, signing_input: bytes) -> bytes:
        try:
            return bytes(self.client.sign(
                KeyId=self.key_id,
                Message=signing_input,
                MessageType="RAW",
                SigningAlgorithm="ECDSA_SHA_256",
            )["Signature"])
        except (ClientError, BotoCoreError):
            raise errors.ServiceUnavailable("The signing service is unavailable; try again.", retry_after=1) from None


# Binds the encrypted key to its purpose: KMS refuses to decrypt it under any other context.
ENVELOPE_CONTEXT = {"purpose": "qrlogin-id-token-signing-key"}


class EnvelopeTokenSigner(TokenSigner):
    """``SigningKeyMode=envelope``: a P-256 key protected by KMS, used in-process.

    The first container that needs a key makes one, encrypts its private half
    with the stack's KMS key (``kms:Encrypt``, once per stack) and stores it in
    the table; every container decrypts it once (``kms:Decrypt``) and signs in
    memory.  One KMS request per cold start instead of one per login; the price
    is that the private key is in the status function's memory.
    """

    def __init__(self, key_id: str, issuer: str, audience: str, store: SessionStore, client: Any = None) -> None:
        super().__init__(key_id, issuer, audience, client)
        self.store = store
        self._record: SigningKeyRecord | None = None
        self._private_key: Any = None

    @property
    def jwks(self) -> dict[str, Any]:
        # Until the first token is signed there is no key, and nothing to verify.
        record = self._record or self.store.get_signing_key()
        if record is None:
            return {"keys": []}
        self._record = record
        return {"keys": [record.public_jwk]}

    @property
    def kid(self) -> str:
        return self._signing_record().kid

    def _signing_record(self) -> SigningKeyRecord:
        if self._record is None:
            self._record = self.store.get_signing_key() or self._create_record()
        return self._record

    def _create_record(self) -> SigningKeyRecord:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        private_key = ec.generate_private_key(ec.SECP256R1())
        kid = "qrl-" + secrets.token_urlsafe(9)
        spki = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pkcs8 = private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            ciphertext = self.client.encrypt(KeyId=self.key_id, Plaintext=pkcs8,
                                             EncryptionContext=ENVELOPE_CONTEXT)["CiphertextBlob"]
        except (ClientError, BotoCoreError):
            raise errors.ServiceUnavailable("The signing service is unavailable; try again.", retry_after=1) from None
        record = SigningKeyRecord(kid, p256_jwk(spki, kid), bytes(ciphertext))
        if self.store.create_signing_key(record, time.time()):
            return record
        # Another container stored its key first: use that one (read once per stack's life).
        existing = self.store.get_signing_key(consistent=True)
        if existing is None:
            raise errors.ServiceUnavailable(retry_after=1)
        return existing

    def _der_signature(self, signing_input: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if self._private_key is None:
            from cryptography.hazmat.primitives.serialization import load_der_private_key

            record = self._signing_record()
            try:
                plaintext = self.client.decrypt(KeyId=self.key_id, CiphertextBlob=record.private_key_ciphertext,
                                                EncryptionContext=ENVELOPE_CONTEXT)["Plaintext"]
            except (ClientError, BotoCoreError):
                raise errors.ServiceUnavailable("The signing service is unavailable; try again.",
                                                retry_after=1) from None
            self._private_key = load_der_private_key(plaintext, password=None)
        return bytes(self._private_key.sign(signing_input, ec.ECDSA(hashes.SHA256())))


def signer_for(settings: Settings, store: SessionStore, client: Any = None) -> TokenSigner:
    """The signer ``SIGNING_KEY_MODE`` asks for."""
    if settings.signing_key_mode == "kms":
        return KmsTokenSigner(settings.signing_key_id, settings.token_issuer, settings.token_audience, client)
    return EnvelopeTokenSigner(settings.signing_key_id, settings.token_issuer, settings.token_audience, store, client)
