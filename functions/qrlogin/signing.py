"""Signed tokens: ES256 or RS256 JWTs, signed with keys that KMS protects (``SigningKeyMode``).

- ``envelope`` (default): a P-256 and an RSA-2048 key whose private halves are
  stored encrypted under the stack's (symmetric) KMS key, each decrypted once per
  container when first needed; tokens are signed in-process.
- ``kms``: the stack's KMS keys sign every token (ECC_NIST_P256 for ES256,
  RSA_2048 for RS256); the private keys never leave KMS (one Sign per token).

Which key signs and which keys the JWKS publishes is ``qrlogin.keyring``'s
business; the keyrings live in the table (``store``).  Keys are made lazily, one
algorithm at a time: the first token of an algorithm (or the first JWKS
request) makes its key, and a key bound to another KMS key or mode than the
stack's is replaced the same way instead of failing every token.

KMS returns a DER ECDSA signature; JOSE wants the raw 64-byte r||s (RFC 7518
§3.4).  The public keys are published as JWKs (RFC 7517, RFC 7518 §6).

DER handling for ECDSA is written out here (a few lines for two fixed shapes)
so that reading the JWKS and signing in kms mode import no ``cryptography``.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qrlogin import errors
from qrlogin.config import Settings
from qrlogin.keyring import (
    ENVELOPE,
    KEY_REFRESH_SECONDS,
    KMS,
    MAX_TOKEN_LIFETIME_SECONDS,
    ROTATION_NOTICE_SECONDS,
    KeyEntry,
    Keyring,
    public_jwks,
)
from qrlogin.observability import logger
from qrlogin.sessions import Session
from qrlogin.store import SessionStore

# The JOSE algorithms tokens can be signed with (OIDC makes RS256 mandatory).
SIGNING_ALGORITHMS = ("ES256", "RS256")
# id_tokens of QR logins live five minutes at most (DESIGN §3).
ID_TOKEN_LIFETIME_SECONDS = 300
# Writers racing for a keyring item: each loser re-reads, at most this many rounds.
_KEYRING_WRITE_ATTEMPTS = 3

# DER prefix of a SubjectPublicKeyInfo for an uncompressed P-256 point:
# SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING 04||X||Y }.
_P256_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
# KMS's name for each JOSE algorithm's signature scheme.
_KMS_SIGNING_ALGORITHMS = {"ES256": "ECDSA_SHA_256", "RS256": "RSASSA_PKCS1_V1_5_SHA_256"}

# Binds an encrypted private key to its purpose (and, per key, to its kid and
# algorithm): KMS refuses to decrypt it under any other context.
ENVELOPE_CONTEXT = {"purpose": "qrlogin-id-token-signing-key"}


def envelope_context(entry_kid: str, algorithm: str) -> dict[str, str]:
    return {**ENVELOPE_CONTEXT, "kid": entry_kid, "alg": algorithm}


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


def rsa_jwk(spki_der: bytes, kid: str) -> dict[str, str]:
    """An RS256 JWK (RFC 7518 §6.3.1) of an RSA key of at least 2048 bits."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    key = load_der_public_key(spki_der)
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise ValueError("not an RSA public key of at least 2048 bits")
    numbers = key.public_numbers()
    return {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": kid,
        "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
    }


def public_jwk(algorithm: str, spki_der: bytes, kid: str) -> dict[str, str]:
    return p256_jwk(spki_der, kid) if algorithm == "ES256" else rsa_jwk(spki_der, kid)


def _unavailable() -> errors.ServiceUnavailable:
    return errors.ServiceUnavailable("The signing service is unavailable; try again.", retry_after=1)


