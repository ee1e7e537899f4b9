"""Typed user codes (DESIGN §8, §8.1): for when the camera cannot scan.

Every kind of session (QR login, authorization request, device grant) may get
a short code from RFC 8628 §6.1's alphabet: 8 characters of
``BCDFGHJKLMNPQRSTVWXZ`` (no vowels, so no words; no digits, so no 0/O or 1/I
mix-ups), shown as ``WDJB-MJHT`` and accepted in any case, with or without
dashes and spaces.  20^8 = 2.56e10 codes, about 34.6 bits.

A QR login's code is minted only when its page asks ("Can't scan?"), so the
happy path costs nothing extra.  Uniqueness among live sessions is one
conditional write of a ``usercode#<CODE>`` item (see ``user_code_store``).

The phone resolves a code to a session id; wrong codes are bounded per phone
user and per source address (``user_code_store.GUESSES_PER_USER`` and
``GUESSES_PER_ADDRESS`` per ``GUESS_WINDOW_SECONDS``), which docs/threat-model.md weighs against the
code space (RFC 8628 §5.1).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from qrlogin import errors, ids
from qrlogin.observability import count, logger, session_ref
from qrlogin.sessions import PhoneUser, Session, Status
from qrlogin.store import SessionStore
from qrlogin.user_code_store import UserCodeStore

ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
LENGTH = 8
CODE_SPACE = len(ALPHABET) ** LENGTH
# A fresh code collides with a live one with probability (live sessions) / 2.56e10;
# a few draws make a failure to find a free one practically impossible.
MINT_ATTEMPTS = 5

# Longest text we even try to normalize (a code with dashes and spaces is ~10).
MAX_ENTRY_LENGTH = 32

_SEPARATORS = re.compile(r"[\s-]+")
_CODE = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")

# Statuses in which a code still leads the phone somewhere useful.
LIVE = (Status.PENDING, Status.SCANNED)


def new_user_code() -> str:
    """8 characters drawn uniformly from the alphabet (``secrets``), stored without the dash."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """``WDJBMJHT`` -> ``WDJB-MJHT``: how people see it."""
    half = LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def normalize(entry: object) -> str:
    """What a person typed -> the stored form; InvalidRequest if it cannot be a code.

    Case- and dash-insensitive (RFC 8628 §6.1): ``wdjb mjht`` and ``WDJB-MJHT`` are the same code.
    """
    if not isinstance(entry, str) or len(entry) > MAX_ENTRY_LENGTH:
        raise errors.InvalidRequest("user_code must be a string like WDJB-MJHT.")
    code = _SEPARATORS.sub("", entry).upper()
    if _CODE.fullmatch(code) is None:
        raise errors.InvalidRequest(
            f"user_code must be {LENGTH} letters from {ALPHABET} (dashes and spaces are ignored).")
    return code


def is_live(session: Session | None, user: PhoneUser | None, now: float) -> bool:
    """A code resolves only to a session the phone can still act on."""
    if session is None:
        return False
    status = session.effective_status(now)
    if status is Status.PENDING:
        return True
    # A scanned session resolves again only for the user who scanned it.
    return status is Status.SCANNED and user is not None and session.user_sub == user.sub


def reserve_new_code(codes: UserCodeStore, session_id: str, expires_at: int, now: float) -> str:
    """A code no live session holds, reserved for ``session_id`` until ``expires_at``."""
    for _ in range(MINT_ATTEMPTS):
        code = new_user_code()
        if codes.reserve(code, session_id, expires_at, now):
            return code
    logger.warning("no free user code found", extra={"session_ref": session_ref(session_id), "attempts": MINT_ATTEMPTS})
    raise errors.ServiceUnavailable(retry_after=1)


# -- use cases -------------------------------------------------------------------


def mint_for_browser(store: SessionStore, codes: UserCodeStore, session_id: str, browser_token: str | None,
                     *, now: float) -> dict[str, Any]:
    """POST /sessions/{id}/user_code: the session's typed code, made on first request.

    Idempotent: asking again (or two tabs racing) answers the one code the session holds.
    """
    if not ids.is_session_id(session_id) or not ids.is_browser_token(browser_token):
        raise errors.SessionNotFound()
    assert browser_token is not None
    token_hash = ids.hash_token(browser_token)
    session = store.get(session_id)
    if session is None or not ids.token_matches(browser_token, session.browser_token_hash):
        raise errors.SessionNotFound()
    if session.user_code is None:
        _check_mintable(session, now)
        code = reserve_new_code(codes, session_id, session.expires_at, now)
        session = codes.bind_to_session(session_id, token_hash, code, now)
        if session.user_code == code:
            count("UserCodeMinted")
            logger.info("user code minted", extra={"session_ref": session_ref(session_id)})
        # else another request of this browser bound its code first; ours expires unused.
    assert session.user_code is not None
    return {"user_code": display(session.user_code), "expires_at": session.expires_at,
            "expires_in": max(0, session.expires_at - int(now))}


def _check_mintable(session: Session, now: float) -> None:
    status = session.effective_status(now)
    if status is Status.EXPIRED:
        raise errors.SessionExpired()
    if status not in LIVE:
        raise errors.SessionConflict(f"The session is {status.value}; a code would lead nowhere.")


def lookup(store: SessionStore, codes: UserCodeStore, entry: object, user: PhoneUser, *, source_ip: str,
           now: float) -> dict[str, Any]:
    """POST /sessions/lookup: typed code -> session id, with guessing bounded.

    Each attempt first takes one guess from the phone user's and the source
    address's budgets (a conditional write, so concurrent guesses cannot
    overrun them); a code that resolves gives its guess back.  A code of an
    expired or finished session resolves to nothing.
    """
    code = normalize(entry)  # malformed input is 400 and costs no guess: it cannot hit anything
    codes.take_guess(user.sub, source_ip, now)
    session_id = codes.resolve(code, now)
    session = store.get(session_id) if session_id else None
    if session is None or not is_live(session, user, now):
        count("UserCodeMissed")
        logger.info("user code lookup missed", extra={"user_sub": user.sub})
        raise errors.SessionNotFound("No live session has this code.")
    codes.give_back_guess(user.sub, source_ip, now)
    count("UserCodeResolved")
    logger.info("user code resolved", extra={"session_ref": session_ref(session.session_id), "user_sub": user.sub})
    return {"session_id": session.session_id}
