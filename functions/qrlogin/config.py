"""Settings, parsed once per container from the environment.

Every variable the code reads is named here, and nowhere else.  A missing
required variable fails loudly with its name at cold start.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

# After a confirm the browser always has this long to redeem (DESIGN §2).
REDEEM_WINDOW_SECONDS = 60
# Largest request body any route accepts (DESIGN §3).
MAX_BODY_BYTES = 16 * 1024
# How often a browser without a WebSocket should poll GET /sessions/{id}.
POLL_INTERVAL_SECONDS = 2
# What the phone-token verifiers may fetch from or post to: urllib also opens ftp: and data:
# URLs. http serves the local stacks, file the unit tests and the benchmarks.
PHONE_URL_SCHEMES = ("https", "http", "file")


class MissingSetting(RuntimeError):
    pass


@dataclass(frozen=True)
class Settings:
    table_name: str
    session_ttl_seconds: int
    allowed_origins: tuple[str, ...]
    qr_link_template: str
    websocket_url: str
    connections_url: str
    token_issuer: str
    token_audience: str
    signing_key_id: str
    signing_key_mode: str
    phone_auth_mode: str
    phone_jwt_issuer: str
    phone_jwt_audience: str
    phone_jwt_client_id: str
    phone_required_scope: str
    phone_jwks_url: str
    introspection_url: str
    introspection_secret_name: str
    issue_rate_limit_per_minute: int
    # The OpenID Provider (DESIGN §8): its issuer URL when set (a custom domain);
    # empty means the URL the request came in on (oauth.endpoint.issuer_of).
    oidc_issuer: str = ""
    # The "aud" of RFC 9068 access tokens: what an API Gateway JWT authorizer checks.
    access_token_audience: str = "qrlogin-api"
    # kms mode: the RSA_2048 KMS key that signs RS256 tokens ("" in envelope mode,
    # where the one symmetric key protects the keys of every algorithm).
    rsa_signing_key_id: str = ""
    # The device flow (RFC 8628): how long a device grant lives, and its polling interval.
    device_code_ttl_seconds: int = 600
    device_poll_interval_seconds: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise MissingSetting(f"environment variable {name} is required")
            return value

        def integer(name: str, minimum: int) -> int:
            raw = required(name)
            try:
                value = int(raw)
            except ValueError:
                raise MissingSetting(f"environment variable {name} must be an integer") from None
            if value < minimum:
                raise MissingSetting(f"environment variable {name} must be >= {minimum}")
            return value

        mode = required("PHONE_AUTH_MODE")
        if mode not in ("jwt", "introspection"):
            raise MissingSetting("environment variable PHONE_AUTH_MODE must be jwt or introspection")
        signing_mode = required("SIGNING_KEY_MODE")
        if signing_mode not in ("envelope", "kms"):
            raise MissingSetting("environment variable SIGNING_KEY_MODE must be envelope or kms")
        phone = _phone_settings(env, mode)
        template = required("QR_LINK_TEMPLATE")
        if "{session_id}" not in template:
            raise MissingSetting("environment variable QR_LINK_TEMPLATE must contain {session_id}")
        return cls(
            table_name=required("TABLE_NAME"),
            session_ttl_seconds=integer("SESSION_TTL_SECONDS", 1),
            allowed_origins=tuple(o.strip() for o in required("ALLOWED_ORIGINS").split(",") if o.strip()),
            qr_link_template=template,
            websocket_url=required("WEBSOCKET_URL"),
            connections_url=required("CONNECTIONS_URL"),
            token_issuer=required("TOKEN_ISSUER"),
            token_audience=required("TOKEN_AUDIENCE"),
            signing_key_id=required("SIGNING_KEY_ID"),
            signing_key_mode=signing_mode,
            rsa_signing_key_id=required("RSA_SIGNING_KEY_ID") if signing_mode == "kms"
            else env.get("RSA_SIGNING_KEY_ID", "").strip(),
            phone_auth_mode=mode,
            **phone,
            issue_rate_limit_per_minute=integer("ISSUE_RATE_LIMIT_PER_MINUTE", 0),
            oidc_issuer=env.get("OIDC_ISSUER", "").strip().rstrip("/"),
            access_token_audience=required("ACCESS_TOKEN_AUDIENCE"),
            device_code_ttl_seconds=integer("DEVICE_CODE_TTL_SECONDS", 1)
            if env.get("DEVICE_CODE_TTL_SECONDS") else 600,
            device_poll_interval_seconds=integer("DEVICE_POLL_INTERVAL_SECONDS", 1)
            if env.get("DEVICE_POLL_INTERVAL_SECONDS") else 5,
        )

    def origin_allowed(self, origin: str | None) -> bool:
        if "*" in self.allowed_origins:
            return True
        return origin is not None and origin in self.allowed_origins


def _phone_settings(env: Mapping[str, str], mode: str) -> dict[str, str]:
    """The phone-token settings (DESIGN §6): safe by default, so the mode in use fails by name without them.

    Whom a token must be for (an audience, an app client id, or both) is required in
    both modes: without it, a token the same provider issued to any other app would log
    its user in here.
    """

    def optional(name: str) -> str:
        return env.get(name, "").strip()

    values = {
        "phone_jwt_issuer": optional("PHONE_JWT_ISSUER"),
        "phone_jwt_audience": optional("PHONE_JWT_AUDIENCE"),
        "phone_jwt_client_id": optional("PHONE_JWT_CLIENT_ID"),
        "phone_required_scope": optional("PHONE_REQUIRED_SCOPE"),
        "phone_jwks_url": optional("PHONE_JWKS_URL"),
        "introspection_url": optional("INTROSPECTION_URL"),
        "introspection_secret_name": optional("INTROSPECTION_SECRET_NAME"),
    }
    if mode == "jwt":
        if not values["phone_jwt_issuer"]:
            raise MissingSetting("environment variable PHONE_JWT_ISSUER is required in jwt mode")
        if values["phone_jwks_url"]:
            _check_url("PHONE_JWKS_URL", values["phone_jwks_url"])
        else:
            # Where Cognito, Auth0 and most OIDC providers publish their keys.
            values["phone_jwks_url"] = values["phone_jwt_issuer"].rstrip("/") + "/.well-known/jwks.json"
            _check_url("PHONE_JWT_ISSUER (PHONE_JWKS_URL is derived from it)", values["phone_jwks_url"])
    else:
        if not values["introspection_url"]:
            raise MissingSetting("environment variable INTROSPECTION_URL is required in introspection mode")
        _check_url("INTROSPECTION_URL", values["introspection_url"])
        if not values["introspection_secret_name"]:
            raise MissingSetting("environment variable INTROSPECTION_SECRET_NAME is required in introspection mode")
    if not (values["phone_jwt_audience"] or values["phone_jwt_client_id"]):
        raise MissingSetting(f"environment variable PHONE_JWT_AUDIENCE or PHONE_JWT_CLIENT_ID is required in {mode} "
                             "mode: either names whom a phone token must be issued for")
    return values


def _check_url(name: str, url: str) -> None:
    if urllib.parse.urlsplit(url).scheme not in PHONE_URL_SCHEMES:
        raise MissingSetting(f"environment variable {name} must be an https (or http/file) URL")


# Every variable Settings reads, for the template test that checks each
# function has them set.
ENVIRONMENT_VARIABLES = (
    "TABLE_NAME",
    "SESSION_TTL_SECONDS",
    "ALLOWED_ORIGINS",
    "QR_LINK_TEMPLATE",
    "WEBSOCKET_URL",
    "CONNECTIONS_URL",
    "TOKEN_ISSUER",
    "TOKEN_AUDIENCE",
    "SIGNING_KEY_ID",
    "SIGNING_KEY_MODE",
    "RSA_SIGNING_KEY_ID",
    "PHONE_AUTH_MODE",
    "PHONE_JWT_ISSUER",
    "PHONE_JWT_AUDIENCE",
    "PHONE_JWT_CLIENT_ID",
    "PHONE_REQUIRED_SCOPE",
    "PHONE_JWKS_URL",
    "INTROSPECTION_URL",
    "INTROSPECTION_SECRET_NAME",
    "ISSUE_RATE_LIMIT_PER_MINUTE",
    "OIDC_ISSUER",
    "ACCESS_TOKEN_AUDIENCE",
    "DEVICE_CODE_TTL_SECONDS",
    "DEVICE_POLL_INTERVAL_SECONDS",
)


@cache
def get_settings() -> Settings:
    return Settings.from_env()
