"""Signed tokens: DER signatures made JOSE's r||s, public keys as JWKs, the claims, and the signer's API
(ES256 and RS256, any typ) in both SigningKeyModes against moto's KMS."""

from __future__ import annotations

import base64
import time

import jwt
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from qrlogin import deps
from qrlogin.keyring import MAX_TOKEN_LIFETIME_SECONDS
from qrlogin.sessions import Session, Status
from qrlogin.signing import (
    ID_TOKEN_LIFETIME_SECONDS,
    SIGNING_ALGORITHMS,
    der_signature_to_raw,
    p256_jwk,
    rsa_jwk,
)

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


def test_rsa_jwk_carries_n_and_e_and_verifies_a_token():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = rsa_jwk(_spki(key.public_key()), "rsa-1")
    assert {k: jwk[k] for k in ("kty", "alg", "use", "kid", "e")} == {
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": "rsa-1", "e": "AQAB"}
    assert int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=="), "big") == key.public_key().public_numbers().n
    token = jwt.encode({"sub": "alice"}, key, algorithm="RS256")
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"]) == {"sub": "alice"}


def test_rsa_jwk_refuses_small_and_non_rsa_keys():
    with pytest.raises(ValueError):
        rsa_jwk(_spki(rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()), "k")
    with pytest.raises(ValueError):
        rsa_jwk(_spki(ec.generate_private_key(ec.SECP256R1()).public_key()), "k")


# -- the signer, against moto's KMS, in both modes ------------------------------------


def _confirmed(name: str | None) -> Session:
    return Session(session_id="S" * 22, status=Status.CONFIRMED, version=3, created_at=1000, expires_at=2000,
                   browser_token_hash="h", request_ip="198.51.100.7", request_user_agent="ua",
                   user_sub="alice", user_name=name, auth_time=1500)


def _claims(lifetime: int = 300) -> dict:
    now = int(time.time())
    return {"iss": "https://login.example.com", "sub": "alice", "aud": "client-1", "iat": now, "exp": now + lifetime}


def _verify(token: str, jwks: dict, algorithm: str) -> dict:
    """PyJWT's check with the JWKS key the token's kid names, that algorithm only."""
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[algorithm], audience="client-1")


BOTH_MODES = pytest.mark.parametrize("signing_mode", ["envelope", "kms"])


def test_claims_follow_the_contract(aws):
    signer = deps.signer()
    claims = signer.claims_for(_confirmed("Alice"), 1600)
    assert {k: v for k, v in claims.items() if k != "jti"} == {
        "iss": "https://login.example.com", "aud": "example-app", "sub": "alice", "iat": 1600,
        "exp": 1600 + ID_TOKEN_LIFETIME_SECONDS, "auth_time": 1500, "amr": ["qr"], "name": "Alice"}
    assert ID_TOKEN_LIFETIME_SECONDS <= 300
    assert "name" not in signer.claims_for(_confirmed(None), 1600)
    assert len({signer.claims_for(_confirmed(None), 1600)["jti"] for _ in range(100)}) == 100


@BOTH_MODES
@pytest.mark.parametrize("algorithm", SIGNING_ALGORITHMS)
def test_each_algorithm_signs_tokens_that_verify_with_the_jwks(aws, signing_mode, algorithm):
    # Given the stack's signer
    signer = deps.signer()

    # When it signs claims with that algorithm and a typ of the caller's choice
    token = signer.sign(_claims(), algorithm=algorithm, typ="at+jwt")

    # Then the header is {alg, typ, kid}, the claims are exactly those given, and the JWKS key verifies it
    header = jwt.get_unverified_header(token)
    assert header == {"alg": algorithm, "typ": "at+jwt", "kid": header["kid"]}
    assert _verify(token, signer.jwks, algorithm)["sub"] == "alice"


@BOTH_MODES
def test_the_default_is_an_es256_jwt(aws, signing_mode):
    token = deps.signer().sign(_claims())
    assert {k: v for k, v in jwt.get_unverified_header(token).items() if k != "kid"} == {"alg": "ES256", "typ": "JWT"}


