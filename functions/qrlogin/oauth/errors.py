"""OAuth errors as values, mapped to responses in one place (RFC 6749 §5.2, RFC 6750 §3).

Each error names its code and HTTP status; its ``body()`` and ``headers()``
are the only translation to the wire (``oauth.endpoint`` sends them).  Descriptions
are for developers and never carry a secret (no code, secret or token).
"""

from __future__ import annotations

from typing import Any


class OAuthError(Exception):
    code = "invalid_request"
    status_code = 400
    default_description = "The request is missing a parameter or is otherwise malformed."

    def __init__(self, description: str | None = None, *, retry_after: int | None = None) -> None:
        self.description = description or self.default_description
        self.retry_after = retry_after
        super().__init__(self.description)

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description}

    def headers(self) -> dict[str, str]:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if self.retry_after:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class InvalidRequest(OAuthError):
    pass


class InvalidClient(OAuthError):
    """Client authentication failed: 401 with a challenge (RFC 6749 §5.2)."""

    code = "invalid_client"
    status_code = 401
    default_description = "Client authentication failed."

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "WWW-Authenticate": 'Basic realm="qrlogin", charset="UTF-8"'}


class InvalidGrant(OAuthError):
    code = "invalid_grant"
    default_description = "The authorization grant is invalid, expired, already used, or was issued to another client."


class UnauthorizedClient(OAuthError):
    code = "unauthorized_client"
    default_description = "This client may not use this grant type."


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"
    default_description = "The grant type is not supported."


class InvalidScope(OAuthError):
    code = "invalid_scope"
    default_description = "The requested scope is invalid."


class AccessDenied(OAuthError):
    code = "access_denied"
    default_description = "The user denied the request."


class AuthorizationPending(OAuthError):
    code = "authorization_pending"
    default_description = "The user has not approved the request yet."


class SlowDown(OAuthError):
    code = "slow_down"
    default_description = "Polling too fast; add 5 seconds to the interval."


class ExpiredToken(OAuthError):
    code = "expired_token"
    default_description = "The device code has expired."


class TemporarilyUnavailable(OAuthError):
    code = "temporarily_unavailable"
    status_code = 503
    default_description = "The service is busy; try again shortly."


class InvalidToken(OAuthError):
    """A bad access token at a protected resource (RFC 6750 §3.1): 401 with a Bearer challenge."""

    code = "invalid_token"
    status_code = 401
    default_description = "The access token is invalid or expired."

    def headers(self) -> dict[str, str]:
        challenge = f'Bearer realm="qrlogin", error="{self.code}", error_description="{self.description}"'
        return {**super().headers(), "WWW-Authenticate": challenge}


class MissingToken(InvalidToken):
    """No credentials at all: a bare challenge, no error code (RFC 6750 §3.1)."""

    def headers(self) -> dict[str, str]:
        return {"Cache-Control": "no-store", "WWW-Authenticate": 'Bearer realm="qrlogin"'}


# Redirect-able authorization errors (RFC 6749 §4.1.2.1) use these codes too:
# InvalidRequest, UnauthorizedClient, AccessDenied, InvalidScope, TemporarilyUnavailable,
# plus unsupported_response_type below.
class UnsupportedResponseType(OAuthError):
    code = "unsupported_response_type"
    default_description = "Only response_type=code is supported."


class ErrorPage(Exception):
    """The request cannot be trusted to redirect (unknown client or redirect_uri): show a page, never redirect."""

    def __init__(self, description: str, status_code: int = 400) -> None:
        self.description = description
        self.status_code = status_code
        super().__init__(description)
