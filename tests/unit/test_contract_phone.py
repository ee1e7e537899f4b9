"""DESIGN §3, the phone's rows: scan, confirm, deny with exact status and body.

The phone's credential is a JWT from the development identity provider,
verified by the ``jwt`` mode against its JWKS (a file:// URL).
"""

from __future__ import annotations

import pytest

from tests.unit.helpers import assert_error, assert_json

UNKNOWN_ID = "Z" * 22


# -- scan ----------------------------------------------------------------------


def test_scan_answers_200_with_the_requests_context(flow, clock):
    # Given a session issued by a browser at 198.51.100.7 with a known user agent
    login = flow.issue(source_ip="198.51.100.7", headers={"user-agent": "Firefox/140.0 (Linux)"})

    # When Alice's phone scans it from another network
    result = flow.scan(login, source_ip="203.0.113.80")

    # Then it gets 200 with exactly the contract's fields, describing the browser's request
    assert_json(result, 200)
    assert result.body == {
        "session_id": login.session_id,
        "status": "scanned",
        "expires_at": login.body["expires_at"],
        "request": {"ip": "198.51.100.7", "user_agent": "Firefox/140.0 (Linux)", "created_at": int(clock.now)},
        "proximity": {"same_network": False},
    }


@pytest.mark.parametrize(("browser_ip", "phone_ip", "same"), [
    ("198.51.100.7", "198.51.100.200", True),        # same IPv4 /24
    ("198.51.100.7", "198.51.101.7", False),         # next /24
    ("2001:db8:1:2::10", "2001:db8:1:2:ffff::1", True),  # same IPv6 /64
    ("2001:db8:1:2::10", "2001:db8:1:3::10", False),     # next /64
    ("198.51.100.7", "2001:db8:1:2::10", False),     # different families
])
def test_scan_says_whether_phone_and_browser_share_a_network(flow, browser_ip, phone_ip, same):
    # Given a session issued from browser_ip
    login = flow.issue(source_ip=browser_ip)

    # When the phone scans from phone_ip
    result = flow.scan(login, source_ip=phone_ip)

    # Then proximity.same_network says whether they share a /24 (IPv4) or /64 (IPv6)
    assert result.status == 200
    assert result.body["proximity"] == {"same_network": same}


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-jwt", "Basic YWxpY2U6c2VjcmV0", "Bearer "])
def test_scan_without_a_valid_user_token_is_401(api, issue, read_item, authorization):
    # Given a pending session
    login = issue()
    before = read_item(login.session_id)
    headers = {"authorization": authorization} if authorization is not None else {}

    # When a phone scans with no, a malformed, or a non-bearer credential
    result = api.http("POST", f"/sessions/{login.session_id}/scan", headers=headers)

    # Then it is 401 unauthorized and the session is untouched
    assert_error(result, 401, "unauthorized")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize("action", ["scan", "confirm", "deny"])
def test_a_phone_call_on_an_unknown_session_is_404(api, aws, idp, action):
    # When a signed-in phone calls on a session id that was never issued
    result = api.http("POST", f"/sessions/{UNKNOWN_ID}/{action}", token=idp.mint("alice", "Alice"))

    # Then it is 404 not_found
    assert_error(result, 404, "not_found")


def test_scan_of_a_session_scanned_by_another_user_is_409(flow, read_item):
    # Given a session Alice scanned
    login = flow.drive("scan:alice")
    before = read_item(login.session_id)

    # When Bob scans it
    result = flow.scan(login, "bob")

    # Then it is 409 conflict and the session stays Alice's
    assert_error(result, 409, "conflict")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize("steps", [
    ("scan:alice", "confirm:alice", "redeem"),
    ("deny:alice",),
    ("cancel",),
])
def test_scan_of_a_final_session_is_409(flow, read_item, steps):
    # Given a final session
    login = flow.drive(*steps)
    before = read_item(login.session_id)

    # When Alice's phone scans it, Then it is 409 conflict and nothing changes
    assert_error(flow.scan(login), 409, "conflict")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize("action", ["scan", "confirm", "deny"])