class SigningKeys:
    """The stack's signing keys as one container sees them; subclasses say where private keys live.

    Keyrings are read once and re-read when older than KEY_REFRESH_SECONDS, so a
    container meets a rotation's new current key within that time and loads it.
    """

    mode = ""

    def __init__(self, store: SessionStore, kms_key_ids: dict[str, str], client: Any = None) -> None:
        self.store = store
        # The KMS key each algorithm's keys must be bound to (the stack's configuration).
        self.kms_key_ids = kms_key_ids
        self._client = client
        self._keyrings: dict[str, tuple[Keyring, float]] = {}

    @property
    def client(self) -> Any:
        """The KMS client, made on first use."""
        if self._client is None:
            from qrlogin.aws import client

            self._client = client("kms")
        return self._client

    def bound(self, entry: KeyEntry) -> bool:
        return entry.bound_to(self.mode, self.kms_key_ids[entry.algorithm])

    def keyring(self, algorithm: str, now: float, *, fresh: bool = False) -> Keyring | None:
        cached = self._keyrings.get(algorithm)
        if not fresh and cached is not None and 0 <= now - cached[1] < KEY_REFRESH_SECONDS:
            return cached[0]
        ring = self.store.get_keyring(algorithm)
        if ring is not None:
            self._keyrings[algorithm] = (ring, now)
        return ring

    def signing_entry(self, algorithm: str, now: float, *, fresh: bool = False) -> KeyEntry:
        """The key that signs ``algorithm`` now: the keyring's current key if it is bound to this
        stack's KMS key and mode, else a new one (made once, whichever container gets there first)."""
        ring = self.keyring(algorithm, now, fresh=fresh)
        current = ring.current(now) if ring is not None else None
        if current is not None and self.bound(current):
            return current
        return self._add_current_key(algorithm, now, ring)

    def _add_current_key(self, algorithm: str, now: float, ring: Keyring | None) -> KeyEntry:
        replaced = ring.current(now) if ring is not None else None
        entry = self.new_entry(algorithm, int(now))
        for _ in range(_KEYRING_WRITE_ATTEMPTS):
            base = ring if ring is not None else self._first_keyring(algorithm)
            updated = base.with_key(entry, now)
            if self.store.put_keyring(updated):
                self._keyrings[algorithm] = (updated, now)
                # An operator wants to know when a KMS key change made a new key (kids are public).
                logger.info("signing key made", extra={
                    "kid": entry.kid, "algorithm": algorithm, "mode": self.mode,
                    "replaces": replaced.kid if replaced is not None else None,
                    "because": "no key" if replaced is None else "bound to another KMS key or mode"})
                return entry
            # Another container wrote first: its key will do if it is bound as ours would be.
            ring = self.store.get_keyring(algorithm, consistent=True)
            current = ring.current(now) if ring is not None else None
            if ring is not None and current is not None and self.bound(current):
                self._keyrings[algorithm] = (ring, now)
                return current
        raise errors.ServiceUnavailable(retry_after=1)

    def _first_keyring(self, algorithm: str) -> Keyring:
        # The pre-keyring key stays published (retired) while tokens it signed may live.
        legacy = self.store.get_legacy_signing_key() if algorithm == "ES256" else None
        return Keyring(algorithm, 0, (legacy,) if legacy is not None else ())

    def jwks(self, now: float) -> dict[str, Any]:
        """Every published key of every algorithm; a missing or unbound current key is made first,
        so the set is never empty and always holds the keys the next tokens will name.  Read
        afresh each time (relying parties cache the answer; a rotation shows at once)."""
        rings = []
        for algorithm in SIGNING_ALGORITHMS:
            self.signing_entry(algorithm, now, fresh=True)
            ring = self.keyring(algorithm, now)
            assert ring is not None
            rings.append(ring)
        return public_jwks(rings, now)

    def rotate(self, algorithm: str, now: float, activate_in: int = ROTATION_NOTICE_SECONDS) -> KeyEntry:
        """Add a new key that becomes current ``activate_in`` seconds from now (published at once).

        The operator's rotation (scripts/signing_keys.py).  Containers switch to the new
        key when it becomes active; the JWKS keeps the previous one until every token it
        can have signed has expired (qrlogin.keyring).
        """
        if activate_in < 0:
            raise ValueError("activate_in must be >= 0")
        entry = self.new_entry(algorithm, int(now) + activate_in)
        for _ in range(_KEYRING_WRITE_ATTEMPTS):
            ring = self.store.get_keyring(algorithm, consistent=True)
            base = ring if ring is not None else self._first_keyring(algorithm)
            updated = base.with_key(entry, now)
            if self.store.put_keyring(updated):
                self._keyrings[algorithm] = (updated, now)
                return entry
        raise errors.ServiceUnavailable(retry_after=1)

    def new_entry(self, algorithm: str, now: int) -> KeyEntry:
        raise NotImplementedError

    def signature(self, entry: KeyEntry, signing_input: bytes) -> bytes:
        """The JWS signature (raw r||s for ES256, PKCS#1 v1.5 for RS256) of ``signing_input``."""
        raise NotImplementedError


