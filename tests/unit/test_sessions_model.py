"""DESIGN §2, the pure state machine (qrlogin.sessions): time, finality, and why a transition failed."""

from __future__ import annotations

import pytest

from qrlogin import errors
from qrlogin.sessions import (
    CANCEL,
    CONFIRM,
    DENY,
    REDEEM,
    SCAN,
    PhoneUser,
    Session,
    Status,
    check_redeemable,
    classify_phone_failure,
)

NOW = 1_800_000_000
ALICE, BOB = PhoneUser("alice", "Alice"), PhoneUser("bob")


def session(status: Status, *, user: str | None = "alice", expires_at: int = NOW + 60, name: str | None = "Alice",
            version: int = 2) -> Session:
    return Session(session_id="S" * 22, status=status, version=version, created_at=NOW - 60,
                   expires_at=expires_at, browser_token_hash="h", request_ip="198.51.100.7",
                   request_user_agent="ua", user_sub=user, user_name=name if user else None)


def test_the_edges_are_the_designs():
    # pending --scan--> scanned --confirm--> confirmed --redeem--> redeemed; deny/cancel from pending or scanned
    edges = {t.name: (set(t.sources), t.target) for t in (SCAN, CONFIRM, DENY, CANCEL, REDEEM)}
    assert edges == {
        "scan": ({Status.PENDING}, Status.SCANNED),
        "confirm": ({Status.SCANNED}, Status.CONFIRMED),
        "deny": ({Status.PENDING, Status.SCANNED}, Status.DENIED),
        "cancel": ({Status.PENDING, Status.SCANNED}, Status.CANCELLED),
        "redeem": ({Status.CONFIRMED}, Status.REDEEMED),
    }


@pytest.mark.parametrize("status", [Status.PENDING, Status.SCANNED, Status.CONFIRMED])
def test_an_unsettled_status_expires_at_expires_at(status):
    s = session(status, expires_at=NOW)
    assert s.effective_status(NOW - 0.001) is status
    assert s.effective_status(NOW) is Status.EXPIRED
    assert s.is_final(NOW) and not s.is_final(NOW - 1)


@pytest.mark.parametrize("status", [Status.REDEEMED, Status.DENIED, Status.CANCELLED])
def test_a_settled_status_never_expires(status):
    s = session(status, expires_at=NOW)
    assert s.effective_status(NOW + 10**6) is status
    assert s.is_final(NOW - 1)


def test_the_status_message_and_view():
    s = session(Status.SCANNED)
    assert s.status_message(NOW) == {"type": "status", "session_id": "S" * 22, "status": "scanned", "version": 2,
                                     "expires_at": NOW + 60, "user": "Alice"}
    assert s.status_view(NOW + 60) == {"session_id": "S" * 22, "status": "expired", "version": 2,
                                       "expires_at": NOW + 60, "user": "Alice"}
    assert "user" not in session(Status.PENDING, user=None).status_message(NOW)


# -- why a phone transition's condition failed ---------------------------------------


def test_a_missing_item_is_not_found():
    with pytest.raises(errors.SessionNotFound):
        classify_phone_failure(SCAN, None, ALICE, NOW)


@pytest.mark.parametrize(("transition", "status"), [(SCAN, Status.SCANNED), (CONFIRM, Status.CONFIRMED),
                                                    (CONFIRM, Status.REDEEMED), (DENY, Status.DENIED)])
def test_the_same_user_repeating_is_answered_with_the_session(transition, status):
    old = session(status)
    assert classify_phone_failure(transition, old, ALICE, NOW) is old


@pytest.mark.parametrize(("transition", "status"), [(SCAN, Status.SCANNED), (CONFIRM, Status.CONFIRMED)])
def test_a_repeat_after_expiry_is_expired_not_a_repeat(transition, status):
    # The same user's repeat of an expired session is 410 like any other late call.
    with pytest.raises(errors.SessionExpired):
        classify_phone_failure(transition, session(status, expires_at=NOW), ALICE, NOW)


@pytest.mark.parametrize("transition", [SCAN, CONFIRM, DENY])
def test_another_users_session_is_a_conflict(transition):
    with pytest.raises(errors.SessionConflict, match="another user"):
        classify_phone_failure(transition, session(Status.SCANNED), BOB, NOW)


@pytest.mark.parametrize(("transition", "status"), [(SCAN, Status.CONFIRMED), (CONFIRM, Status.PENDING),
                                                    (DENY, Status.CONFIRMED), (SCAN, Status.CANCELLED)])
def test_a_wrong_state_is_a_conflict_naming_it(transition, status):
    user = None if status in (Status.PENDING, Status.CANCELLED) else "alice"
    with pytest.raises(errors.SessionConflict, match=status.value):
        classify_phone_failure(transition, session(status, user=user), ALICE, NOW)


# -- why a session cannot be redeemed ---------------------------------------------------


@pytest.mark.parametrize(("status", "expires_at", "error"), [
    (Status.PENDING, NOW + 1, errors.AuthorizationPending),
    (Status.SCANNED, NOW + 1, errors.AuthorizationPending),
    (Status.DENIED, NOW + 1, errors.AccessDenied),
    (Status.CANCELLED, NOW - 1, errors.AccessDenied),
    (Status.PENDING, NOW, errors.ExpiredToken),
    (Status.CONFIRMED, NOW, errors.ExpiredToken),
    (Status.REDEEMED, NOW + 1, errors.InvalidGrant),
])
def test_check_redeemable_says_why_not(status, expires_at, error):
    with pytest.raises(error):
        check_redeemable(session(status, expires_at=expires_at), NOW)


def test_check_redeemable_passes_a_live_confirmed_session():
    s = session(Status.CONFIRMED, expires_at=NOW + 1)
    assert check_redeemable(s, NOW) is s
    with pytest.raises(errors.SessionNotFound):
        check_redeemable(None, NOW)


@pytest.mark.parametrize("error", [errors.AuthorizationPending, errors.AccessDenied, errors.ExpiredToken,
                                   errors.InvalidGrant])
def test_redeem_errors_are_400_with_oauth_codes(error):
    assert error.status_code == 400
    assert error.code in ("authorization_pending", "access_denied", "expired_token", "invalid_grant")
