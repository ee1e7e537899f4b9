"""DESIGN §3, the browser's rows (and the public JWKS): exact status, body and headers.

Every call goes through the handler that template.yaml routes it to, with an
HTTP API payload 2.0 event, against moto's table and KMS key.
"""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from localcloud.events import LambdaContext, http_event
from qrlogin import deps
from tests.unit.conftest import TABLE_NAME, handler_for
from tests.unit.helpers import assert_error, assert_json

BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _session_items(aws) -> list[dict]:
    items = aws["dynamodb"].scan(TableName=TABLE_NAME, ConsistentRead=True)["Items"]
    return [i for i in items if i["pk"]["S"].startswith("session#")]


def _set_rate_limit(monkeypatch, limit: int) -> None:
    monkeypatch.setenv("ISSUE_RATE_LIMIT_PER_MINUTE", str(limit))
    deps.reset()  # settings are read once per container: this is a new one


# -- POST /sessions ----------------------------------------------------------


def test_issue_answers_201_with_every_field_of_the_contract(api, clock, settings_env):
    # When a browser asks for a session with an empty JSON object
    result = api.http("POST", "/sessions", body={})

    # Then it gets 201 and exactly the contract's fields
    assert_json(result, 201)
    body = result.body
    assert set(body) == {"session_id", "browser_token", "qr", "expires_at", "expires_in", "interval",
                         "websocket_url"}
    # session_id: 128 bits, base64url, 22 chars; browser_token: 256 bits, 43 chars
    assert len(body["session_id"]) == 22 and BASE64URL.match(body["session_id"])
    assert len(_b64url_decode(body["session_id"])) == 16
    assert len(body["browser_token"]) == 43 and BASE64URL.match(body["browser_token"])
    assert len(_b64url_decode(body["browser_token"])) == 32
    # the QR link comes from QR_LINK_TEMPLATE; the lifetime from SESSION_TTL_SECONDS
    assert body["qr"]["url"] == settings_env["QR_LINK_TEMPLATE"].replace("{session_id}", body["session_id"])
    assert body["expires_at"] == int(clock.now) + 120
    assert body["expires_in"] == 120
    assert body["interval"] == 2
    assert body["websocket_url"] == settings_env["WEBSOCKET_URL"]
    assert result.headers["cache-control"] == "no-store"


def test_issue_accepts_no_body_and_ignores_unknown_fields(api):
    # When one browser sends no body and another sends fields the contract does not know
    bare = api.http("POST", "/sessions")
    extra = api.http("POST", "/sessions", body={"color": "blue", "nested": {"a": [1]}})

    # Then both get a session
    assert bare.status == 201 and extra.status == 201


def test_issued_qr_svg_is_a_standalone_svg_document_of_the_link(issue):
    # When a session is issued
    svg = issue().body["qr"]["svg"]

    # Then the SVG parses on its own as one <svg> element in the SVG namespace, with a viewBox and a path
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.attrib["viewBox"].split()) == 4
    assert root.find("{http://www.w3.org/2000/svg}path") is not None
    assert "<script" not in svg


def test_issue_stores_only_a_hash_of_the_browser_token(issue, read_item):
    # When a session is issued
    login = issue()

    # Then its item holds neither the token nor anything but its hash
    item = read_item(login.session_id)
    assert item["status"] == {"S": "pending"} and item["version"] == {"N": "1"}
    assert login.browser_token not in repr(item)
    assert item["browser_token_hash"]["S"] != login.browser_token


def test_issue_is_rate_limited_per_source_ip_with_retry_after(api, aws, clock, monkeypatch):
    # Given a limit of 3 sessions per IP per minute, 15 s into the minute
    _set_rate_limit(monkeypatch, 3)

    # When one IP asks four times
    results = [api.http("POST", "/sessions", source_ip="203.0.113.9") for _ in range(4)]

    # Then the first three succeed and the fourth is 429 rate_limited, told to come back next minute
    assert [r.status for r in results[:3]] == [201, 201, 201]
    assert_error(results[3], 429, "rate_limited")
    assert results[3].headers["retry-after"] == "45"
    # And the refused request created no session
    assert len(_session_items(aws)) == 3


def test_the_rate_limit_counts_each_ip_and_each_minute_apart(api, clock, monkeypatch):
    # Given a limit of 1 per minute, used up by one IP
    _set_rate_limit(monkeypatch, 1)
    assert api.http("POST", "/sessions", source_ip="203.0.113.9").status == 201
    assert api.http("POST", "/sessions", source_ip="203.0.113.9").status == 429

    # When another IP asks, and later the first IP asks in the next minute
    other_ip = api.http("POST", "/sessions", source_ip="203.0.113.10")
    clock.advance(45)
    next_minute = api.http("POST", "/sessions", source_ip="203.0.113.9")

    # Then both get sessions
    assert other_ip.status == 201 and next_minute.status == 201


