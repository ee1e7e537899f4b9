"""DESIGN §3, phone-token verification: the introspection mode, and the jwt mode's key cache.

Introspection runs without sockets: INTROSPECTION_URL is a file:// URL whose
document is the RFC 7662 answer (urllib serves a POST to it by reading the
file), and a path that does not exist is an unreachable auth service.
Servers that are slow or answer 5xx belong to the integration tier.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.devidp import DevIdentityProvider
from qrlogin import deps, errors
from qrlogin.phone_auth import IntrospectionPhoneTokenVerifier, JwksCache, JwtPhoneTokenVerifier
from qrlogin.sessions import PhoneUser
from tests.unit.helpers import assert_error


def answer(tmp_path: Path, document: object, name: str = "introspection.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path.as_uri()


@pytest.fixture
def introspection(tmp_path, monkeypatch, aws):
    """Switches the container to PHONE_AUTH_MODE=introspection against a file:// answer."""

    def use(url: str) -> None:
        monkeypatch.setenv("PHONE_AUTH_MODE", "introspection")
        monkeypatch.setenv("INTROSPECTION_URL", url)
        deps.reset()

    return use


# -- the verifier alone ------------------------------------------------------------


def test_an_active_answer_yields_the_subject_and_display_name(tmp_path):
    # Given an introspection endpoint that says the token is active for alice
    url = answer(tmp_path, {"active": True, "sub": "alice", "name": "Alice", "scope": "openid"})

    # When a token is verified, Then the user is alice, named Alice
    assert IntrospectionPhoneTokenVerifier(url).verify("opaque-token") == PhoneUser("alice", "Alice")


def test_the_display_name_falls_back_to_username_and_is_cut_to_64(tmp_path):
    # Given an active answer with no name but a very long username
    url = answer(tmp_path, {"active": True, "sub": "alice", "username": "a" * 100})

    # Then the display name is the username's first 64 characters
    assert IntrospectionPhoneTokenVerifier(url).verify("t").name == "a" * 64


@pytest.mark.parametrize("document", [
    {"active": False},
    {"active": "true", "sub": "alice"},       # a string is not true
    {"active": True},                          # no subject
    {"active": True, "sub": ""},
    {"active": True, "sub": 42},
    ["active", True],
])
def test_an_inactive_or_subjectless_answer_is_unauthorized(tmp_path, document):
    # Given an endpoint that does not vouch for a user
    url = answer(tmp_path, document)

    # When a token is verified, Then it is refused as unauthorized
    with pytest.raises(errors.Unauthorized):
        IntrospectionPhoneTokenVerifier(url).verify("t")


@pytest.mark.parametrize("broken", ["missing", "not-json"])
def test_an_unreachable_or_garbled_auth_service_is_auth_unavailable(tmp_path, broken):
    # Given an endpoint that cannot be reached, or answers something that is not JSON
    url = (tmp_path / "nowhere.json").as_uri() if broken == "missing" else answer(tmp_path, "<html>502</html>")

    # When a token is verified, Then the answer is "unavailable", never a user
    with pytest.raises(errors.AuthUnavailable):
        IntrospectionPhoneTokenVerifier(url).verify("t")


def test_only_http_https_and_file_urls_are_accepted():
    with pytest.raises(ValueError, match="INTROSPECTION_URL"):
        IntrospectionPhoneTokenVerifier("ftp://auth.example.com/introspect")


# -- through the handlers ---------------------------------------------------------------


def test_introspection_mode_scans_and_confirms_as_the_vouched_user(flow, introspection, tmp_path):
    # Given the introspection mode vouching for alice
    login = flow.issue()
    introspection(answer(tmp_path, {"active": True, "sub": "alice", "name": "Alice"}))

    # When her phone scans and confirms with an opaque token
    scanned = flow.api.http("POST", f"/sessions/{login.session_id}/scan", token="opaque-1")
    confirmed = flow.api.http("POST", f"/sessions/{login.session_id}/confirm", token="opaque-1")

    # Then both succeed and the browser sees Alice
    assert (scanned.status, confirmed.status) == (200, 200)
    assert flow.status(login).body["user"] == "Alice"


def test_introspection_mode_refuses_an_inactive_token_with_401(flow, introspection, tmp_path, read_item):
    # Given the introspection mode answering inactive
    login = flow.issue()
    introspection(answer(tmp_path, {"active": False}))
    before = read_item(login.session_id)

    # When a phone scans, Then it is 401 and nothing changes
    assert_error(flow.api.http("POST", f"/sessions/{login.session_id}/scan", token="opaque"), 401, "unauthorized")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize("action", ["scan", "confirm", "deny"])
def test_an_unreachable_introspection_endpoint_is_503_and_never_a_transition(
        flow, introspection, tmp_path, read_item, action):
    # Given a session Alice scanned (through the jwt mode), then an auth service that cannot be reached
    login = flow.drive("scan:alice")
    introspection((tmp_path / "down" / "introspect.json").as_uri())
    before = read_item(login.session_id)

    # When a phone calls
    result = flow.api.http("POST", f"/sessions/{login.session_id}/{action}", token="opaque")

    # Then it is 503 auth_unavailable and the session is unchanged
    assert_error(result, 503, "auth_unavailable")
    assert read_item(login.session_id) == before


# -- the jwt mode's key cache --------------------------------------------------------


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rotated_key_is_fetched_but_not_more_often_than_the_cooldown(tmp_path, idp):
    # Given a JWKS cache that has fetched the issuer's keys once
    path = tmp_path / "rotating-jwks.json"
    path.write_text(json.dumps(idp.jwks()))
    clock = ManualClock()
    cache = JwksCache(path.as_uri(), cooldown=30, clock=clock)
    assert cache.key(idp.kid).key_id == idp.kid

    # When the issuer rotates to a new key and a token with the new kid arrives within the cooldown
    rotated = DevIdentityProvider(idp.issuer, idp.audience)
    path.write_text(json.dumps(rotated.jwks()))
    clock.now += 10
    with pytest.raises(errors.Unauthorized):
        cache.key(rotated.kid)

    # Then after the cooldown the new key is fetched and found
    clock.now += 25
    assert cache.key(rotated.kid).key_id == rotated.kid


def test_a_jwks_that_cannot_be_fetched_is_auth_unavailable(tmp_path, idp):
    # Given a verifier whose JWKS URL leads nowhere
    verifier = JwtPhoneTokenVerifier(idp.issuer, idp.audience, (tmp_path / "absent.json").as_uri())

    # When a well-formed token arrives, Then it is 503-worthy, not a user and not a crash
    with pytest.raises(errors.AuthUnavailable):
        verifier.verify(idp.mint("alice", "Alice"))


def test_the_jwt_verifier_accepts_a_good_token_and_reads_its_name(tmp_path, idp):
    # Given a verifier against the development issuer's JWKS
    path = tmp_path / "good-jwks.json"
    path.write_text(json.dumps(idp.jwks()))
    verifier = JwtPhoneTokenVerifier(idp.issuer, idp.audience, path.as_uri())

    # Then a token it minted verifies as its user
    assert verifier.verify(idp.mint("alice", "Alice")) == PhoneUser("alice", "Alice")
    assert verifier.verify(idp.mint("bob", preferred_username="bobby")) == PhoneUser("bob", "bobby")
