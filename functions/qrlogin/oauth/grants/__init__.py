"""One token endpoint, one module per grant (DESIGN §8): the registry the endpoint dispatches on.

A grant is a function ``(TokenRequest) -> dict`` that returns the token
response body or raises an ``qrlogin.oauth.errors.OAuthError``.  The client
is already authenticated when a grant runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qrlogin.oauth import errors
from qrlogin.oauth.clients import Client
from qrlogin.oauth.tokens import TokenMinter
from qrlogin.store import SessionStore


@dataclass(frozen=True)
class TokenRequest:
    client: Client               # authenticated (clients.authenticate)
    params: Mapping[str, str]    # the form, each parameter once (duplicates were refused)
    issuer: str                  # this stack's issuer URL
    now: float
    store: SessionStore
    minter: TokenMinter


Grant = Callable[[TokenRequest], dict[str, Any]]

AUTHORIZATION_CODE = "authorization_code"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


def _registry() -> dict[str, Grant]:
    # Imported here: a grant module imports TokenRequest from this one.
    from qrlogin.oauth.grants import authorization_code, device_code

    return {
        AUTHORIZATION_CODE: authorization_code.exchange,
        DEVICE_CODE: device_code.exchange,
    }


def grant_types() -> tuple[str, ...]:
    """What discovery advertises as grant_types_supported."""
    return tuple(_registry())


def dispatch(request: TokenRequest) -> dict[str, Any]:
    grant_type = request.params.get("grant_type")
    if not grant_type:
        raise errors.InvalidRequest("grant_type is required.")
    grant = _registry().get(grant_type)
    if grant is None:
        raise errors.UnsupportedGrantType()
    return grant(request)