def test_a_rate_limit_of_zero_turns_the_limit_off(api, aws, clock, monkeypatch):
    # Given ISSUE_RATE_LIMIT_PER_MINUTE=0
    _set_rate_limit(monkeypatch, 0)

    # When one IP asks 40 times in the same minute (more than the default limit of 30)
    statuses = [api.http("POST", "/sessions", source_ip="203.0.113.9").status for _ in range(40)]

    # Then every request gets a session and no rate counter is written at all
    assert statuses == [201] * 40
    items = aws["dynamodb"].scan(TableName=TABLE_NAME)["Items"]
    assert not [i for i in items if i["pk"]["S"].startswith("rate#")]


# -- GET /sessions/{id} --------------------------------------------------------


def test_status_of_a_new_session_is_pending_without_user(api, issue):
    # Given a new session
    login = issue()

    # When its browser polls
    result = api.http("GET", f"/sessions/{login.session_id}", token=login.browser_token)

    # Then it reads pending, version 1, no user
    assert_json(result, 200)
    assert result.body == {"session_id": login.session_id, "status": "pending", "version": 1,
                           "expires_at": login.body["expires_at"]}


def test_status_after_scan_carries_the_users_display_name(flow):
    # Given a session scanned by Alice
    login = flow.drive("scan:alice")

    # When its browser polls
    result = flow.status(login)

    # Then it reads scanned, version 2, user Alice
    assert_json(result, 200)
    assert result.body == {"session_id": login.session_id, "status": "scanned", "version": 2,
                           "expires_at": login.body["expires_at"], "user": "Alice"}


def test_status_has_no_user_when_the_phone_token_has_no_name(api, issue, idp):
    # Given a session scanned with a token carrying no display name
    login = issue()
    assert api.http("POST", f"/sessions/{login.session_id}/scan", token=idp.mint("carol")).status == 200

    # When its browser polls, Then there is no user field (the subject is never shown)
    body = api.http("GET", f"/sessions/{login.session_id}", token=login.browser_token).body
    assert body["status"] == "scanned" and "user" not in body


def test_status_is_404_for_an_unknown_id_and_for_a_wrong_token_alike(api, issue):
    # Given a real session
    login = issue()
    other = issue()

    # When one asks with an unknown id, with another session's token, with a made-up token, with none
    unknown = api.http("GET", f"/sessions/{'A' * 22}", token=login.browser_token)
    wrong = api.http("GET", f"/sessions/{login.session_id}", token=other.browser_token)
    made_up = api.http("GET", f"/sessions/{login.session_id}", token="B" * 43)
    missing = api.http("GET", f"/sessions/{login.session_id}")

    # Then each gets the same 404 not_found body: nothing tells them apart
    for result in (unknown, wrong, made_up, missing):
        assert_error(result, 404, "not_found")
    assert unknown.body == wrong.body == made_up.body == missing.body


# -- POST /sessions/{id}/token -------------------------------------------------


def test_redeem_of_a_confirmed_session_answers_the_token_body(flow, read_item):
    # Given a confirmed session
    login = flow.drive("scan:alice", "confirm:alice")

    # When its browser redeems
    result = flow.redeem(login)

    # Then it gets 200 {id_token, token_type Bearer, expires_in <= 300} and the session is redeemed
    assert_json(result, 200)
    assert set(result.body) == {"id_token", "token_type", "expires_in"}
    assert result.body["token_type"] == "Bearer"
    assert 0 < result.body["expires_in"] <= 300
    assert result.body["id_token"].count(".") == 2
    assert read_item(login.session_id)["status"] == {"S": "redeemed"}


def test_redeem_succeeds_exactly_once(flow):
    # Given a redeemed session
    login = flow.drive("scan:alice", "confirm:alice", "redeem")

    # When its browser redeems again
    again = flow.redeem(login)

    # Then it is 400 invalid_grant
    assert_error(again, 400, "invalid_grant")


@pytest.mark.parametrize(("steps", "code"), [
    ((), "authorization_pending"),
    (("scan:alice",), "authorization_pending"),
    (("deny:alice",), "access_denied"),
    (("scan:alice", "deny:alice"), "access_denied"),
    (("cancel",), "access_denied"),
    (("scan:alice", "cancel"), "access_denied"),
])
def test_redeem_before_confirm_says_why_with_400(flow, read_item, steps, code):
    # Given a session that is not confirmed
    login = flow.drive(*steps)
    before = read_item(login.session_id)

    # When its browser redeems
    result = flow.redeem(login)

    # Then it gets 400 with the OAuth-style code, and nothing changed
    assert_error(result, 400, code)
    assert read_item(login.session_id) == before


