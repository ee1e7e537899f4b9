"""qrlogin.jws: compact JWS with cryptography's primitives, against hostile input.

The phone-token verifier (jwt mode) uses this module instead of PyJWT, whose
import costs the confirm function's cold start most of its margin
(docs/performance.md). Signatures here are made with ``cryptography``
directly, independently of the module under test, and the verifier-level
tests check RFC 7515's order: the header is judged before any key is
looked up or used.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from qrlogin import errors, jws
from qrlogin.phone_auth.claims import TokenPolicy
from qrlogin.phone_auth.jwks import JwksCache
from qrlogin.phone_auth.jwt_mode import JwtPhoneTokenVerifier

ISSUER = "https://idp.example.com"
AUDIENCE = "qrlogin-phone"
NOW = time.time()
EC_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
# The curve order of P-256: an ECDSA signature (r, s) is as valid as (r, n - s).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def num(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def ec_jwk(kid: str = "ec-1") -> dict[str, Any]:
    public = EC_KEY.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "x": num(public.x), "y": num(public.y)}


def rsa_jwk(kid: str = "rsa-1") -> dict[str, Any]:
    public = RSA_KEY.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "n": num(public.n), "e": num(public.e)}


def claims(**overrides: Any) -> dict[str, Any]:
    return {"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": int(NOW), "exp": int(NOW) + 300, **overrides}


def es256_signature(signing_input: bytes, *, high_s: bool = False) -> bytes:
    r, s = utils.decode_dss_signature(EC_KEY.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    if high_s != (s > P256_ORDER // 2):
        s = P256_ORDER - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def token(header: dict[str, Any], payload: dict[str, Any], sign: str = "ES256", **options: Any) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}".encode()
    if sign == "ES256":
        signature = es256_signature(signing_input, **options)
    elif sign == "RS256":
        signature = RSA_KEY.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif sign == "HS256":
        mac = hmac.HMAC(b"secret", hashes.SHA256())
        mac.update(signing_input)
        signature = mac.finalize()
    else:
        signature = b""
    return f"{signing_input.decode()}.{b64(signature)}"


def verify(token_text: str, key: dict[str, Any]) -> dict[str, Any]:
    return jws.verified_claims(jws.parse(token_text), jws.public_key(key), issuer=ISSUER, now=NOW, leeway=30)


# -- the happy paths ----------------------------------------------------------------------------------


def test_an_es256_token_verifies_and_yields_its_claims():
    assert verify(token({"alg": "ES256", "kid": "ec-1"}, claims()), ec_jwk())["sub"] == "alice"


def test_an_rs256_token_verifies_and_yields_its_claims():
    assert verify(token({"alg": "RS256", "kid": "rsa-1"}, claims(), "RS256"), rsa_jwk())["sub"] == "alice"


def test_a_high_s_es256_signature_is_fine():
    # JOSE does not require low-S (unlike some blockchains): both halves of the curve verify
    assert verify(token({"alg": "ES256"}, claims(), high_s=True), ec_jwk())["sub"] == "alice"
    assert verify(token({"alg": "ES256"}, claims(), high_s=False), ec_jwk())["sub"] == "alice"


# -- malformed tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "a.b", "a.b.c.d", "..", "a..c", "", "é" + token({"alg": "ES256"}, claims())[1:],
    "eyJhbGciOiJFUzI1NiJ9=.e30.c2ln",  # padding is not base64url as JWS uses it
    "eyJhbGciOiJFUzI1NiJ9.e30.c2l+",  # "+" is base64, not base64url
    "e.e30.c2ln",  # a header that is not valid base64 at all
    f"{b64(b'[1, 2]')}.e30.c2ln",  # JSON, but not an object
    f"{b64(b'not json')}.e30.c2ln",
    f"{b64(bytes([0xff, 0xfe]))}.e30.c2ln",  # not UTF-8
    f"{b64(json.dumps({'alg': 'ES256', 'x': 'y' * 20000}).encode())}.e30.c2ln",  # a huge header
])
def test_a_malformed_token_is_refused_before_any_key_is_used(text):
    with pytest.raises(jws.JwsError):
        jws.parse(text)


def test_a_payload_that_is_not_a_json_object_is_refused_after_the_signature():
    header = b64(json.dumps({"alg": "ES256"}).encode())
    signing_input = f"{header}.{b64(b'[1]')}".encode()
    text = f"{signing_input.decode()}.{b64(es256_signature(signing_input))}"
    with pytest.raises(jws.JwsError, match="object"):
        verify(text, ec_jwk())


# -- signatures --------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 63, 65, 128])
def test_an_es256_signature_of_the_wrong_length_is_refused(length):
    good = token({"alg": "ES256"}, claims())
    head, payload, _ = good.split(".")
    with pytest.raises(jws.JwsError):
        verify(f"{head}.{payload}.{b64(b'x' * length)}", ec_jwk())


def test_a_changed_payload_breaks_the_signature():
    head, _, signature = token({"alg": "ES256"}, claims()).split(".")
    forged = b64(json.dumps(claims(sub="mallory")).encode())
    with pytest.raises(jws.JwsError, match="signature"):
        verify(f"{head}.{forged}.{signature}", ec_jwk())


def test_an_rs256_signature_does_not_verify_with_an_ec_key_or_the_other_way_round():
    with pytest.raises(jws.JwsError):
        verify(token({"alg": "RS256"}, claims(), "RS256"), ec_jwk())
    with pytest.raises(jws.JwsError):
        verify(token({"alg": "ES256"}, claims()), rsa_jwk())


# -- keys ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jwk", [
    {"kty": "oct", "k": "c2VjcmV0"},  # a symmetric key is never a verification key here
    {**ec_jwk(), "crv": "P-384"},
    {**ec_jwk(), "alg": "ES384"},
    {**rsa_jwk(), "alg": "RS512"},
    {**rsa_jwk(), "n": "!!"},
    {**ec_jwk(), "x": 7},
    {**ec_jwk(), "y": b64(b"\x00" * 32)},  # not a point on the curve
])
def test_a_key_we_do_not_use_or_a_broken_one_is_refused(jwk):
    with pytest.raises((jws.JwsError, ValueError)):
        jws.public_key(jwk)


# -- claims ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "error"), [
    (claims(exp=int(NOW) - 31), jws.ExpiredError),
    (claims(nbf=int(NOW) + 31), jws.JwsError),
    (claims(iat=int(NOW) + 31), jws.JwsError),
    (claims(iss="https://other.example.com"), jws.JwsError),
    (claims(exp="tomorrow"), jws.JwsError),
    (claims(exp=True), jws.JwsError),
    ({k: v for k, v in claims().items() if k != "sub"}, jws.JwsError),
    ({k: v for k, v in claims().items() if k != "exp"}, jws.JwsError),
])
def test_the_registered_claims_are_checked_with_the_leeway(payload, error):
    with pytest.raises(error):
        verify(token({"alg": "ES256"}, payload), ec_jwk())


def test_the_leeway_is_30_seconds_each_way():
    assert verify(token({"alg": "ES256"}, claims(exp=int(NOW) - 29, nbf=int(NOW) + 29)), ec_jwk())


# -- the verifier: the header is judged before any key is looked up ---------------------------------------


class CountingFetch:
    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys, self.calls = keys, 0

    def __call__(self, url: str, timeout: float) -> dict[str, Any]:
        self.calls += 1
        return {"keys": self.keys}


def verifier(fetch: CountingFetch) -> JwtPhoneTokenVerifier:
    return JwtPhoneTokenVerifier(ISSUER, "https://idp.example.com/jwks", TokenPolicy(audience=AUDIENCE),
                                 jwks=JwksCache("https://idp.example.com/jwks", fetch=fetch))


@pytest.mark.parametrize("header", [
    {"alg": "none", "kid": "ec-1"},
    {"alg": "HS256", "kid": "ec-1"},
    {"alg": "ES256", "kid": "ec-1", "crit": ["exp"]},
    {"alg": "ES256", "kid": "ec-1", "typ": "JOSE+JSON"},
    {"alg": "ES256"},  # no kid
])
def test_a_refused_header_never_reaches_the_keys(header):
    fetch = CountingFetch([ec_jwk()])
    with pytest.raises(errors.Unauthorized):
        verifier(fetch).verify(token(header, claims(), "HS256" if header["alg"] == "HS256" else "ES256"))
    assert fetch.calls == 0


def test_es256_in_the_header_with_an_rsa_key_of_that_kid_is_refused():
    fetch = CountingFetch([rsa_jwk("shared")])
    with pytest.raises(errors.Unauthorized, match="algorithm"):
        verifier(fetch).verify(token({"alg": "ES256", "kid": "shared"}, claims()))


def test_the_verifier_accepts_a_good_token_of_either_algorithm():
    fetch = CountingFetch([ec_jwk(), rsa_jwk()])
    assert verifier(fetch).verify(token({"alg": "ES256", "kid": "ec-1"}, claims())).sub == "alice"
    assert verifier(fetch).verify(token({"alg": "RS256", "kid": "rsa-1"}, claims(), "RS256")).sub == "alice"
