"""DESIGN §3: bad input is never a 5xx and never changes state.

Malformed and ill-shaped bodies, oversized and base64 bodies, bad ids and
forged phone tokens, each sent at a real session through its handler; the
answer is the contract's 4xx envelope and the session's item is unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from localcloud.events import LambdaContext, http_event
from qrlogin.config import MAX_BODY_BYTES
from tests.unit.conftest import TABLE_NAME, HttpResult, handler_for, route_for
from tests.unit.helpers import assert_error

PHONE_ACTIONS = ("scan", "confirm", "deny")


def send_raw(method: str, path: str, *, body: str, base64_encoded: bool, token: str | None = None) -> HttpResult:
    """An event whose body is exactly ``body`` as API Gateway would pass it (base64 or not)."""
    template, function_name, params = route_for(method, path)
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    event = http_event(method=method, path=path, route_key=f"{method} {template}", path_parameters=params,
                       headers=headers)
    event["body"], event["isBase64Encoded"] = body, base64_encoded
    response = handler_for(function_name)(event, LambdaContext(function_name))
    text = response.get("body") or ""
    return HttpResult(response["statusCode"], {k.lower(): v for k, v in response["headers"].items()},
                      json.loads(text) if text else None, response)


def all_items(aws) -> list[dict[str, Any]]:
    return sorted(aws["dynamodb"].scan(TableName=TABLE_NAME, ConsistentRead=True)["Items"], key=lambda i: i["pk"]["S"])


def padded_json(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    body = b'{"pad":""}'
    return body[:-2] + b"x" * (size - len(body)) + body[-2:]


@pytest.fixture
def target(flow):
    """A scanned session (every phone action and every browser call has something to change)."""
    return flow.drive("scan:alice")


def call(flow, login, route: str, **kwargs: Any) -> HttpResult:
    """One of the body-taking routes on the target session, with the right credential."""
    if route == "issue":
        return flow.api.http("POST", "/sessions", **kwargs)
    if route == "token":
        return flow.api.http("POST", f"/sessions/{login.session_id}/token", token=login.browser_token, **kwargs)
    return flow.phone(route, login, **kwargs)


# -- bodies --------------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"a":', b"[]", b'["scan"]', b'"x"', b"42", b"null", b"true", b"{'a': 1}",
                                  b"\xff\xfe{}", b"{}\xff"])
def test_a_body_that_is_not_a_json_object_is_400(flow, aws, target, body):
    # Given the table as it is
    before = all_items(aws)

    # When each body-taking call arrives with a malformed, non-object or non-UTF-8 body
    results = {route: call(flow, target, route, raw_body=body) for route in ("issue", *PHONE_ACTIONS)}

    # Then each is 400 invalid_request and no item changed (no session, no rate count)
    for result in results.values():
        assert_error(result, 400, "invalid_request")
    assert all_items(aws) == before


@pytest.mark.parametrize("route", ["issue", "token", *PHONE_ACTIONS])
def test_a_body_over_16_kib_is_413(flow, aws, target, route):
    # Given the table as it is
    before = all_items(aws)

    # When a call arrives with a JSON body one byte over 16 KiB
    result = call(flow, target, route, raw_body=padded_json(MAX_BODY_BYTES + 1))

    # Then it is 413 payload_too_large and nothing changed
    assert_error(result, 413, "payload_too_large")
    assert all_items(aws) == before


@pytest.mark.parametrize(("route", "status"), [("issue", 201), ("scan", 200)])
def test_a_body_of_exactly_16_kib_is_accepted(flow, target, route, status):
    # When a call arrives with a JSON object of exactly 16 KiB (its unknown field ignored)
    result = call(flow, target, route, raw_body=padded_json(MAX_BODY_BYTES))

    # Then it is served
    assert result.status == status, result.body


def test_a_base64_encoded_json_body_is_decoded(api, aws):
    # When a browser's {} arrives base64-encoded (as API Gateway passes some content types)
    result = send_raw("POST", "/sessions", body=base64.b64encode(b"{}").decode(), base64_encoded=True)

    # Then it is served like the plain body
    assert result.status == 201, result.body


@pytest.mark.parametrize(("body", "status", "code"), [
    ("!!! not base64 !!!", 400, "invalid_request"),
    ("e30", 400, "invalid_request"),                                  # unpadded base64
    (base64.b64encode(b"\xff\xfe\x00").decode(), 400, "invalid_request"),
    (base64.b64encode(b"[1, 2]").decode(), 400, "invalid_request"),
    (base64.b64encode(padded_json(MAX_BODY_BYTES + 1)).decode(), 413, "payload_too_large"),
])
@pytest.mark.parametrize("route", ["issue", "scan"])
def test_a_bad_base64_body_is_refused(flow, aws, target, route, body, status, code):
    # Given the table as it is
    before = all_items(aws)
    path = "/sessions" if route == "issue" else f"/sessions/{target.session_id}/scan"

    # When a base64 body is invalid, not JSON, not an object, or too large once decoded
    result = send_raw("POST", path, body=body, base64_encoded=True,
                      token=None if route == "issue" else flow.tokens["alice"])

    # Then it is refused with the contract's error and nothing changed
    assert_error(result, status, code)
    assert all_items(aws) == before


# -- ids -------------------------------------------------------------------------

BAD_IDS = {
    "too-short": lambda sid: sid[:-1],
    "too-long": lambda sid: sid + "A",
    "padded": lambda sid: sid[:-1] + "=",
    "plus": lambda sid: sid[:-1] + "+",
    "traversal": lambda sid: "..%2F..%2Fsessions%2F" + sid,
    "dot-dot": lambda sid: "..",
    "encoded-dots": lambda sid: "%2e%2e%2f" + sid[9:],
    "unicode": lambda sid: "é" * 22,
    "fullwidth": lambda sid: "\uff21" * 22,
    "nul": lambda sid: sid[:-1] + "%00",
    "other-valid": lambda sid: sid[::-1] if sid[::-1] != sid else "Q" * 22,
}


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_bad_or_unknown_session_id_is_404(flow, aws, target, bad):
    # Given the table as it is, and an id near the real one (or not an id at all)
    before = all_items(aws)
    session_id = BAD_IDS[bad](target.session_id)

    # When the browser (with the real session's token) and a phone call with that id
    results = [
        flow.api.http("GET", f"/sessions/{session_id}", token=target.browser_token),
        flow.api.http("POST", f"/sessions/{session_id}/token", token=target.browser_token),
        flow.api.http("DELETE", f"/sessions/{session_id}", token=target.browser_token),
        *(flow.api.http("POST", f"/sessions/{session_id}/{action}", token=flow.tokens["alice"])
          for action in PHONE_ACTIONS),
    ]

    # Then each is 404 not_found and nothing changed
    for result in results:
        assert_error(result, 404, "not_found")
    assert all_items(aws) == before


@pytest.mark.parametrize("token", ["é" * 43, "+" * 43, "A" * 42, "A" * 44, "A" * 10_000, "A" * 42 + "\u0000"])
def test_a_malformed_browser_token_is_404(flow, aws, target, token):
    # Given the table as it is
    before = all_items(aws)

    # When the browser polls, redeems and cancels its real session with a malformed token
    results = [flow.api.http(method, f"/sessions/{target.session_id}{suffix}", token=token)
               for method, suffix in (("GET", ""), ("POST", "/token"), ("DELETE", ""))]

    # Then each is 404 (as for a wrong token) and nothing changed
    for result in results:
        assert_error(result, 404, "not_found")
    assert all_items(aws) == before


# -- forged phone tokens ------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_with_public_key(idp) -> str:
    """The classic key-confusion forgery: HMAC keyed with the issuer's public key."""
    public_pem = idp.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": idp.kid}).encode())
    claims = _b64url(json.dumps(idp.claims("alice", "Alice")).encode())
    signature = hmac.new(public_pem, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{_b64url(signature)}"


def _without_kid(idp) -> str:
    return jwt.encode(idp.claims("alice", "Alice"), idp.private_key, algorithm="ES256")


def _signature_of_another_token(idp) -> str:
    header, claims, _ = idp.mint("alice", "Alice").split(".")
    _, _, signature = idp.mint("mallory", "Mallory").split(".")
    return f"{header}.{claims}.{signature}"


NOW = int(time.time())
FORGERIES = {
    "another-key": lambda idp: idp.mint("alice", "Alice", key=ec.generate_private_key(ec.SECP256R1())),
    "rs256-under-the-ec-kid": lambda idp: idp.mint(
        "alice", "Alice", key=rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"),
    "expired": lambda idp: idp.mint("alice", "Alice", iat=NOW - 7200, nbf=NOW - 7200, exp=NOW - 3600),
    "not-yet-valid": lambda idp: idp.mint("alice", "Alice", nbf=NOW + 3600),
    "no-exp": lambda idp: idp.mint("alice", "Alice", exp=None),
    "alg-none": lambda idp: idp.forge_alg_none("alice", "Alice"),
    "hs256-with-public-key": _hs256_with_public_key,
    "wrong-aud": lambda idp: idp.mint("alice", "Alice", aud="another-app"),
    "wrong-iss": lambda idp: idp.mint("alice", "Alice", iss="https://evil.example"),
    "unknown-kid": lambda idp: idp.mint("alice", "Alice", kid="rotated-away"),
    "no-kid": _without_kid,
    "missing-sub": lambda idp: idp.mint(None, "Nobody"),
    "empty-sub": lambda idp: idp.mint("", "Nobody"),
    "huge-sub": lambda idp: idp.mint("x" * 300, "Huge"),
    "swapped-signature": _signature_of_another_token,
    "garbage": lambda idp: "garbage",
    "three-garbage-parts": lambda idp: "a.b.c",
    "unicode": lambda idp: "tökén.tökén.tökén",
    "very-long": lambda idp: "A" * 12_000,
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_phone_token_is_401_and_changes_nothing(flow, idp, read_item, target, forgery):
    # Given a session Alice scanned, and a forged or invalid token
    before = read_item(target.session_id)
    token = FORGERIES[forgery](idp)

    # When a phone scans, confirms and denies with it
    results = [flow.api.http("POST", f"/sessions/{target.session_id}/{action}", token=token)
               for action in PHONE_ACTIONS]

    # Then each is 401 unauthorized and the session is unchanged
    for result in results:
        assert_error(result, 401, "unauthorized")
    assert read_item(target.session_id) == before
