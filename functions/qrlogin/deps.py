"""Collaborators, built lazily and once per container.

Handlers call these instead of building clients at import time, so importing
a handler costs no AWS setup and tests control when (and against what) the
collaborators are made.  ``reset()`` forgets them (tests, local stack reloads).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from qrlogin.config import get_settings
from qrlogin.signing import TokenSigner, signer_for
from qrlogin.store import SessionStore
from qrlogin.user_code_store import UserCodeStore

if TYPE_CHECKING:  # only the confirm function verifies phone tokens: the others skip its urllib imports
    from qrlogin.oauth.clients import ClientRegistry
    from qrlogin.phone_auth import PhoneTokenVerifier


@cache
def store() -> SessionStore:
    return SessionStore(get_settings().table_name)


@cache
def signer() -> TokenSigner:
    return signer_for(get_settings(), store())


@cache
def user_codes() -> UserCodeStore:
    return UserCodeStore(store())


@cache
def clients() -> ClientRegistry:
    """The OpenID Provider's registered clients (read per request, so a removed client stops at once)."""
    from qrlogin.oauth.clients import ClientRegistry

    return ClientRegistry(get_settings().table_name, store().client)


@cache
def phone_verifier() -> PhoneTokenVerifier:
    from qrlogin.phone_auth import verifier_from_settings

    return verifier_from_settings(get_settings())


@cache
def connections() -> Any:
    """The API Gateway Management API client for this stack's WebSocket API."""
    from qrlogin.aws import client

    return client("apigatewaymanagementapi", endpoint_url=get_settings().connections_url)


def reset() -> None:
    from qrlogin.aws import client

    for cached in (store, user_codes, signer, clients, phone_verifier, connections, get_settings, client):
        cached.cache_clear()
