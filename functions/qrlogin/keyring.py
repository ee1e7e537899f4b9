"""Which signing keys exist, which one signs now, and which ones the JWKS publishes.

Pure data and time arithmetic; ``store`` keeps a ``Keyring`` per algorithm in
the table (item ``signing-key#<alg>``) and ``signing`` makes and uses keys.

A keyring is a list of keys ordered by ``active_from``.  At any time ``now``:

- the current key (the one that signs) is the last whose ``active_from`` has come;
- a key whose successor has become active is retired at that moment, and stays
  published for ``RETIRED_KEY_PUBLISHED_SECONDS``: every token it can have signed
  has expired by then (a container may sign with it until its next refresh);
- a key not yet active is published already: a rotation announces the next key
  before any container signs with it, so relying parties that cache the JWKS
  (``JWKS_MAX_AGE_SECONDS``) know it when its first token arrives.

Each key records what protects it (``mode`` and the KMS key ARN): a key whose
binding differs from the stack's configuration is never used to sign (the KMS
key was replaced, or SigningKeyMode switched); a new one is made instead.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from typing import Any

# The longest lifetime any token signed here may have (sign() refuses longer ones).
MAX_TOKEN_LIFETIME_SECONDS = 3600
# A container re-reads its keyring when its copy is older than this.
KEY_REFRESH_SECONDS = 60
# Clock difference tolerated between containers and relying parties.
CLOCK_SKEW_SECONDS = 60
# How long a retired key stays in the JWKS: its last token may be signed up to a
# refresh after its retirement and lives at most MAX_TOKEN_LIFETIME_SECONDS.
RETIRED_KEY_PUBLISHED_SECONDS = MAX_TOKEN_LIFETIME_SECONDS + KEY_REFRESH_SECONDS + CLOCK_SKEW_SECONDS
# The JWKS route's Cache-Control max-age.
JWKS_MAX_AGE_SECONDS = 300
# A rotation publishes the next key this long before it signs: every cached JWKS
# and every container's keyring has been refreshed by then.
ROTATION_NOTICE_SECONDS = JWKS_MAX_AGE_SECONDS + KEY_REFRESH_SECONDS + CLOCK_SKEW_SECONDS

ENVELOPE = "envelope"
KMS = "kms"
# A key from before keys recorded their binding: published while retired, never used.
LEGACY = "legacy"


@dataclass(frozen=True)
class KeyEntry:
    kid: str
    algorithm: str
    public_jwk: dict[str, str]
    mode: str  # ENVELOPE | KMS | LEGACY
    # The KMS key that protects it: encrypts its private half (envelope) or is it (kms).
    protected_by: str
    active_from: int
    # envelope: the PKCS#8 private key encrypted under ``protected_by``; None otherwise.
    ciphertext: bytes | None = field(default=None, repr=False)

    def bound_to(self, mode: str, kms_key_arn: str) -> bool:
        return self.mode == mode and self.protected_by == kms_key_arn


@dataclass(frozen=True)
class Keyring:
    algorithm: str
    # Bumped by every write; a write is conditional on the generation it read.
    generation: int = 0
    entries: tuple[KeyEntry, ...] = ()

    def current(self, now: float) -> KeyEntry | None:
        active = [e for e in self.entries if e.active_from <= now]
        return active[-1] if active else None

    def retired_at(self, entry: KeyEntry, now: float) -> int | None:
        """When ``entry``'s successor became active; None while no successor is active."""
        following = self.entries[self.entries.index(entry) + 1:]
        return following[0].active_from if following and following[0].active_from <= now else None

    def published(self, now: float) -> list[KeyEntry]:
        """Every key a token in circulation, or about to be, may name: upcoming, current, recently retired."""
        kept = []
        for entry in self.entries:
            retired = self.retired_at(entry, now)
            if retired is None or now < retired + RETIRED_KEY_PUBLISHED_SECONDS:
                kept.append(entry)
        return kept

    def with_key(self, entry: KeyEntry, now: float) -> Keyring:
        """This keyring plus ``entry`` (in ``active_from`` order), less the keys no longer published
        and any older entry of the same kid (a KMS key recorded again after a mode switch)."""
        entries = [e for e in self.published(now) if e.kid != entry.kid]
        keys = [e.active_from for e in entries]
        entries.insert(bisect.bisect_right(keys, entry.active_from), entry)
        return replace(self, generation=self.generation + 1, entries=tuple(entries))


def public_jwks(keyrings: list[Keyring], now: float) -> dict[str, Any]:
    """The JWK Set of every published key, public members only."""
    keys = []
    for ring in keyrings:
        keys += [dict(entry.public_jwk) for entry in ring.published(now)]
    return {"keys": keys}
