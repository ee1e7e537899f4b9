"""Whom a phone token is for, and who it names: the checks both modes share (DESIGN §6).

The claims come from a verified JWT or from an RFC 7662 introspection answer;
either way the same policy decides whether the token was issued for this stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qrlogin import errors
from qrlogin.jws import MAX_TOKEN_LENGTH
from qrlogin.sessions import PhoneUser

# A display name is shown to the browser; keep it to something displayable.
MAX_NAME_LENGTH = 64
MAX_SUBJECT_LENGTH = 256
# Largest token we look at; real ones (Cognito with groups included) stay far below.
# RFC 6750 §2.1 b64token: what a bearer token may consist of.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# Cognito: what its tokens say they are.
COGNITO_TOKEN_USES = ("access", "id")


def check_bearer_token(token: str) -> None:
    """Anything that could not be a bearer token is refused before it reaches a parser or the network."""
    if len(token) > MAX_TOKEN_LENGTH or not _B64TOKEN.fullmatch(token):
        raise errors.Unauthorized("The user token is malformed.")


def _as_list(value: Any) -> list[str] | None:
    """A claim that RFC 7519 allows as a string or a list of strings (``aud``)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def _scopes(claims: dict[str, Any]) -> set[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return set(scope.split())
    listed = _as_list(claims.get("scp"))  # Okta, Azure: a list under "scp"
    return set(listed or ())


@dataclass(frozen=True)
class TokenPolicy:
    """Who a token must be for.  At least one of ``audience`` and ``client_id`` is set (Settings makes sure).

    - ``audience``: the token's ``aud`` (a string or a list) must contain it.
    - ``client_id``: the app the token was issued to must be this one.  That is
      the ``client_id`` claim (RFC 9068 access tokens, Cognito access tokens,
      RFC 7662 answers), else ``azp`` (OIDC), else the ``aud`` of an id token
      issued to one client (Cognito id tokens).
    - ``required_scope``: the token's ``scope`` (or ``scp``) must contain it; an
      id token carries no scope, so it is then refused.
    """

    audience: str = ""
    client_id: str = ""
    required_scope: str = ""

    def __post_init__(self) -> None:
        if not (self.audience or self.client_id):
            raise ValueError("a token policy needs an audience or a client id")

    def check(self, claims: dict[str, Any]) -> None:
        token_use = claims.get("token_use")
        if token_use is not None and token_use not in COGNITO_TOKEN_USES:
            raise errors.Unauthorized("The user token is not an access or id token.")
        audiences = _as_list(claims.get("aud")) if "aud" in claims else []
        if audiences is None:
            raise errors.Unauthorized("The user token's audience is malformed.")
        if self.audience and self.audience not in audiences:
            raise errors.Unauthorized("The user token was issued for another audience.")
        if self.client_id and self._issued_to(claims, token_use, audiences) != self.client_id:
            raise errors.Unauthorized("The user token was issued to another app.")
        if self.required_scope and self.required_scope not in _scopes(claims):
            raise errors.Unauthorized("The user token lacks the required scope.")

    @staticmethod
    def _issued_to(claims: dict[str, Any], token_use: Any, audiences: list[str]) -> Any:
        if token_use == "access" or "client_id" in claims:
            return claims.get("client_id")
        if "azp" in claims:
            return claims.get("azp")
        # An id token names its one client as its audience.
        return audiences[0] if len(audiences) == 1 else None


def _is_unicode(value: str) -> bool:
    """False for a lone surrogate (JSON may carry "\\ud800"): DynamoDB takes only valid UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _display_name(claims: dict[str, Any]) -> str | None:
    for claim in ("name", "preferred_username", "username", "cognito:username"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            # A lone surrogate becomes "?": DynamoDB refuses what is not valid UTF-8.
            return value.strip()[:MAX_NAME_LENGTH].encode("utf-8", "replace").decode("utf-8")
    return None


def user_from_claims(claims: dict[str, Any]) -> PhoneUser:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT_LENGTH or not _is_unicode(subject):
        raise errors.Unauthorized("The user token has no subject.")
    return PhoneUser(sub=subject, name=_display_name(claims))
