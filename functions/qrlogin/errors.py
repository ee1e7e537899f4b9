"""Domain errors, each carrying the HTTP status and the contract's error code.

They are mapped to HTTP responses in one place (``qrlogin.http``); nothing
here knows about botocore or API Gateway.  Messages are written for people and
never contain a token.
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "invalid_request"
    default_message = "The request is not valid."

    def __init__(self, message: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.retry_after = retry_after


class InvalidRequest(DomainError):
    pass


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The request body is larger than 16 KiB."


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"
    default_message = "A valid user token is required."


class SessionNotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_message = "No such session."


class RouteNotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_message = "No such resource."


class SessionConflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "The session is not in a state that allows this."


class SessionExpired(DomainError):
    status_code = 410
    code = "expired"
    default_message = "The session has expired."


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many sessions from this address; try again in a minute."


class AuthUnavailable(DomainError):
    status_code = 503
    code = "auth_unavailable"
    default_message = "The identity provider could not be reached; try again."


class ServiceUnavailable(DomainError):
    """A dependency (DynamoDB throttling, KMS) failed; nothing was changed."""

    status_code = 503
    code = "temporarily_unavailable"
    default_message = "The service is busy; try again shortly."


class TokenError(DomainError):
    """Redeem failures use OAuth-style codes (RFC 8628 §3.5) with status 400."""

    status_code = 400


class AuthorizationPending(TokenError):
    code = "authorization_pending"
    default_message = "The user has not approved this login yet."


class AccessDenied(TokenError):
    code = "access_denied"
    default_message = "The login was denied or cancelled."


class ExpiredToken(TokenError):
    code = "expired_token"
    default_message = "The session expired before it was redeemed."


class InvalidGrant(TokenError):
    code = "invalid_grant"
    default_message = "The session's token was already redeemed."
