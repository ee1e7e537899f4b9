"""Verification of the phone user's token (DESIGN §3, "Phone").

Two modes, chosen by ``PHONE_AUTH_MODE``:
- ``jwt``: the signature against the issuer's JWKS (fetched once and cached
  per container), ``iss``, ``aud``, ``exp``, ``nbf``; RS256 and ES256 only.
- ``introspection``: an RFC 7662 call with a short timeout.  An unreachable,
  slow or failing auth service is ``auth_unavailable`` (503), never a confirm.

Neither the token nor anything derived from it is logged or echoed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, Protocol

from qrlogin import errors
from qrlogin.config import Settings
from qrlogin.sessions import PhoneUser

ALLOWED_ALGORITHMS = ("RS256", "ES256")
# How long a phone waits on the identity provider before we give up.
AUTH_TIMEOUT_SECONDS = 2.0
# How long fetched signing keys are trusted before the JWKS is fetched again.
JWKS_LIFESPAN_SECONDS = 600
# A display name is shown to the browser; keep it to something displayable.
MAX_NAME_LENGTH = 64


class PhoneTokenVerifier(Protocol):
    def verify(self, token: str) -> PhoneUser: ...


def _is_unicode(value: str) -> bool:
    """False for a lone surrogate (JSON may carry "\\ud800"): DynamoDB takes only valid UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _display_name(claims: dict[str, Any]) -> str | None:
    for claim in ("name", "preferred_username", "username"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            # A lone surrogate becomes "?": DynamoDB refuses what is not valid UTF-8.
            return value.strip()[:MAX_NAME_LENGTH].encode("utf-8", "replace").decode("utf-8")
    return None


def _user_from_claims(claims: dict[str, Any]) -> PhoneUser:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 256 or not _is_unicode(subject):
        raise errors.Unauthorized("The user token has no subject.")
    return PhoneUser(sub=subject, name=_display_name(claims))


class JwksCache:
    """The issuer's signing keys, fetched once and kept for ``lifespan`` seconds.

    An unknown ``kid`` triggers one refetch (key rotation), at most once per
    ``cooldown`` seconds, so forged kids cannot make us hammer the issuer.
    """

    def __init__(self, url: str, timeout: float = AUTH_TIMEOUT_SECONDS, lifespan: float = JWKS_LIFESPAN_SECONDS,
                 cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        if urllib.parse.urlsplit(url).scheme not in ("https", "http", "file"):
            raise ValueError("PHONE_JWKS_URL must be an https (or http/file) URL")
        self.url = url
        self.timeout = timeout
        self.lifespan = lifespan
        self.cooldown = cooldown
        self.clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None

    def _fetch(self) -> None:
        import jwt

        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                document = json.loads(response.read(1 << 20))
        except (urllib.error.URLError, TimeoutError, OSError, ValueError):
            raise errors.AuthUnavailable() from None
        keys: dict[str, Any] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or "kid" not in entry:
                continue
            try:
                keys[str(entry["kid"])] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type we do not use
        self._keys = keys
        self._fetched_at = self.clock()

    def key(self, kid: str) -> Any:
        now = self.clock()
        stale = self._fetched_at is None or now - self._fetched_at > self.lifespan
        # An unknown kid may be a rotated key: refetch, but not more often than the cooldown.
        rotated = kid not in self._keys and now - (self._fetched_at or 0) > self.cooldown
        if stale or rotated:
            self._fetch()
        found = self._keys.get(kid)
        if found is None:
            raise errors.Unauthorized("The user token's signing key is unknown.")
        return found


class JwtPhoneTokenVerifier:
    def __init__(self, issuer: str, audience: str, jwks_url: str, timeout: float = AUTH_TIMEOUT_SECONDS) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = JwksCache(jwks_url, timeout)

    def verify(self, token: str) -> PhoneUser:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise errors.Unauthorized("The user token is malformed.") from None
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise errors.Unauthorized("The user token's algorithm is not accepted.")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise errors.Unauthorized("The user token names no signing key.")
        key = self.jwks.key(kid)
        if key.algorithm_name != algorithm:
            raise errors.Unauthorized("The user token's algorithm does not match its key.")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self.audience or None,
                issuer=self.issuer or None,
                options={"require": ["exp", "sub"], "verify_aud": bool(self.audience)},
                leeway=30,
            )
        except jwt.ExpiredSignatureError:
            raise errors.Unauthorized("The user token has expired.") from None
        except jwt.InvalidTokenError:
            raise errors.Unauthorized("The user token is not valid.") from None
        return _user_from_claims(claims)


class IntrospectionPhoneTokenVerifier:
    """RFC 7662 token introspection."""

    def __init__(self, url: str, timeout: float = AUTH_TIMEOUT_SECONDS) -> None:
        if urllib.parse.urlsplit(url).scheme not in ("https", "http", "file"):
            raise ValueError("INTROSPECTION_URL must be an https (or http/file) URL")
        self.url = url
        self.timeout = timeout

    def verify(self, token: str) -> PhoneUser:
        body = urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"}).encode()
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            self.url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                answer = json.loads(response.read(65536))
        except (urllib.error.URLError, TimeoutError, OSError, ValueError):
            # Down, slow, 4xx/5xx, or not JSON: we cannot tell, so we refuse.
            raise errors.AuthUnavailable() from None
        if not isinstance(answer, dict) or answer.get("active") is not True:
            raise errors.Unauthorized("The user token is not active.")
        return _user_from_claims(answer)


def verifier_from_settings(settings: Settings) -> PhoneTokenVerifier:
    if settings.phone_auth_mode == "introspection":
        if not settings.introspection_url:
            raise RuntimeError("environment variable INTROSPECTION_URL is required in introspection mode")
        return IntrospectionPhoneTokenVerifier(settings.introspection_url)
    if not settings.phone_jwks_url:
        raise RuntimeError("environment variable PHONE_JWKS_URL is required in jwt mode")
    return JwtPhoneTokenVerifier(settings.phone_jwt_issuer, settings.phone_jwt_audience, settings.phone_jwks_url)
