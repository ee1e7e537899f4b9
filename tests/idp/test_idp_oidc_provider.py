"""node-oidc-provider: RFC 9068 JWT access tokens (jwt mode) and RFC 7662 introspection, through the local stack.

jwt mode, as the README's "Auth0 / Okta / Keycloak-style JWT access tokens":
PhoneJwtIssuer = the provider's issuer, PhoneJwksUrl = its jwks_uri,
PhoneJwtAudience = the API's resource identifier, PhoneJwtClientId = the phone app.

introspection mode, as the README's "An introspection server": IntrospectionUrl
= its introspection_endpoint, IntrospectionSecretName = a Secrets Manager
secret with the client qrlogin authenticates as, PhoneJwtClientId = the phone
app (PhoneJwtAudience left empty: its opaque tokens carry no audience).
An introspection server that is down, slow or failing is tests/load/test_introspection.py.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

pytestmark = pytest.mark.idp
SECRET_NAME = "qrlogin/introspection"
# Loopback calls never go through a proxy the environment may name.
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

API = "https://qrlogin.example/api"
OTHER_API = "https://other.example/api"


def refused(reply, case: str) -> None:
    assert (reply.status, (reply.body or {}).get("error")) == (401, "unauthorized"), (
        f"{case} was not refused with 401: a token not meant for this stack could log its user in ({reply.body})")


# -- jwt mode ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jwt_stack(stacks):
    return stacks["oidc-jwt"]


def test_a_jwt_access_token_for_our_api_scans_and_confirms(jwt_stack, oidc_provider):
    # Given alice's phone app holding an RFC 9068 access token (typ at+jwt) for the qrlogin API
    token = oidc_provider.mint("jwt", "alice")
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    login = jwt_stack.login()

    # When she scans and confirms, Then both succeed and the page shows her
    assert jwt_stack.phone("scan", login, token).status == 200, "alice's phone cannot scan with its access token"
    assert jwt_stack.phone("confirm", login, token).status == 200, "alice cannot approve the login"
    assert jwt_stack.status(login)["status"] == "confirmed", "the web page is not told alice approved"


@pytest.mark.parametrize(("case", "mint"), [
    ("a token for another API (resource)", lambda p: p.mint("jwt", resource=OTHER_API)),
    ("a token issued to another app", lambda p: p.mint("jwt", client_id="other-app")),
    ("an expired token", lambda p: p.mint("jwt", expired=True)),
    ("an opaque access token", lambda p: p.mint("opaque")),
    ("a refresh token", lambda p: p.mint("refresh")),
])
def test_a_provider_token_not_meant_for_this_stack_is_401(jwt_stack, oidc_provider, case, mint):
    login = jwt_stack.login()
    refused(jwt_stack.phone("scan", login, mint(oidc_provider)), case)
    assert jwt_stack.status(login)["status"] == "pending", f"{case} changed the login the web page shows"


def test_a_token_signed_by_another_key_is_401(jwt_stack, oidc_provider):
    genuine = oidc_provider.mint("jwt")
    header = jwt.get_unverified_header(genuine)
    forged = jwt.encode(jwt.decode(genuine, options={"verify_signature": False}),
                        rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256",
                        headers={"kid": header["kid"], "typ": header["typ"]})
    refused(jwt_stack.phone("scan", jwt_stack.login(), forged), "a token with the provider's claims and another key")


@pytest.mark.parametrize("raw", [b"\xff\xfe\xfd", "héllo.wörld.x".encode("latin-1"), b"a.b", b"e30.e30.e30"],
                         ids=["not-utf8", "latin1", "two-parts", "unsigned-shape"])
def test_odd_bytes_in_the_authorization_header_are_401_never_5xx(jwt_stack, raw):
    reply = jwt_stack.phone("scan", jwt_stack.login(), raw)
    assert (reply.status, (reply.body or {}).get("error")) == (401, "unauthorized"), (
        f"a garbled Authorization header is answered {reply.status}: the phone shows a server error ({reply.body})")


def test_an_unreachable_jwks_is_503_and_nothing_changes(stacks, oidc_provider):
    # Given a stack whose issuer's keys cannot be fetched (the provider is down)
    stack = stacks["jwks-down"]
    login = stack.login()

    # When alice scans with a good token, Then she is told to try again, and the login is untouched
    reply = stack.phone("scan", login, oidc_provider.mint("jwt"))
    assert (reply.status, reply.body["error"]) == (503, "auth_unavailable"), (
        f"an identity-provider outage is not 'try again later' for the phone: {reply.body}")
    assert stack.status(login)["status"] == "pending"


# -- introspection mode ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def introspecting_stack(stacks):
    return stacks["introspection"]


def test_an_opaque_access_token_of_the_phone_app_scans_and_confirms(introspecting_stack, oidc_provider):
    token = oidc_provider.mint("opaque", "bob")
    login = introspecting_stack.login()
    assert introspecting_stack.phone("scan", login, token).status == 200, (
        "bob's phone cannot scan: the stack could not introspect his token with its own credentials")
    assert introspecting_stack.phone("confirm", login, token).status == 200, "bob cannot approve the login"
    assert introspecting_stack.status(login)["status"] == "confirmed", "the web page is not told bob approved"


def test_a_revoked_token_is_401(introspecting_stack, oidc_provider):
    # Given bob's token worked, then the app revoked it at the provider (he signed out)
    token = oidc_provider.mint("opaque", "bob")
    assert introspecting_stack.phone("scan", introspecting_stack.login(), token).status == 200
    oidc_provider.revoke(token)

    # Then a phone holding it can no longer approve anything
    refused(introspecting_stack.phone("scan", introspecting_stack.login(), token), "a revoked token")


@pytest.mark.parametrize(("case", "mint"), [
    ("a refresh token (its answer carries no token_type)", lambda p: p.mint("refresh")),
    ("another app's access token", lambda p: p.mint("opaque", client_id="other-app")),
    ("a JWT the server does not introspect", lambda p: p.mint("jwt")),
    ("a token the server never issued", lambda p: "never-issued-" + "x" * 32),
])
def test_a_token_the_server_does_not_vouch_for_this_app_is_401(introspecting_stack, oidc_provider, case, mint):
    login = introspecting_stack.login()
    refused(introspecting_stack.phone("scan", login, mint(oidc_provider)), case)
    assert introspecting_stack.status(login)["status"] == "pending"


def test_a_rotated_secret_is_read_again_on_the_first_refusal_and_phones_keep_logging_in(
        introspecting_stack, oidc_provider):
    # Given the stack introspecting with the secret it read on an earlier scan
    earlier = introspecting_stack.phone("scan", introspecting_stack.login(), oidc_provider.mint("opaque", "bob"))
    assert earlier.status == 200

    # When the operator rotates the client secret: in Secrets Manager, then at the provider
    secret = oidc_provider.rotate_introspector_secret()
    introspecting_stack.put_secret(SECRET_NAME, {"client_id": "qrlogin-introspector", "client_secret": secret})

    # Then the next phone still logs in (no redeploy): the provider's 401 made the stack read the secret again
    reply = introspecting_stack.phone("scan", introspecting_stack.login(), oidc_provider.mint("opaque", "bob"))
    assert reply.status == 200, f"after a secret rotation every phone is refused until a redeploy: {reply.body}"
    assert "reading the secret again" in introspecting_stack.log()


def test_our_own_credentials_refused_is_503_logged_by_name_never_with_the_secret(stacks, oidc_provider):
    # Given a stack whose secret holds a client secret the provider does not accept
    stack = stacks["introspection-wrong-secret"]
    login = stack.login()

    # When bob scans with a good token
    reply = stack.phone("scan", login, oidc_provider.mint("opaque", "bob"))

    # Then he is told to try again later (not that his token is bad), and nothing changes
    assert (reply.status, reply.body["error"]) == (503, "auth_unavailable"), (
        f"a misconfigured stack blames the user's token instead of answering 503: {reply.body}")
    assert stack.status(login)["status"] == "pending"
    # And the operator finds the cause, by name, in the log; the secret is nowhere (checked for every stack at the end)
    log = stack.log()
    assert "introspection misconfigured" in log and "invalid_client" in log, "the log does not say what is wrong"
    assert stack.introspection_secret and stack.introspection_secret not in log


def test_the_provider_really_requires_client_authentication(oidc_provider):
    # The 503 above means something only if the provider refuses unauthenticated introspection, as it does
    request = urllib.request.Request(f"{oidc_provider.issuer}/token/introspection", method="POST",
                                     data=urllib.parse.urlencode({"token": oidc_provider.mint("opaque")}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused_call:
        NO_PROXY.open(request, timeout=10)
    assert refused_call.value.code in (400, 401)
    assert json.loads(refused_call.value.read())["error"] in ("invalid_request", "invalid_client")