class KmsKeys(SigningKeys):
    """``SigningKeyMode=kms``: each algorithm's KMS key is its signing key; the kid is the KMS key id."""

    mode = KMS

    def rotate(self, algorithm: str, now: float, activate_in: int = ROTATION_NOTICE_SECONDS) -> KeyEntry:
        # The key is the KMS key: a new one comes with a new KMS key (README, "Signing keys and rotation").
        raise ValueError("SigningKeyMode=kms: rotate by replacing the KMS key; the stack then makes the new "
                         "key current and keeps publishing the old one")

    def new_entry(self, algorithm: str, now: int) -> KeyEntry:
        key_arn = self.kms_key_ids[algorithm]
        if not key_arn:
            raise errors.ServiceUnavailable(f"No KMS key is configured for {algorithm}.", retry_after=60)
        try:
            spki = bytes(self.client.get_public_key(KeyId=key_arn)["PublicKey"])
        except (ClientError, BotoCoreError):
            raise _unavailable() from None
        # The key id is the last part of a key ARN ("arn:...:key/<id>") or the id itself.
        kid = key_arn.rsplit("/", 1)[-1]
        return KeyEntry(kid, algorithm, public_jwk(algorithm, spki, kid), KMS, key_arn, now)

    def signature(self, entry: KeyEntry, signing_input: bytes) -> bytes:
        try:
            signature = bytes(self.client.sign(
                KeyId=entry.protected_by,
                Message=signing_input,
                MessageType="RAW",
                SigningAlgorithm=_KMS_SIGNING_ALGORITHMS[entry.algorithm],
            )["Signature"])
        except (ClientError, BotoCoreError):
            raise _unavailable() from None
        return der_signature_to_raw(signature) if entry.algorithm == "ES256" else signature


