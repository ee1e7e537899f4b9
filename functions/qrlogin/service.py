"""The use cases of contract v1.  Handlers parse and map errors; this decides.

Each function takes its collaborators explicitly, so tests and the local
stack pass real ones (moto-backed store, KMS signer) without patching.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from qrlogin import errors, ids
from qrlogin.config import POLL_INTERVAL_SECONDS, REDEEM_WINDOW_SECONDS, Settings
from qrlogin.observability import count, logger, session_ref
from qrlogin.sessions import PhoneUser, Session, Status, check_redeemable
from qrlogin.signing import ID_TOKEN_LIFETIME_SECONDS, TokenSigner
from qrlogin.store import SessionStore


@dataclass(frozen=True)
class IssuedSession:
    session: Session
    browser_token: str
    qr_url: str


def count_issue(store: SessionStore, settings: Settings, source_ip: str, now: float) -> None:
    """IssueRateLimitPerMinute: every kind of session a source address starts counts (429 past it)."""
    if settings.issue_rate_limit_per_minute > 0:
        store.count_issue(source_ip, now, settings.issue_rate_limit_per_minute)


def pending_session(*, session_id: str, source_ip: str, user_agent: str, now: float, expires_at: int,
                    bound: dict[str, str] | None = None, user_code: str | None = None) -> tuple[Session, str]:
    """A new pending session (not yet stored) and its browser token, which the session keeps only hashed."""
    browser_token = ids.new_browser_token()
    session = Session(
        session_id=session_id,
        status=Status.PENDING,
        version=1,
        created_at=int(now),
        expires_at=expires_at,
        browser_token_hash=ids.hash_token(browser_token),
        request_ip=source_ip,
        request_user_agent=user_agent,
        user_code=user_code,
        bound=dict(bound or {}),
    )
    return session, browser_token


def issue_session(
    store: SessionStore, settings: Settings, *, source_ip: str, user_agent: str, now: float,
    bound: dict[str, str] | None = None,
) -> IssuedSession:
    """A new pending session; ``bound`` holds an OAuth request's fields (DESIGN §8)."""
    count_issue(store, settings, source_ip, now)
    session, browser_token = pending_session(
        session_id=ids.new_session_id(), source_ip=source_ip, user_agent=user_agent, now=now,
        expires_at=int(now) + settings.session_ttl_seconds, bound=bound)
    store.create(session)
    count("SessionIssued")
    logger.info("session issued", extra={"session_ref": session_ref(session.session_id)})
    return IssuedSession(session, browser_token, settings.qr_link_template.replace("{session_id}", session.session_id))


def issued_body(issued: IssuedSession, settings: Settings, qr_svg: str, now: float) -> dict[str, Any]:
    session = issued.session
    return {
        "session_id": session.session_id,
        "browser_token": issued.browser_token,
        "qr": {"url": issued.qr_url, "svg": qr_svg},
        "expires_at": session.expires_at,
        "expires_in": max(0, session.expires_at - int(now)),
        "interval": POLL_INTERVAL_SECONDS,
        "websocket_url": settings.websocket_url,
    }


# -- the phone ---------------------------------------------------------------


def same_network(a: str, b: str) -> bool:
    """Same IPv4 /24 or IPv6 /64: a cheap co-location signal for the phone app."""
    try:
        first, second = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return False
    if first.version != second.version:
        return False
    prefix = 24 if first.version == 4 else 64
    return ipaddress.ip_network(f"{a}/{prefix}", strict=False) == ipaddress.ip_network(f"{b}/{prefix}", strict=False)


def _log_transition(name: str, session: Session, user: PhoneUser | None, changed: bool) -> None:
    if changed:
        count(f"Session{name}")
    logger.info(
        f"session {name.lower()}" + ("" if changed else " (repeat)"),
        extra={"session_ref": session_ref(session.session_id), "status": session.status.value,
               "version": session.version, "user_sub": user.sub if user else None},
    )