def test_a_phone_call_on_an_expired_session_is_410(flow, clock, read_item, action):
    # Given a scanned session whose lifetime has passed
    login = flow.drive("scan:alice")
    clock.advance(120)
    before = read_item(login.session_id)

    # When the phone calls, Then it is 410 expired and nothing changes
    assert_error(flow.phone(action, login), 410, "expired")
    assert read_item(login.session_id) == before


# -- confirm -------------------------------------------------------------------


def test_confirm_answers_200_and_the_browser_sees_confirmed(flow):
    # Given a session Alice scanned
    login = flow.drive("scan:alice")

    # When Alice confirms
    result = flow.confirm(login)

    # Then it is 200 {session_id, status: confirmed} and the browser reads confirmed with her name
    assert_json(result, 200)
    assert result.body == {"session_id": login.session_id, "status": "confirmed"}
    status = flow.status(login).body
    assert (status["status"], status["user"], status["version"]) == ("confirmed", "Alice", 3)


@pytest.mark.parametrize("authorization", [None, "Bearer garbage.garbage.garbage"])
def test_confirm_without_a_valid_user_token_is_401(flow, read_item, authorization):
    # Given a scanned session
    login = flow.drive("scan:alice")
    before = read_item(login.session_id)
    headers = {"authorization": authorization} if authorization else {}

    # When someone confirms without a valid token
    result = flow.api.http("POST", f"/sessions/{login.session_id}/confirm", headers=headers)

    # Then it is 401 and nothing changes
    assert_error(result, 401, "unauthorized")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize(("steps", "who"), [
    ((), "alice"),                                  # not scanned at all
    (("scan:alice",), "bob"),                       # scanned by another user
    (("deny:alice",), "alice"),                     # final: denied
    (("cancel",), "alice"),                         # final: cancelled
    (("scan:alice", "cancel"), "alice"),            # final: cancelled after scan
])
def test_confirm_not_scanned_by_this_user_or_final_is_409(flow, read_item, steps, who):
    # Given a session not scanned by the confirming user, or final
    login = flow.drive(*steps)
    before = read_item(login.session_id)

    # When that user confirms, Then it is 409 conflict and nothing changes
    assert_error(flow.confirm(login, who), 409, "conflict")
    assert read_item(login.session_id) == before


# -- deny ----------------------------------------------------------------------


@pytest.mark.parametrize("steps", [(), ("scan:alice",)])
def test_deny_answers_200_from_pending_or_scanned_by_the_same_user(flow, steps):
    # Given a pending session, or one Alice scanned
    login = flow.drive(*steps)

    # When Alice denies
    result = flow.deny(login)

    # Then it is 200 {session_id, status: denied} and the browser reads denied
    assert_json(result, 200)
    assert result.body == {"session_id": login.session_id, "status": "denied"}
    assert flow.status(login).body["status"] == "denied"


def test_deny_without_a_valid_user_token_is_401(flow, read_item):
    # Given a scanned session
    login = flow.drive("scan:alice")
    before = read_item(login.session_id)

    # When someone denies without a token, Then it is 401 and nothing changes
    assert_error(flow.api.http("POST", f"/sessions/{login.session_id}/deny"), 401, "unauthorized")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize(("steps", "who"), [
    (("scan:alice",), "bob"),                       # scanned by another user
    (("scan:alice", "confirm:alice"), "alice"),     # already confirmed
    (("scan:alice", "confirm:alice", "redeem"), "alice"),
    (("cancel",), "alice"),
    (("deny:alice",), "bob"),                       # denied by another user
])
def test_deny_by_another_user_or_after_confirm_or_when_final_is_409(flow, read_item, steps, who):
    # Given a session another user holds, a confirmed one, or a final one
    login = flow.drive(*steps)
    before = read_item(login.session_id)

    # When the user denies, Then it is 409 conflict and nothing changes
    assert_error(flow.deny(login, who), 409, "conflict")
    assert read_item(login.session_id) == before