@BOTH_MODES
def test_the_jwks_holds_one_key_per_algorithm_with_kid_alg_use_and_no_private_member(aws, signing_mode):
    # When the JWKS is asked for before anything was signed
    jwks = deps.signer().jwks

    # Then it already holds an ES256 and an RS256 key, public members only
    by_alg = {k["alg"]: k for k in jwks["keys"]}
    assert sorted(by_alg) == ["ES256", "RS256"] and len(jwks["keys"]) == 2
    assert set(by_alg["ES256"]) == {"kty", "crv", "alg", "use", "kid", "x", "y"}
    assert set(by_alg["RS256"]) == {"kty", "alg", "use", "kid", "n", "e"}
    assert {k["use"] for k in jwks["keys"]} == {"sig"}
    assert by_alg["ES256"]["kid"] != by_alg["RS256"]["kid"]
    assert len(base64.urlsafe_b64decode(by_alg["RS256"]["n"] + "==")) == 256  # RSA-2048


@pytest.mark.parametrize("signing_mode", ["kms"])
def test_kms_mode_signs_each_algorithm_with_its_kms_key_and_names_it(aws, signing_mode):
    # Given a kms-mode stack: an ECC_NIST_P256 key and an RSA_2048 key
    signer = deps.signer()
    for algorithm, key in (("ES256", "SigningKey"), ("RS256", "RsaSigningKey")):
        # When a token is signed
        token = signer.sign(_claims(), algorithm=algorithm)

        # Then its kid is that KMS key's id, and KMS itself confirms the signature
        arn = aws["key_arns"][key]
        assert jwt.get_unverified_header(token)["kid"] == arn.rsplit("/", 1)[-1]
        signing_input, _, signature = token.rpartition(".")
        raw = base64.urlsafe_b64decode(signature + "==")
        if algorithm == "ES256":
            raw = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        scheme = {"ES256": "ECDSA_SHA_256", "RS256": "RSASSA_PKCS1_V1_5_SHA_256"}[algorithm]
        assert aws["kms"].verify(KeyId=arn, Message=signing_input.encode(), Signature=raw,
                                 SigningAlgorithm=scheme)["SignatureValid"]


@pytest.mark.parametrize("algorithm", ["HS256", "none", "RS512", "es256", ""])
def test_other_algorithms_are_refused(aws, algorithm):
    with pytest.raises(ValueError):
        deps.signer().sign(_claims(), algorithm=algorithm)


@pytest.mark.parametrize("claims", [
    {"sub": "alice"},                                                       # no exp: would outlive its key
    {"sub": "alice", "iat": 1000, "exp": 1000 + MAX_TOKEN_LIFETIME_SECONDS + 1},
    {"sub": "alice", "iat": "1000", "exp": 2000},
])
def test_tokens_that_could_outlive_their_key_in_the_jwks_are_refused(aws, claims):
    with pytest.raises(ValueError):
        deps.signer().sign(claims)
    deps.signer().sign({"sub": "alice", "iat": 1000, "exp": 1000 + MAX_TOKEN_LIFETIME_SECONDS})  # the bound itself


@BOTH_MODES
def test_a_cold_container_signs_with_the_key_the_first_one_made(aws, signing_mode):
    # Given a token signed by one container
    first = deps.signer().sign(_claims(), algorithm="RS256")

    # When another container (fresh collaborators, same table) signs
    deps.reset()
    second = deps.signer().sign(_claims(), algorithm="RS256")

    # Then both name the same key, and the one-key-per-algorithm JWKS verifies both
    assert jwt.get_unverified_header(first)["kid"] == jwt.get_unverified_header(second)["kid"]
    jwks = deps.signer().jwks
    assert len(jwks["keys"]) == 2
    for token in (first, second):
        _verify(token, jwks, "RS256")


@pytest.mark.parametrize("signing_mode", ["kms"])
def test_a_kms_sign_failure_is_a_retryable_503_and_the_login_survives(aws, flow, read_item, signing_mode):
    # Given a kms-mode stack whose keys are recorded (JWKS fetched), and a confirmed session
    assert deps.signer().jwks["keys"]
    login = flow.drive("scan:alice", "confirm:alice")
    before = read_item(login.session_id)

    # When KMS fails the redeem's one Sign
    with Stubber(deps.signer().client) as kms:
        kms.add_client_error("sign", service_error_code="KMSInternalException", http_status_code=500)
        failed = flow.redeem(login)
        kms.assert_no_pending_responses()

    # Then 503 with Retry-After, nothing written, and the next try succeeds
    assert failed.status == 503 and failed.headers["retry-after"] == "1"
    assert read_item(login.session_id) == before
    assert flow.redeem(login).status == 200
