"""The issuer's signing keys: fetched once per container, refreshed, and kept through an outage (DESIGN §6).

- Keys are fresh for ``lifespan`` seconds, then fetched again on the next use.
- An unknown ``kid`` may be a rotated key: one refetch, at most once per
  ``cooldown`` seconds, so forged kids cannot make us hammer the issuer.
- A fetch that fails keeps the keys already fetched for ``grace`` seconds past
  their lifespan, so an issuer's short outage does not refuse every phone; the
  next attempt waits a backoff that doubles from ``backoff_min`` to
  ``backoff_max``, so phones do not each wait out a timeout meanwhile.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from qrlogin import errors
from qrlogin.observability import logger

# How long a phone waits on the identity provider before we give up.
FETCH_TIMEOUT_SECONDS = 2.0
JWKS_LIFESPAN_SECONDS = 600.0
JWKS_GRACE_SECONDS = 3600.0
REFETCH_COOLDOWN_SECONDS = 30.0
BACKOFF_MIN_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
MAX_JWKS_BYTES = 1 << 20


def fetch_json(url: str, timeout: float) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (scheme checked by Settings)
            return json.loads(response.read(MAX_JWKS_BYTES))
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        raise errors.AuthUnavailable() from None


class JwksCache:
    def __init__(self, url: str, timeout: float = FETCH_TIMEOUT_SECONDS, lifespan: float = JWKS_LIFESPAN_SECONDS,
                 cooldown: float = REFETCH_COOLDOWN_SECONDS, grace: float = JWKS_GRACE_SECONDS,
                 backoff_min: float = BACKOFF_MIN_SECONDS, backoff_max: float = BACKOFF_MAX_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 fetch: Callable[[str, float], Any] = fetch_json) -> None:
        self.url = url
        self.timeout = timeout
        self.lifespan = lifespan
        self.cooldown = cooldown
        self.grace = grace
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.clock = clock
        self.fetch = fetch
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None   # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._retry_at = float("-inf")           # no attempt before this (backoff after a failure)
        self._backoff = 0.0

    def key(self, kid: str) -> Any:
        now = self.clock()
        fresh = self._fetched_at is not None and now - self._fetched_at <= self.lifespan
        rotated = kid not in self._keys and (self._attempted_at is None or now - self._attempted_at > self.cooldown)
        if not fresh or rotated:
            self._refresh(now)
        if not self._usable(now):
            raise errors.AuthUnavailable()  # never fetched, or stale past the grace period
        found = self._keys.get(kid)
        if found is None:
            raise errors.Unauthorized("The user token's signing key is unknown.")
        return found

    def _usable(self, now: float) -> bool:
        """Keys are usable while fresh, and through a failing issuer for the grace period after that."""
        return self._fetched_at is not None and now - self._fetched_at <= self.lifespan + self.grace

    def _refresh(self, now: float) -> None:
        if now < self._retry_at:
            return  # backing off after a failure: use what we have, if it is still usable
        self._attempted_at = now
        try:
            self._keys = self._parse(self.fetch(self.url, self.timeout))
        except errors.AuthUnavailable:
            self._backoff = min(self.backoff_max, max(self.backoff_min, self._backoff * 2))
            self._retry_at = now + self._backoff
            logger.warning("phone token keys could not be fetched",
                           extra={"jwks_url": self.url, "keeping_keys": self._usable(now),
                                  "retry_in_s": self._backoff})
            return
        self._fetched_at = now
        self._backoff = 0.0
        self._retry_at = float("-inf")

    @staticmethod
    def _parse(document: Any) -> dict[str, Any]:
        from qrlogin import jws

        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise errors.AuthUnavailable()  # not a JWKS: as good as no answer
        keys: dict[str, Any] = {}
        for entry in document["keys"]:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or not isinstance(entry.get("kid"), str):
                continue
            try:
                keys[entry["kid"]] = jws.public_key(entry)
            except (jws.JwsError, ValueError, TypeError, KeyError):
                continue  # a key type we do not use, or a broken entry
        return keys
