"""DESIGN §2: repeating the same phone call by the same user is idempotent.

A phone on a flaky network re-sends; the repeat answers 200 with the same
body and writes nothing (no version bump, so the browser gets no new push).
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("steps", "action"), [
    ((), "scan"),
    (("scan:alice",), "confirm"),
    ((), "deny"),
    (("scan:alice",), "deny"),
])
def test_the_same_user_repeating_a_call_gets_the_same_body_and_no_write(flow, read_item, steps, action):
    # Given a session on which Alice has just made the call
    login = flow.drive(*steps)
    first = flow.phone(action, login)
    assert first.status == 200, first.body
    after_first = read_item(login.session_id)

    # When she makes it again
    second = flow.phone(action, login)

    # Then she gets 200 with exactly the same body, and the item did not change at all
    assert second.status == 200
    assert second.body == first.body
    assert read_item(login.session_id) == after_first


def test_a_repeated_scan_reports_the_original_request_and_proximity(flow, read_item):
    # Given a session Alice scanned from the browser's network
    login = flow.issue(source_ip="198.51.100.7")
    first = flow.scan(login, source_ip="198.51.100.9")

    # When her phone repeats the scan from the same address
    second = flow.scan(login, source_ip="198.51.100.9")

    # Then the answer is the same, version 2 stays
    assert second.body == first.body
    assert second.body["proximity"] == {"same_network": True}
    assert read_item(login.session_id)["version"] == {"N": "2"}


def test_a_confirm_repeated_after_redeem_still_answers_confirmed(flow, read_item):
    # Given a session Alice confirmed and the browser redeemed
    login = flow.drive("scan:alice", "confirm:alice", "redeem")
    before = read_item(login.session_id)

    # When her phone re-sends the confirm (its first answer was lost)
    result = flow.confirm(login)

    # Then it hears the same answer and the session stays redeemed
    assert result.status == 200
    assert result.body == {"session_id": login.session_id, "status": "confirmed"}
    assert read_item(login.session_id) == before


def test_a_repeat_by_another_user_is_not_idempotent(flow, read_item):
    # Given a session Alice scanned
    login = flow.drive("scan:alice")
    before = read_item(login.session_id)

    # When Bob sends the same scan, Then he gets 409, not Alice's answer
    assert flow.scan(login, "bob").status == 409
    assert read_item(login.session_id) == before