def test_redeem_after_the_redeem_window_is_expired_token(flow, clock):
    # Given a confirmed session whose redeem window has passed
    login = flow.drive("scan:alice", "confirm:alice")
    clock.advance(60)

    # When its browser redeems, Then it is 400 expired_token
    assert_error(flow.redeem(login), 400, "expired_token")


def test_redeem_is_404_for_unknown_id_wrong_token_or_none(api, flow, read_item):
    # Given a confirmed session
    login = flow.drive("scan:alice", "confirm:alice")
    before = read_item(login.session_id)

    # When someone redeems it without its token, with a wrong one, or an unknown id with its token
    results = [
        api.http("POST", f"/sessions/{login.session_id}/token"),
        api.http("POST", f"/sessions/{login.session_id}/token", token="C" * 43),
        api.http("POST", f"/sessions/{'D' * 22}/token", token=login.browser_token),
    ]

    # Then each is the same 404 and the session is still redeemable
    for result in results:
        assert_error(result, 404, "not_found")
    assert read_item(login.session_id) == before
    assert flow.redeem(login).status == 200


# -- DELETE /sessions/{id} -----------------------------------------------------


@pytest.mark.parametrize("steps", [(), ("scan:alice",)])
def test_cancel_answers_204_and_the_session_reads_cancelled(flow, read_item, steps):
    # Given a pending or scanned session
    login = flow.drive(*steps)
    version = int(read_item(login.session_id)["version"]["N"])

    # When its browser cancels
    result = flow.cancel(login)

    # Then it gets 204 with no body, and the session is cancelled one version later
    assert result.status == 204 and result.body is None
    status = flow.status(login).body
    assert (status["status"], status["version"]) == ("cancelled", version + 1)


def test_cancel_is_404_for_unknown_id_or_wrong_token(api, issue, read_item):
    # Given a pending session
    login = issue()
    before = read_item(login.session_id)

    # When someone cancels it with a wrong token, without one, or an unknown id
    results = [
        api.http("DELETE", f"/sessions/{login.session_id}", token="E" * 43),
        api.http("DELETE", f"/sessions/{login.session_id}"),
        api.http("DELETE", f"/sessions/{'F' * 22}", token=login.browser_token),
    ]

    # Then each is 404 not_found and the session is untouched
    for result in results:
        assert_error(result, 404, "not_found")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize("steps", [
    ("scan:alice", "confirm:alice", "redeem"),
    ("deny:alice",),
    ("cancel",),
])
def test_cancel_of_a_final_session_is_409(flow, read_item, steps):
    # Given a session that is already final
    login = flow.drive(*steps)
    before = read_item(login.session_id)

    # When its browser cancels, Then it is 409 conflict and nothing changes
    assert_error(flow.cancel(login), 409, "conflict")
    assert read_item(login.session_id) == before


# -- GET /.well-known/jwks.json, unknown routes ---------------------------------


@pytest.mark.parametrize("signing_mode", ["kms"])
def test_jwks_publishes_the_kms_public_key_as_an_es256_jwk(api, aws, signing_mode):
    # When anyone fetches the JWKS
    result = api.http("GET", "/.well-known/jwks.json")

    # Then its ES256 key is a P-256 EC key, kid = the KMS key id, and x/y are KMS's public key
    assert_json(result, 200)
    (key,) = [k for k in result.body["keys"] if k["alg"] == "ES256"]
    assert {k: key[k] for k in ("kty", "crv", "alg")} == {"kty": "EC", "crv": "P-256", "alg": "ES256"}
    assert key["kid"] == aws["key_arn"].rsplit("/", 1)[-1]
    public = load_der_public_key(aws["kms"].get_public_key(KeyId=aws["key_arn"])["PublicKey"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    numbers = public.public_numbers()
    assert _b64url_decode(key["x"]) == numbers.x.to_bytes(32, "big")
    assert _b64url_decode(key["y"]) == numbers.y.to_bytes(32, "big")
    assert "max-age" in result.headers["cache-control"]


@pytest.mark.parametrize("function_name", ["IssueFunction", "ConfirmFunction", "StatusFunction"])
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/nothing-here"),
    ("POST", "/sessions/AAAAAAAAAAAAAAAAAAAAAA/launch"),
    ("PUT", "/sessions"),
])
def test_an_unknown_route_is_a_json_404(aws, function_name, method, path):
    # Given a request no route of the function knows (as a $default catch-all would forward it)
    event = http_event(method=method, path=path, route_key="$default", headers={"user-agent": "x"})

    # When the function handles it
    response = handler_for(function_name)(event, LambdaContext(function_name))

    # Then it is a JSON 404 not_found
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"])["error"] == "not_found"
