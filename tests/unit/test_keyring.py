"""The keyring's arithmetic (qrlogin.keyring): which key signs at a time, which ones the JWKS publishes."""

from __future__ import annotations

import pytest

from qrlogin.keyring import (
    ENVELOPE,
    KMS,
    MAX_TOKEN_LIFETIME_SECONDS,
    RETIRED_KEY_PUBLISHED_SECONDS,
    ROTATION_NOTICE_SECONDS,
    KeyEntry,
    Keyring,
    public_jwks,
)

ARN = "arn:aws:kms:us-east-1:123456789012:key/k1"


def entry(kid: str, active_from: int, mode: str = ENVELOPE, protected_by: str = ARN) -> KeyEntry:
    return KeyEntry(kid, "ES256", {"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig"}, mode, protected_by,
                    active_from, b"ciphertext")


def kids(entries) -> list[str]:
    return [e.kid for e in entries]


def test_the_current_key_is_the_last_one_whose_time_has_come():
    ring = Keyring("ES256", 2, (entry("a", 100), entry("b", 200)))
    assert ring.current(99) is None
    assert ring.current(100).kid == "a"
    assert ring.current(199).kid == "a"
    assert ring.current(200).kid == "b"


def test_an_upcoming_key_is_published_before_it_signs():
    ring = Keyring("ES256", 2, (entry("a", 100), entry("b", 100 + ROTATION_NOTICE_SECONDS)))
    assert kids(ring.published(150)) == ["a", "b"]
    assert ring.current(150).kid == "a"


def test_a_retired_key_stays_published_until_every_token_it_signed_has_expired():
    ring = Keyring("ES256", 2, (entry("a", 100), entry("b", 1000)))
    # a retires when b becomes current, and outlives its longest token by the refresh and the skew
    assert ring.retired_at(ring.entries[0], 999) is None
    assert ring.retired_at(ring.entries[0], 1000) == 1000
    assert RETIRED_KEY_PUBLISHED_SECONDS > MAX_TOKEN_LIFETIME_SECONDS
    assert kids(ring.published(1000 + RETIRED_KEY_PUBLISHED_SECONDS - 1)) == ["a", "b"]
    assert kids(ring.published(1000 + RETIRED_KEY_PUBLISHED_SECONDS)) == ["b"]


def test_adding_a_key_keeps_time_order_bumps_the_generation_and_drops_expired_keys():
    ring = Keyring("ES256", 5, (entry("a", 100), entry("b", 1000)))
    later = 1000 + RETIRED_KEY_PUBLISHED_SECONDS + 1
    updated = ring.with_key(entry("c", later + 10), later)
    assert updated.generation == 6
    assert kids(updated.entries) == ["b", "c"]  # a expired; c after b
    # A key made "now" while an upcoming one exists goes before it
    assert kids(Keyring("ES256", 1, (entry("a", 100), entry("z", 5000))).with_key(entry("n", 200), 200).entries) == [
        "a", "n", "z"]


def test_re_adding_a_kid_replaces_its_old_entry():
    ring = Keyring("ES256", 1, (entry("k", 100, KMS), entry("e", 200)))
    assert kids(ring.with_key(entry("k", 300, KMS), 300).entries) == ["e", "k"]


@pytest.mark.parametrize(("mode", "arn", "bound"), [
    (ENVELOPE, ARN, True),
    (KMS, ARN, False),                 # SigningKeyMode switched
    (ENVELOPE, ARN + "-new", False),   # the KMS key was replaced
])
def test_a_key_is_bound_to_its_mode_and_kms_key(mode, arn, bound):
    assert entry("a", 1).bound_to(mode, arn) is bound


def test_the_jwks_is_every_published_public_key_and_copies_them():
    ring = Keyring("ES256", 2, (entry("a", 100), entry("b", 1000)))
    jwks = public_jwks([ring], 1000)
    assert [k["kid"] for k in jwks["keys"]] == ["a", "b"]
    jwks["keys"][0]["kid"] = "changed"
    assert ring.entries[0].public_jwk["kid"] == "a"
    assert "ciphertext" not in repr(ring.entries[0])  # never printed with the entry
