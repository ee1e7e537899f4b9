"""DESIGN §2, the state machine as a table: every source status x every action.

Each cell issues a fresh session, takes it to the source status through the
handlers (moving the frozen clock for the expired rows), performs one action
and checks the answer and the item: a transition moves the status and bumps
``version`` by exactly one; a repeat or a refusal leaves the item as it was.
"""

from __future__ import annotations

import pytest

from tests.unit.helpers import ERROR_STATUSES, assert_error

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

CELLS = [(source, action, EXPECTED[source][i]) for source in SOURCES for i, action in enumerate(ACTIONS)]


def test_the_table_covers_every_source_and_action():
    assert set(EXPECTED) == set(SOURCES)
    assert all(len(row) == len(ACTIONS) for row in EXPECTED.values())


@pytest.mark.parametrize(("source", "action", "expected"), CELLS, ids=[f"{s}-{a}" for s, a, _ in CELLS])
def test_each_action_from_each_status(flow, clock, read_item, source, action, expected):
    # Given a session in the source status
    steps, wait = SOURCES[source]
    login = flow.drive(*steps)
    clock.advance(wait)
    before = read_item(login.session_id)

    # When the action is performed
    result = flow.act(action, login)
    after = read_item(login.session_id)

    # Then the answer and the item are as the table says
    if expected == REPEAT:
        assert result.status == 200, result.body
        assert result.body["status"] == ACTION_TARGET[action.split(":")[0]]
        assert after == before
    elif isinstance(expected, int):
        assert_error(result, expected, {409: "conflict", 410: "expired"}[expected])
        assert after == before
    elif expected in ERROR_STATUSES:
        assert_error(result, 400, expected)
        assert after == before
    else:
        assert result.status == (204 if action == "cancel" else 200), result.body
        assert after["status"]["S"] == expected
        assert int(after["version"]["N"]) == int(before["version"]["N"]) + 1


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
