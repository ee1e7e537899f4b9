"""GET /authorize and its completion (DESIGN §8, RFC 6749 §4.1, RFC 7636, RFC 9207, OIDC Core §3.1.2).

An authorization request is a session of DESIGN §2 whose bound fields are the
client, the exact redirect_uri, the PKCE challenge, the nonce, the state and
the scope.  The order of checks is the spec's:

1. ``client_id`` and ``redirect_uri`` (exact match).  Either wrong: an error
   page, never a redirect (RFC 6749 §4.1.2.1), and no session.
2. everything else: an error is sent back to the client's redirect_uri with
   ``state`` and ``iss`` (RFC 9207), and no session is made.
3. a session; the hosted page shows its QR.  Once the phone confirms or
   denies, the page asks ``complete`` where to go: ``redirect_uri?code&state&iss``
   or ``?error=access_denied&state&iss``.

The code is ``<session_id>.<256 random bits>``: it names its session, so no
other item kind is needed, and the table keeps only its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from qrlogin import errors as domain_errors
from qrlogin import ids
from qrlogin.oauth import errors
from qrlogin.oauth.clients import Client, ClientRegistry
from qrlogin.sessions import Session, Status
from qrlogin.store import SessionStore

SCOPES_SUPPORTED = ("openid", "profile")
CODE_LIFETIME_SECONDS = 60
# S256 output: 32 bytes, base64url without padding (RFC 7636 §4.2).
CODE_CHALLENGE_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
# RFC 7636 §4.1: 43-128 characters of [A-Z a-z 0-9 - . _ ~].
CODE_VERIFIER_PATTERN = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
MAX_STATE_LENGTH = 1024
MAX_NONCE_LENGTH = 512
# Parameters that must appear at most once (RFC 6749 §3.1).
SINGLE_VALUED = ("client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
                 "code_challenge_method", "response_mode", "prompt")


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    state: str | None
    nonce: str | None
    scope: str
    code_challenge: str | None

    def bound(self) -> dict[str, str]:
        """What the session binds (store.BOUND_FIELDS)."""
        fields = {"client_id": self.client.client_id, "redirect_uri": self.redirect_uri, "scope": self.scope,
                  "state": self.state, "nonce": self.nonce, "code_challenge": self.code_challenge}
        return {name: value for name, value in fields.items() if value is not None}


class RedirectError(Exception):
    """An error the client hears about at its redirect_uri (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: errors.OAuthError, redirect_uri: str, state: str | None) -> None:
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state
        super().__init__(error.code)