def scan(store: SessionStore, session_id: str, user: PhoneUser, *, source_ip: str, now: float) -> dict[str, Any]:
    session, changed = store.scan(session_id, user, now)
    _log_transition("Scanned", session, user, changed)
    return {
        "session_id": session.session_id,
        "status": Status.SCANNED.value,
        "expires_at": session.expires_at,
        "request": {
            "ip": session.request_ip,
            "user_agent": session.request_user_agent,
            "created_at": session.created_at,
        },
        "proximity": {"same_network": same_network(source_ip, session.request_ip)},
    }


def confirm(store: SessionStore, session_id: str, user: PhoneUser, *, now: float) -> dict[str, Any]:
    session, changed = store.confirm(session_id, user, now, redeem_deadline=int(now) + REDEEM_WINDOW_SECONDS)
    _log_transition("Confirmed", session, user, changed)
    return {"session_id": session.session_id, "status": Status.CONFIRMED.value}


def deny(store: SessionStore, session_id: str, user: PhoneUser, *, now: float) -> dict[str, Any]:
    session, changed = store.deny(session_id, user, now)
    _log_transition("Denied", session, user, changed)
    return {"session_id": session.session_id, "status": Status.DENIED.value}


# -- the browser -------------------------------------------------------------


def _owned_session(store: SessionStore, session_id: str, browser_token: str | None,
                   *, consistent: bool = False) -> Session:
    """The session, if this browser token owns it; not_found otherwise (indistinguishable)."""
    if not ids.is_session_id(session_id) or not ids.is_browser_token(browser_token):
        raise errors.SessionNotFound()
    assert browser_token is not None
    session = store.get(session_id, consistent=consistent)
    if session is None or not ids.token_matches(browser_token, session.browser_token_hash):
        raise errors.SessionNotFound()
    return session


def read_status(store: SessionStore, session_id: str, browser_token: str | None, *, now: float) -> dict[str, Any]:
    return _owned_session(store, session_id, browser_token).status_view(now)


def cancel(store: SessionStore, session_id: str, browser_token: str | None, *, now: float) -> None:
    if not ids.is_session_id(session_id) or not ids.is_browser_token(browser_token):
        raise errors.SessionNotFound()
    assert browser_token is not None
    session = store.cancel(session_id, ids.hash_token(browser_token), now)
    _log_transition("Cancelled", session, None, True)


def redeem(store: SessionStore, signer: TokenSigner, session_id: str, browser_token: str | None,
           *, now: float) -> dict[str, Any]:
    """Exactly once: sign first, then commit with a conditional write.

    If KMS fails nothing was written and the session stays redeemable; if two
    redeems race, both may sign but only the one whose write wins returns.
    """
    # A consistent read: the browser redeems as soon as it hears "confirmed", and an
    # eventually consistent read may still say "scanned" (authorization_pending).
    session = check_redeemable(_owned_session(store, session_id, browser_token, consistent=True), now)
    assert browser_token is not None
    claims = signer.claims_for(session, int(now))
    id_token = signer.sign(claims)
    redeemed = store.redeem(session_id, ids.hash_token(browser_token), now, jti=claims["jti"])
    _log_transition("Redeemed", redeemed, None, True)
    return {"id_token": id_token, "token_type": "Bearer", "expires_in": ID_TOKEN_LIFETIME_SECONDS}


# -- the WebSocket -----------------------------------------------------------


def subscribe(store: SessionStore, message: dict[str, Any], connection_id: str, *, now: float) -> dict[str, Any]:
    """Attach the connection and return the snapshot (DESIGN §3, WebSocket)."""
    session_id = message.get("session_id")
    browser_token = message.get("browser_token")
    if not isinstance(session_id, str) or not isinstance(browser_token, str):
        raise errors.InvalidRequest("subscribe needs session_id and browser_token strings.")
    if not ids.is_session_id(session_id) or not ids.is_browser_token(browser_token):
        raise errors.SessionNotFound()
    session = store.attach_connection(session_id, ids.hash_token(browser_token), connection_id)
    # DEBUG: a subscription is not a state change (the audit trail at INFO is one line per transition).
    logger.debug("connection subscribed",
                 extra={"session_ref": session_ref(session_id), "status": session.status.value})
    return session.status_message(now)
