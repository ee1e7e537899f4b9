"""Verification of the phone user's token (DESIGN §3 "Phone", §6).

Two modes, chosen by ``PHONE_AUTH_MODE``:
- ``jwt`` (jwt_mode.py): the signature against the issuer's JWKS (jwks.py:
  cached per container, kept through an outage), ``iss``, ``exp``, ``nbf``;
  RS256 and ES256 only.
- ``introspection`` (introspection.py): RFC 7662 with client authentication,
  the credentials from AWS Secrets Manager.

Both then apply one policy (claims.py): the token must be for this stack's
audience or app client (Cognito access and id tokens included), and carry
the required scope if one is set.  Neither the token nor anything derived
from it is logged or echoed.  Only the confirm function imports this
package, on its first phone request (``deps.phone_verifier``); that loads
urllib and cryptography's asymmetric primitives (jws.py verifies signatures
with them, not PyJWT, which loads all of cryptography).  boto3 loads only
when introspection mode first reads its secret.
"""

from __future__ import annotations

from typing import Protocol

from qrlogin.config import Settings
from qrlogin.phone_auth.claims import TokenPolicy
from qrlogin.phone_auth.introspection import IntrospectionPhoneTokenVerifier, SecretsManagerCredentials
from qrlogin.phone_auth.jwks import JwksCache
from qrlogin.phone_auth.jwt_mode import JwtPhoneTokenVerifier
from qrlogin.sessions import PhoneUser

__all__ = ["IntrospectionPhoneTokenVerifier", "JwksCache", "JwtPhoneTokenVerifier", "PhoneTokenVerifier",
           "TokenPolicy", "verifier_from_settings"]


class PhoneTokenVerifier(Protocol):
    def verify(self, token: str) -> PhoneUser: ...


def verifier_from_settings(settings: Settings) -> PhoneTokenVerifier:
    """Settings already refused a mode without its required values, by name."""
    policy = TokenPolicy(audience=settings.phone_jwt_audience, client_id=settings.phone_jwt_client_id,
                         required_scope=settings.phone_required_scope)
    if settings.phone_auth_mode == "introspection":
        return IntrospectionPhoneTokenVerifier(settings.introspection_url,
                                               SecretsManagerCredentials(settings.introspection_secret_name), policy)
    return JwtPhoneTokenVerifier(settings.phone_jwt_issuer, settings.phone_jwks_url, policy)