def s256(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(code_verifier))) (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def redirect_url(redirect_uri: str, params: Mapping[str, str | None]) -> str:
    """redirect_uri with params added to its query, keeping any query it was registered with (RFC 6749 §3.1.2)."""
    parts = urlsplit(redirect_uri)
    added = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def error_redirect(redirect_uri: str, error: errors.OAuthError, state: str | None, issuer: str) -> str:
    return redirect_url(redirect_uri, {"error": error.code, "error_description": error.description,
                                       "state": state, "iss": issuer})


def granted_scope(requested: str) -> str:
    """The supported values of a requested scope, which must contain openid.

    Unknown values are ignored (RFC 6749 §3.3 lets the server narrow the scope).
    """
    values = requested.split()
    if "openid" not in values:
        raise errors.InvalidScope("scope must contain openid.")
    return " ".join(s for s in SCOPES_SUPPORTED if s in values)


def parse(registry: ClientRegistry, query: Mapping[str, list[str]]) -> AuthorizationRequest:
    """Check an authorization request in the spec's order; raises ErrorPage or RedirectError."""

    def single(name: str) -> str | None:
        values = query.get(name)
        return values[0] if values else None

    # 1. Who is asking, and where the answer may go: nothing is redirected before both are known good.
    client_id, redirect_uri = single("client_id"), single("redirect_uri")
    if len(query.get("client_id", [])) > 1 or len(query.get("redirect_uri", [])) > 1:
        raise errors.ErrorPage("client_id and redirect_uri must each be given once.")
    if not client_id:
        raise errors.ErrorPage("The request has no client_id.")
    client = registry.get(client_id)
    if client is None:
        raise errors.ErrorPage("Unknown client_id.")
    if not redirect_uri:
        raise errors.ErrorPage("The request has no redirect_uri (OpenID Connect requires it).")
    if not client.redirect_uri_registered(redirect_uri):
        raise errors.ErrorPage("redirect_uri is not registered for this client (exact match).")

    # 2. The rest goes back to the client.
    state = single("state")

    def refuse(error: errors.OAuthError) -> RedirectError:
        return RedirectError(error, redirect_uri, state if state is not None and len(state) <= MAX_STATE_LENGTH
                             else None)

    duplicated = [name for name in SINGLE_VALUED if len(query.get(name, [])) > 1]
    if duplicated:
        raise refuse(errors.InvalidRequest(f"{duplicated[0]} must be given once."))
    if state is not None and len(state) > MAX_STATE_LENGTH:
        raise refuse(errors.InvalidRequest(f"state is longer than {MAX_STATE_LENGTH} characters."))
    if "request" in query:
        raise refuse(RequestNotSupported())
    if "request_uri" in query:
        raise refuse(RequestUriNotSupported())
    response_type = single("response_type")
    if not response_type:
        raise refuse(errors.InvalidRequest("response_type is required."))
    if response_type != "code":
        raise refuse(errors.UnsupportedResponseType())
    if single("response_mode") not in (None, "query"):
        raise refuse(errors.InvalidRequest("Only response_mode=query is supported."))
    try:
        scope = granted_scope(single("scope") or "")
    except errors.InvalidScope as error:
        raise refuse(error) from None
    nonce = single("nonce")
    if nonce is not None and (not nonce or len(nonce) > MAX_NONCE_LENGTH):
        raise refuse(errors.InvalidRequest(f"nonce must be 1 to {MAX_NONCE_LENGTH} characters."))
    challenge, method = single("code_challenge"), single("code_challenge_method")
    if challenge is None:
        if method is not None:
            raise refuse(errors.InvalidRequest("code_challenge_method without code_challenge."))
        if client.public:
            raise refuse(errors.InvalidRequest("PKCE is required for public clients: send code_challenge (S256)."))
    else:
        if method != "S256":
            raise refuse(errors.InvalidRequest("code_challenge_method must be S256."))
        if not CODE_CHALLENGE_PATTERN.fullmatch(challenge):
            raise refuse(errors.InvalidRequest("code_challenge must be 43 base64url characters (S256)."))
    if "none" in (single("prompt") or "").split():
        # Every login here is a fresh phone approval: there is never a session to reuse (OIDC Core §3.1.2.1).
        raise refuse(LoginRequired())
    return AuthorizationRequest(client, redirect_uri, state, nonce, scope, challenge)


class RequestNotSupported(errors.OAuthError):
    code = "request_not_supported"
    default_description = "Request objects are not supported."


class RequestUriNotSupported(errors.OAuthError):
    code = "request_uri_not_supported"
    default_description = "request_uri is not supported."


class LoginRequired(errors.OAuthError):
    code = "login_required"
    default_description = "prompt=none cannot be honoured: every login is approved on a phone."


# -- completion ----------------------------------------------------------------------


def new_code(session_id: str) -> str:
    return f"{session_id}.{secrets.token_urlsafe(32)}"


def session_of_code(code: str) -> str | None:
    """The session id a code names, or None for anything that is not one of our codes."""
    session_id, dot, secret = code.partition(".")
    if not dot or not ids.is_session_id(session_id) or not ids.is_browser_token(secret):
        return None
    return session_id


@dataclass(frozen=True)
class Completion:
    """Where the hosted page goes next; ``redirect`` None means "not decided yet, keep waiting"."""

    redirect: str | None
    outcome: str  # code | access_denied | pending


def outcome_of(session: Session, now: float) -> str:
    status = session.effective_status(now)
    if status in (Status.PENDING, Status.SCANNED):
        return "pending"
    if status is Status.CONFIRMED:
        return "code"
    return "access_denied"  # denied, cancelled, expired, or completed by another tab


def denial(session: Session, now: float) -> errors.OAuthError:
    status = session.effective_status(now)
    reason = {
        Status.DENIED: "The user denied the login on their phone.",
        Status.CANCELLED: "The login was cancelled.",
        Status.EXPIRED: "The login request expired before it was approved.",
    }.get(status, "The login request was already completed.")
    return errors.AccessDenied(reason)


def complete(store: SessionStore, session_id: str, browser_token: str, *, issuer: str, now: float) -> Completion:
    """The hosted page's last step: a code for a confirmed request, an error for a denied or expired one.

    Only the browser that holds the session's browser token may complete it;
    anyone else gets not_found (as for an unknown session).
    """
    if not ids.is_session_id(session_id) or not ids.is_browser_token(browser_token):
        raise domain_errors.SessionNotFound()
    code = new_code(session_id)
    session, done = store.complete_authorization(session_id, ids.hash_token(browser_token), ids.hash_token(code),
                                                 now, int(now) + CODE_LIFETIME_SECONDS)
    if session is None or "redirect_uri" not in session.bound:
        raise domain_errors.SessionNotFound()
    redirect_uri, state = session.bound["redirect_uri"], session.bound.get("state")
    if done:
        return Completion(redirect_url(redirect_uri, {"code": code, "state": state, "iss": issuer}), "code")
    outcome = outcome_of(session, now)
    if outcome == "pending":
        return Completion(None, "pending")
    return Completion(error_redirect(redirect_uri, denial(session, now), state, issuer), "access_denied")