class EnvelopeKeys(SigningKeys):
    """``SigningKeyMode=envelope``: keys made here, private halves stored encrypted under the KMS key.

    The first container that needs a key of an algorithm makes it and encrypts
    it (``kms:Encrypt``, once per key); every container decrypts a key once
    (``kms:Decrypt``) and signs in memory.  One KMS request per cold start
    instead of one per token; the price is that the private key is in the
    signing function's memory.
    """

    mode = ENVELOPE

    def __init__(self, store: SessionStore, kms_key_ids: dict[str, str], client: Any = None) -> None:
        super().__init__(store, kms_key_ids, client)
        self._private_keys: dict[str, Any] = {}

    def new_entry(self, algorithm: str, now: int) -> KeyEntry:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        private_key: Any = (ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256"
                            else rsa.generate_private_key(public_exponent=65537, key_size=2048))
        kid = "qrl-" + secrets.token_urlsafe(9)
        spki = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        pkcs8 = private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key_arn = self.kms_key_ids[algorithm]
        try:
            ciphertext = self.client.encrypt(KeyId=key_arn, Plaintext=pkcs8,
                                             EncryptionContext=envelope_context(kid, algorithm))["CiphertextBlob"]
        except (ClientError, BotoCoreError):
            raise _unavailable() from None
        self._private_keys[kid] = private_key
        return KeyEntry(kid, algorithm, public_jwk(algorithm, spki, kid), ENVELOPE, key_arn, now, bytes(ciphertext))

    def _private_key(self, entry: KeyEntry) -> Any:
        """The entry's private key, decrypted the first time this container signs with it."""
        key = self._private_keys.get(entry.kid)
        if key is None:
            from cryptography.hazmat.primitives.serialization import load_der_private_key

            try:
                plaintext = self.client.decrypt(KeyId=entry.protected_by, CiphertextBlob=entry.ciphertext,
                                                EncryptionContext=envelope_context(entry.kid, entry.algorithm))
            except (ClientError, BotoCoreError):
                raise _unavailable() from None
            key = self._private_keys[entry.kid] = load_der_private_key(plaintext["Plaintext"], password=None)
        return key

    def signature(self, entry: KeyEntry, signing_input: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding

        key = self._private_key(entry)
        if entry.algorithm == "ES256":
            return der_signature_to_raw(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        return bytes(key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))


class TokenSigner:
    """Builds and signs tokens; ``keys`` says which key signs and where its private half lives."""

    def __init__(self, issuer: str, audience: str, keys: SigningKeys) -> None:
        self.issuer = issuer
        self.audience = audience
        self.keys = keys

    @property
    def client(self) -> Any:
        """The KMS client the keys use (tests stub it)."""
        return self.keys.client

    def claims_for(self, session: Session, now: int) -> dict[str, Any]:
        """The id_token of a QR login (DESIGN §3)."""
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

    def sign(self, claims: dict[str, Any], algorithm: str = "ES256", typ: str = "JWT") -> str:
        """A compact JWS of ``claims`` as given, with header ``{alg, typ, kid}``.

        ``claims`` must carry ``exp`` no more than MAX_TOKEN_LIFETIME_SECONDS after
        ``iat`` (or now): a retired key stays in the JWKS that long, so every token
        signed here verifies until it expires.
        """
        if algorithm not in SIGNING_ALGORITHMS:
            raise ValueError(f"cannot sign with {algorithm!r}; one of {', '.join(SIGNING_ALGORITHMS)}")
        now = time.time()
        exp, iat = claims.get("exp"), claims.get("iat", now)
        numbers = isinstance(exp, int | float) and isinstance(iat, int | float)
        if not numbers or exp - iat > MAX_TOKEN_LIFETIME_SECONDS:
            raise ValueError(f"a token needs an exp at most {MAX_TOKEN_LIFETIME_SECONDS} s after its iat")
        entry = self.keys.signing_entry(algorithm, now)
        header = {"alg": algorithm, "typ": typ, "kid": entry.kid}
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self.keys.signature(entry, signing_input.encode("ascii"))
        return f"{signing_input}.{b64url(signature)}"

    @property
    def jwks(self) -> dict[str, Any]:
        """Every published public key (each with kid, alg, use; never a private member); never empty."""
        return self.keys.jwks(time.time())


def kms_key_ids(settings: Settings) -> dict[str, str]:
    """The KMS key that must protect each algorithm's keys under this configuration."""
    if settings.signing_key_mode == KMS:
        return {"ES256": settings.signing_key_id, "RS256": settings.rsa_signing_key_id}
    return dict.fromkeys(SIGNING_ALGORITHMS, settings.signing_key_id)


def signer_for(settings: Settings, store: SessionStore, client: Any = None) -> TokenSigner:
    """The signer ``SIGNING_KEY_MODE`` asks for."""
    keys_class = KmsKeys if settings.signing_key_mode == KMS else EnvelopeKeys
    return TokenSigner(settings.token_issuer, settings.token_audience,
                       keys_class(store, kms_key_ids(settings), client))
