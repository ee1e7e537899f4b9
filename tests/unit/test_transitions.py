"""DESIGN §2, the state machine as a table: every source status x every action.

Each cell issues a fresh session, takes it to the source status through the
handlers (moving the frozen clock for the expired rows), performs one action
and checks the answer and the item: a transition moves the status and bumps
``version`` by exactly one; a repeat or a refusal leaves the item as it was.
"""

from __future__ import annotations

import pytest

from tests.unit.helpers import ERROR_STATUSES

ACTIONS = ("scan:alice", "scan:bob", "confirm:alice", "confirm:bob", "deny:alice", "deny:bob", "cancel", "redeem")

# How each source status is reached: steps from a new session, then seconds of clock.
SOURCES = {
    "pending": ((), 0),
    "scanned": (("scan:alice",), 0),
    "confirmed": (("scan:alice", "confirm:alice"), 0),
    "redeemed": (("scan:alice", "confirm:alice", "redeem"), 0),
    "denied-from-pending": (("deny:alice",), 0),
    "denied-after-scan": (("scan:alice", "deny:alice"), 0),
    "cancelled": (("cancel",), 0),
    "cancelled-after-scan": (("scan:alice", "cancel"), 0),
    "expired": ((), 120),                                         # the session lifetime
    "expired-after-scan": (("scan:alice",), 120),
    "expired-after-confirm": (("scan:alice", "confirm:alice"), 60),  # the redeem window
}

# The outcome of each action, in ACTIONS order:
#   a status name -> the transition happens (200, or 204 for cancel), version + 1
#   REPEAT        -> 200 with the same answer as before, nothing changes
#   409 / 410     -> conflict / expired, nothing changes
#   an OAuth code -> 400 with that error (redeem), nothing changes
REPEAT = "repeat"
PENDING, DENIED, EXPIRED, GRANT = "authorization_pending", "access_denied", "expired_token", "invalid_grant"
EXPECTED = {
    #                       scan:alice scan:bob   confirm:a    confirm:b deny:a    deny:b    cancel       redeem
    "pending":              ("scanned", "scanned", 409,         409,      "denied", "denied", "cancelled", PENDING),
    "scanned":              (REPEAT,    409,       "confirmed", 409,      "denied", 409,      "cancelled", PENDING),
    "confirmed":            (409,       409,       REPEAT,      409,      409,      409,      409,         "redeemed"),
    "redeemed":             (409,       409,       REPEAT,      409,      409,      409,      409,         GRANT),
    "denied-from-pending":  (409,       409,       409,         409,      REPEAT,   409,      409,         DENIED),
    "denied-after-scan":    (409,       409,       409,         409,      REPEAT,   409,      409,         DENIED),
    "cancelled":            (409,       409,       409,         409,      409,      409,      409,         DENIED),
    "cancelled-after-scan": (409,       409,       409,         409,      409,      409,      409,         DENIED),
    "expired":              (410,       410,       410,         410,      410,      410,      409,         EXPIRED),
    "expired-after-scan":   (410,       410,       410,         410,      410,      410,      409,         EXPIRED),
    "expired-after-confirm": (410,      410,       410,         410,      410,      410,      409,         EXPIRED),
}
ACTION_TARGET = {"scan": "scanned", "confirm": "confirmed", "deny": "denied"}



def outcome(action: str, result, before: dict, after: dict):
    """What one call did, in the table's terms (anything off the contract reads as a sentence)."""
    if result.status in (200, 204) and after != before:
        if int(after["version"]["N"]) != int(before["version"]["N"]) + 1:
            return "a transition without exactly one version step"
        if result.status != (204 if action == "cancel" else 200):
            return f"status {result.status}"
        return after["status"]["S"]
    if after != before:
        return f"{result.status} yet the item changed"
    if result.status == 200:
        target = ACTION_TARGET.get(action.split(":")[0])
        return REPEAT if result.body.get("status") == target else f"200 with {result.body}"
    body = result.body or {}
    if result.headers.get("content-type") != "application/json" or set(body) != {"error", "message"}:
        return f"{result.status} off the error envelope: {body}"
    if result.status in (409, 410) and body["error"] == {409: "conflict", 410: "expired"}[result.status]:
        return result.status
    if result.status == 400 and body["error"] in ERROR_STATUSES:
        return body["error"]
    return f"{result.status} {body['error']}"


def test_the_table_covers_every_source_and_action():
    assert set(EXPECTED) == set(SOURCES)
    assert all(len(row) == len(ACTIONS) for row in EXPECTED.values())


@pytest.mark.parametrize("source", SOURCES)
def test_each_action_from_each_status(flow, clock, read_item, source):
    # Given, for each action, a fresh session in the source status
    steps, wait = SOURCES[source]
    start = clock.now
    row = {}
    for action in ACTIONS:
        clock.now = start
        login = flow.drive(*steps)
        clock.advance(wait)
        before = read_item(login.session_id)

        # When the action is performed
        result = flow.act(action, login)
        row[action] = outcome(action, result, before, read_item(login.session_id))

    # Then every answer and every item change is the table's
    assert row == dict(zip(ACTIONS, EXPECTED[source], strict=True))


def test_a_whole_login_counts_one_version_per_transition(flow):
    # Given a new session at version 1
    login = flow.issue()
    versions = [flow.status(login).body["version"]]

    # When it is scanned, confirmed and redeemed, with a repeat of each phone step in between
    for step in ("scan:alice", "scan:alice", "confirm:alice", "confirm:alice", "redeem"):
        assert flow.act(step, login).status == 200
        versions.append(flow.status(login).body["version"])

    # Then each transition added exactly one and each repeat none
    assert versions == [1, 2, 2, 3, 3, 4]
