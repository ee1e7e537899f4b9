"""DESIGN §2: expiry is decided by time, never by TTL deletion.

moto, like DynamoDB for days, keeps an item past its ``expires_at``; the
handlers must say "expired" from the clock alone.  The frozen clock moves
instead of the test sleeping.
"""

from __future__ import annotations

import json

import pytest

from qrlogin import deps
from tests.unit.helpers import assert_error


@pytest.fixture
def short_ttl(monkeypatch, aws):
    """SESSION_TTL_SECONDS=5 in a fresh container."""
    monkeypatch.setenv("SESSION_TTL_SECONDS", "5")
    deps.reset()


def test_the_session_is_alive_one_second_before_expires_at_and_expired_at_it(flow, clock):
    # Given a session issued with the default 120 s lifetime
    login = flow.issue()
    expires_at = login.body["expires_at"]

    # When the browser polls one second before expires_at, and at it
    clock.now = expires_at - 1
    before = flow.status(login).body
    clock.now = expires_at
    at = flow.status(login).body

    # Then it is pending, then expired, with the same version (time is not a write)
    assert (before["status"], at["status"]) == ("pending", "expired")
    assert before["version"] == at["version"] == 1


def test_moto_keeps_the_expired_item_and_the_answer_comes_from_the_clock(flow, clock, read_item):
    # Given a session past its lifetime
    login = flow.issue()
    clock.advance(3600)

    # Then the item is still in the table, still "pending" as stored, yet GET says expired
    item = read_item(login.session_id)
    assert item is not None and item["status"] == {"S": "pending"}
    assert flow.status(login).body["status"] == "expired"


def test_after_expiry_scan_is_410_and_changes_nothing(flow, clock, read_item):
    # Given an expired session
    login = flow.issue()
    clock.advance(120)
    before = read_item(login.session_id)

    # When a phone scans it
    result = flow.scan(login)

    # Then it is 410 expired and the item is as it was
    assert_error(result, 410, "expired")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize("steps", [(), ("scan:alice",)])
def test_after_expiry_redeem_is_expired_token(flow, clock, steps):
    # Given a pending or scanned session past its lifetime
    login = flow.drive(*steps)
    clock.advance(120)

    # When its browser redeems, Then it is 400 expired_token
    assert_error(flow.redeem(login), 400, "expired_token")


def test_after_confirm_a_short_ttl_still_leaves_60_seconds_to_redeem(flow, clock, short_ttl):
    # Given a session with a 5 s lifetime, confirmed in its last second
    login = flow.issue()
    assert login.body["expires_in"] == 5
    clock.advance(4)
    assert flow.scan(login).status == 200
    assert flow.confirm(login).status == 200
    confirmed_at = clock.now

    # When the browser redeems 59 s after the confirm (well past the original lifetime)
    clock.now = confirmed_at + 59
    status = flow.status(login).body
    result = flow.redeem(login)

    # Then the session still reads confirmed, with the new deadline, and the redeem succeeds
    assert status["status"] == "confirmed"
    assert status["expires_at"] == int(confirmed_at) + 60
    assert result.status == 200, result.body


def test_the_redeem_window_closes_60_seconds_after_confirm(flow, clock, short_ttl):
    # Given a session confirmed with a 5 s lifetime
    login = flow.drive("scan:alice", "confirm:alice")
    confirmed_at = clock.now

    # When the browser redeems exactly 60 s after the confirm
    clock.now = confirmed_at + 60
    result = flow.redeem(login)

    # Then the window is closed: expired_token, and GET says expired
    assert_error(result, 400, "expired_token")
    assert flow.status(login).body["status"] == "expired"


def test_a_short_ttl_expires_an_unconfirmed_session_on_time(flow, clock, short_ttl):
    # Given a scanned session with a 5 s lifetime
    login = flow.drive("scan:alice")

    # When 5 s pass
    clock.advance(5)

    # Then confirm is 410 and GET says expired
    assert_error(flow.confirm(login), 410, "expired")
    assert flow.status(login).body["status"] == "expired"


def test_final_statuses_do_not_expire(flow, clock):
    # Given a denied and a redeemed session
    denied = flow.drive("deny:alice")
    redeemed = flow.drive("scan:alice", "confirm:alice", "redeem")

    # When an hour passes
    clock.advance(3600)

    # Then they still read denied and redeemed, and redeem answers why
    assert flow.status(denied).body["status"] == "denied"
    assert flow.status(redeemed).body["status"] == "redeemed"
    assert_error(flow.redeem(denied), 400, "access_denied")
    assert_error(flow.redeem(redeemed), 400, "invalid_grant")


def test_cancel_after_expiry_is_409_the_session_being_final(flow, clock, read_item):
    # Given an expired session
    login = flow.issue()
    clock.advance(120)
    before = read_item(login.session_id)

    # When its browser cancels, Then it is 409 and nothing changes
    assert_error(flow.cancel(login), 409, "conflict")
    assert read_item(login.session_id) == before


def test_subscribe_after_expiry_returns_an_expired_snapshot(flow, api, clock):
    # Given an expired session
    login = flow.issue()
    clock.advance(120)

    # When its browser subscribes
    reply = api.ws("subscribe", connection_id=api.new_connection(),
                   body={"action": "subscribe", "session_id": login.session_id,
                         "browser_token": login.browser_token})

    # Then the snapshot says expired
    assert json.loads(reply["body"])["status"] == "expired"
