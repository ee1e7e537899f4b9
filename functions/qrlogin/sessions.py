"""The session model and its state machine (DESIGN §2).  Pure: no I/O.

    pending --scan--> scanned --confirm--> confirmed --redeem--> redeemed
       |                 |
       +--deny/cancel----+--> denied | cancelled      (any non-final) --time--> expired

The store turns each transition into one conditional UpdateItem whose
condition is built from the ``Transition`` below; when the condition fails,
``classify_failure`` reads the item as it was and says what happened.
Expiry is decided by time (``expires_at``), never by TTL deletion.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from qrlogin import errors


class Status(enum.StrEnum):
    PENDING = "pending"
    SCANNED = "scanned"
    CONFIRMED = "confirmed"
    REDEEMED = "redeemed"
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# Stored statuses that time does not change.
SETTLED = frozenset({Status.REDEEMED, Status.DENIED, Status.CANCELLED})


@dataclass(frozen=True)
class PhoneUser:
    """The phone user, as their verified token describes them."""

    sub: str
    name: str | None = None


@dataclass(frozen=True)
class Session:
    session_id: str
    status: Status
    version: int
    created_at: int
    expires_at: int
    browser_token_hash: str
    request_ip: str
    request_user_agent: str
    user_sub: str | None = None
    user_name: str | None = None
    auth_time: int | None = None
    connections: frozenset[str] = field(default_factory=frozenset)
    # What an authorization request (DESIGN §8) binds to the session: client_id,
    # redirect_uri, code_challenge, nonce, state, scope (store.BOUND_FIELDS).
    bound: dict[str, str] = field(default_factory=dict)
    # The typed code (DESIGN §8), stored without its dash; minted on request.
    user_code: str | None = None

    def effective_status(self, now: float) -> Status:
        if self.status not in SETTLED and now >= self.expires_at:
            return Status.EXPIRED
        return self.status

    def is_final(self, now: float) -> bool:
        return self.effective_status(now) in SETTLED | {Status.EXPIRED}

    def status_message(self, now: float) -> dict[str, Any]:
        """The message a browser gets over the WebSocket for this state."""
        message: dict[str, Any] = {
            "type": "status",
            "session_id": self.session_id,
            "status": self.effective_status(now).value,
            "version": self.version,
            "expires_at": self.expires_at,
        }
        if self.user_name:
            message["user"] = self.user_name
        return message

    def status_view(self, now: float) -> dict[str, Any]:
        """The body of GET /sessions/{id}."""
        view = self.status_message(now)
        del view["type"]
        return view


@dataclass(frozen=True)
class Transition:
    """One edge (or set of edges) of the state machine."""

    name: str
    sources: tuple[Status, ...]
    target: Status
    # Which stored statuses mean "this same actor already did this": a repeat
    # answers 200 with the same body and changes nothing.
    done: tuple[Status, ...]


SCAN = Transition("scan", (Status.PENDING,), Status.SCANNED, done=(Status.SCANNED,))
CONFIRM = Transition(
    "confirm", (Status.SCANNED,), Status.CONFIRMED, done=(Status.CONFIRMED, Status.REDEEMED)
)
DENY = Transition("deny", (Status.PENDING, Status.SCANNED), Status.DENIED, done=(Status.DENIED,))
CANCEL = Transition("cancel", (Status.PENDING, Status.SCANNED), Status.CANCELLED, done=())
REDEEM = Transition("redeem", (Status.CONFIRMED,), Status.REDEEMED, done=())


def classify_phone_failure(transition: Transition, old: Session | None, user: PhoneUser, now: float) -> Session:
    """Why a phone transition's condition failed.

    Returns the session when the call is an idempotent repeat by the same
    user; raises the contract's error otherwise.
    """
    if old is None:
        raise errors.SessionNotFound()
    # Expiry first: a repeat after expires_at is 410 like any other call, not a 200.
    if old.effective_status(now) is Status.EXPIRED:
        raise errors.SessionExpired()
    if old.status in transition.done and old.user_sub == user.sub:
        return old
    if old.user_sub is not None and old.user_sub != user.sub:
        raise errors.SessionConflict("The session was scanned by another user.")
    raise errors.SessionConflict(
        f"The session is {old.effective_status(now).value}; {transition.name} is not allowed now."
    )


def check_redeemable(session: Session | None, now: float) -> Session:
    """Raise the OAuth-style error that says why a session cannot be redeemed."""
    if session is None:
        raise errors.SessionNotFound()
    status = session.effective_status(now)
    if status is Status.CONFIRMED:
        return session
    if status in (Status.PENDING, Status.SCANNED):
        raise errors.AuthorizationPending()
    if status in (Status.DENIED, Status.CANCELLED):
        raise errors.AccessDenied()
    if status is Status.EXPIRED:
        raise errors.ExpiredToken()
    raise errors.InvalidGrant()
