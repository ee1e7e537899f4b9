"""DESIGN §3, identifiers: session_id 128 random bits and browser_token 256, base64url, never stored raw."""

from __future__ import annotations

import base64
import string

import pytest

from qrlogin import ids

BASE64URL = set(string.ascii_letters + string.digits + "-_")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize(("make", "length", "random_bytes"), [
    (ids.new_session_id, 22, 16),
    (ids.new_browser_token, 43, 32),
])
def test_identifiers_are_base64url_of_fresh_random_bytes(make, length, random_bytes):
    # Given 2000 draws
    draws = [make() for _ in range(2000)]

    # Then each has the contract's length and alphabet, and decodes to the contract's number of bytes
    assert {len(d) for d in draws} == {length}
    assert set("".join(draws)) <= BASE64URL
    assert {len(_decode(d)) for d in draws} == {random_bytes}
    assert ids.is_session_id(draws[0]) == (length == 22)
    assert ids.is_browser_token(draws[0]) == (length == 43)

    # And none repeats, and every bit position is set in about half of them (no fixed or weak bits)
    assert len(set(draws)) == len(draws)
    bits = [int.from_bytes(_decode(d), "big") for d in draws]
    for position in range(random_bytes * 8):
        ones = sum((value >> position) & 1 for value in bits)
        assert 800 < ones < 1200, f"bit {position} is set in {ones} of 2000"  # mean 1000, sd 22


def test_the_stored_hash_is_not_the_token_and_matches_only_it():
    # Given a browser token and its stored hash
    token = ids.new_browser_token()
    stored = ids.hash_token(token)

    # Then the hash differs from the token, is stable, and matches the token and no other
    assert stored != token and ids.hash_token(token) == stored
    assert len(stored) == 43 and set(stored) <= BASE64URL
    assert ids.token_matches(token, stored)
    assert not ids.token_matches(ids.new_browser_token(), stored)
    assert not ids.token_matches(token[:-1] + ("A" if token[-1] != "A" else "B"), stored)


def test_hashing_a_non_ascii_token_does_not_fail():
    assert not ids.token_matches("tökén" * 9, ids.hash_token(ids.new_browser_token()))


@pytest.mark.parametrize("value", [
    "A" * 21, "A" * 23, "A" * 21 + "=", "A" * 21 + "+", "A" * 21 + "/", "é" * 22, "A" * 22 + "\n",
    "\n" + "A" * 22, " " + "A" * 21, None, 22, b"A" * 22, ["A" * 22],
])
def test_what_is_not_a_session_id(value):
    assert not ids.is_session_id(value)


@pytest.mark.parametrize("value", ["A" * 42, "A" * 44, "A" * 43 + "\n", "A" * 42 + "=", "é" * 43, None, 43])
def test_what_is_not_a_browser_token(value):
    assert not ids.is_browser_token(value)
