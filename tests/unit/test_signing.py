"""id_tokens: KMS's DER signatures made JOSE's r||s, the KMS public key as a JWK, the claims."""

from __future__ import annotations

import base64

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from qrlogin.sessions import Session, Status
from qrlogin.signing import ID_TOKEN_LIFETIME_SECONDS, KmsTokenSigner, der_signature_to_raw, p256_jwk

ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # of P-256


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize(("r", "s"), [
    (1, 2),                                   # one-byte integers
    (2**255, 2**255 + 1),                     # high bit set: DER adds a 0x00 byte (33 bytes)
    (ORDER - 1, ORDER - 2),                   # the largest values
    (0x7F, 0x80),                             # the sign-bit boundary
    (2**248 - 1, 2**8),                       # a 31-byte integer: raw output pads it back to 32
])
def test_der_becomes_fixed_width_r_and_s(r, s):
    assert der_signature_to_raw(encode_dss_signature(r, s)) == r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_real_signatures_survive_the_conversion():
    # Given 64 ECDSA signatures by a P-256 key (DER, as KMS returns them)
    key = ec.generate_private_key(ec.SECP256R1())
    for i in range(64):
        message = f"message {i}".encode()
        der = key.sign(message, ec.ECDSA(hashes.SHA256()))

        # Then the raw form holds the same r and s, and verifies again once re-encoded
        raw = der_signature_to_raw(der)
        assert len(raw) == 64
        assert decode_dss_signature(der) == (int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        key.public_key().verify(encode_dss_signature(*decode_dss_signature(der)), message, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("der", [b"", b"\x31\x06\x02\x01\x01\x02\x01\x01", b"\x30\x06\x03\x01\x01\x02\x01\x01"])
def test_what_is_not_a_der_signature_is_refused(der):
    with pytest.raises(ValueError):
        der_signature_to_raw(der)


def test_p256_jwk_carries_the_point_and_verifies_a_token():
    # Given a P-256 key pair and the JWK made from its SubjectPublicKeyInfo
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = p256_jwk(_spki(key.public_key()), "key-1")

    # Then the JWK names the key and holds its point, and a JOSE library verifies with it
    numbers = key.public_key().public_numbers()
    assert {k: jwk[k] for k in ("kty", "crv", "alg", "use", "kid")} == {
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "key-1"}
    assert base64.urlsafe_b64decode(jwk["x"] + "=") == numbers.x.to_bytes(32, "big")
    assert base64.urlsafe_b64decode(jwk["y"] + "=") == numbers.y.to_bytes(32, "big")
    token = jwt.encode({"sub": "alice"}, key, algorithm="ES256")
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"]) == {"sub": "alice"}


@pytest.mark.parametrize("curve", [ec.SECP384R1(), ec.SECP256K1()])
def test_p256_jwk_refuses_other_curves(curve):
    with pytest.raises(ValueError):
        p256_jwk(_spki(ec.generate_private_key(curve).public_key()), "k")


def test_p256_jwk_refuses_a_compressed_point():
    compressed = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)[:-65]
    with pytest.raises(ValueError):
        p256_jwk(compressed + b"\x02" + b"\x00" * 32, "k")


# -- the signer, against moto's KMS ------------------------------------------------------


def _confirmed(name: str | None) -> Session:
    return Session(session_id="S" * 22, status=Status.CONFIRMED, version=3, created_at=1000, expires_at=2000,
                   browser_token_hash="h", request_ip="198.51.100.7", request_user_agent="ua",
                   user_sub="alice", user_name=name, auth_time=1500)


def test_the_kid_is_the_key_id_whether_given_an_arn_or_an_id():
    assert KmsTokenSigner("arn:aws:kms:us-east-1:123456789012:key/abc-123", "i", "a").kid == "abc-123"
    assert KmsTokenSigner("abc-123", "i", "a").kid == "abc-123"


def test_claims_follow_the_contract():
    signer = KmsTokenSigner("k", "https://login.example.com", "example-app")
    claims = signer.claims_for(_confirmed("Alice"), 1600)
    assert {k: v for k, v in claims.items() if k != "jti"} == {
        "iss": "https://login.example.com", "aud": "example-app", "sub": "alice", "iat": 1600,
        "exp": 1600 + ID_TOKEN_LIFETIME_SECONDS, "auth_time": 1500, "amr": ["qr"], "name": "Alice"}
    assert ID_TOKEN_LIFETIME_SECONDS <= 300
    assert "name" not in signer.claims_for(_confirmed(None), 1600)
    assert len({signer.claims_for(_confirmed(None), 1600)["jti"] for _ in range(100)}) == 100


@pytest.mark.parametrize("signing_mode", ["kms"])
def test_a_kms_signed_token_verifies_against_the_published_jwks(aws, signing_mode):
    # Given the signer on moto's KMS key
    signer = KmsTokenSigner(aws["key_arn"], "https://login.example.com", "example-app", client=aws["kms"])

    # When it signs a session's claims
    token = signer.sign(signer.claims_for(_confirmed("Alice"), 1600))

    # Then the header names the key, and the token verifies with the JWKS key only
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "typ": "JWT", "kid": signer.kid}
    (jwk,) = signer.jwks["keys"]
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"], audience="example-app",
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["sub"] == "alice"
    other = jwt.PyJWK(p256_jwk(_spki(ec.generate_private_key(ec.SECP256R1()).public_key()), "x")).key
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["ES256"], audience="example-app", options={"verify_exp": False})
