"""The discovery document (OIDC Discovery 1.0 §3, RFC 8414 §2; DESIGN §8)."""

from __future__ import annotations

from typing import Any

from qrlogin.oauth import grants
from qrlogin.oauth.authorize import SCOPES_SUPPORTED
from qrlogin.oauth.clients import SIGNING_ALGS

CLAIMS_SUPPORTED = ("iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce", "amr", "name")


def openid_configuration(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "device_authorization_endpoint": f"{issuer}/device_authorization",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(grants.grant_types()),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "id_token_signing_alg_values_supported": list(SIGNING_ALGS),
        "scopes_supported": list(SCOPES_SUPPORTED),
        "claims_supported": list(CLAIMS_SUPPORTED),
        "subject_types_supported": ["public"],
        "authorization_response_iss_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }
