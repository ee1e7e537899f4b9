"""POST /token (authorization_code), /userinfo, discovery, the tokens' claims and client registration.

RFC 6749 §4.1.3 / §5.2, RFC 7636 §4.6, RFC 9700 §2.1.1, RFC 9068, RFC 6750 §3, OIDC Core §3.1.3 / §5.3.
"""

from __future__ import annotations

import base64
import json

import pytest

from qrlogin import deps, signing
from qrlogin.config import get_settings
from qrlogin.oauth.clients import InvalidClientMetadata, new_client
from qrlogin.store import SessionStore
from tests.unit.oidc_support import DOMAIN, ISSUER, REDIRECT, Rp, jwt_parts, patch_clock


@pytest.fixture
def rp(flow, clock, monkeypatch) -> Rp:
    patch_clock(monkeypatch, clock)
    return Rp(flow)


def oauth_error(result, status: int, error: str) -> None:
    assert result.status == status, result.body
    assert result.body["error"] == error
    assert result.headers["content-type"] == "application/json"
    assert result.headers["cache-control"] == "no-store"


# -- the happy path and the tokens ------------------------------------------------------------------


def test_a_code_exchanges_for_id_token_and_access_token(rp, clock):
    client = rp.register()
    started, answer = rp.approved(client)
    result = rp.exchange(client, started, answer)
    assert result.status == 200, result.body
    body = result.body
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["scope"] == "openid profile"
    assert result.headers["cache-control"] == "no-store" and result.headers["pragma"] == "no-cache"
    header, claims = jwt_parts(body["id_token"])
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["iss"] == ISSUER and claims["aud"] == client.client_id and claims["azp"] == client.client_id
    assert claims["sub"] == "alice" and claims["name"] == "Alice"
    assert claims["nonce"] == started.params["nonce"]
    assert claims["auth_time"] <= claims["iat"] < claims["exp"] and claims["amr"] == ["qr"]


def test_the_access_token_follows_rfc_9068(rp):
    client = rp.register()
    started, answer = rp.approved(client)
    header, claims = jwt_parts(rp.exchange(client, started, answer).body["access_token"])
    assert header["alg"] == "RS256" and header["typ"] == "at+jwt" and header["kid"]
    assert claims["iss"] == ISSUER and claims["aud"] == "https://api.example.com"  # the configured audience
    assert claims["aud"] != client.client_id
    assert claims["sub"] == "alice" and claims["client_id"] == client.client_id
    assert {"iat", "exp", "jti", "scope", "auth_time"} <= set(claims)


def test_a_client_registered_for_es256_gets_es256_id_tokens(rp):
    client = rp.register(id_token_signed_response_alg="ES256")
    started, answer = rp.approved(client)
    body = rp.exchange(client, started, answer).body
    assert jwt_parts(body["id_token"])[0]["alg"] == "ES256"
    assert jwt_parts(body["access_token"])[0]["alg"] == "RS256"  # what an API Gateway authorizer verifies


def test_the_jwks_publishes_the_rsa_key_without_private_members(rp):
    client = rp.register()
    started, answer = rp.approved(client)
    kid = jwt_parts(rp.exchange(client, started, answer).body["id_token"])[0]["kid"]
    keys = rp.call("GET", "/.well-known/jwks.json").body["keys"]
    rsa = [key for key in keys if key["kid"] == kid]
    assert rsa and rsa[0]["kty"] == "RSA" and rsa[0]["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(rsa[0])


def test_no_nonce_requested_means_no_nonce_claim(rp):
    client = rp.register()
    started, answer = rp.approved(client, nonce=None)
    assert "nonce" not in jwt_parts(rp.exchange(client, started, answer).body["id_token"])[1]


# -- client authentication ---------------------------------------------------------------------------


def test_client_secret_post_is_accepted(rp):
    client = rp.register()
    started, answer = rp.approved(client)
    assert rp.exchange(client, started, answer, auth="post").status == 200


def test_a_wrong_client_secret_is_401_invalid_client(rp):
    client = rp.register()
    started, answer = rp.approved(client)
    client.secret = "wrong" + (client.secret or "")[5:]
    result = rp.exchange(client, started, answer)
    oauth_error(result, 401, "invalid_client")
    assert result.headers["www-authenticate"].startswith("Basic")


def test_a_confidential_client_without_its_secret_is_401(rp):
    client = rp.register()
    started, answer = rp.approved(client)
    oauth_error(rp.exchange(client, started, answer, auth="none"), 401, "invalid_client")


def test_an_unknown_client_is_401(rp):
    oauth_error(rp.token({"grant_type": "authorization_code", "code": "x", "client_id": "B" * 22}),
                401, "invalid_client")


def test_a_public_client_authenticates_with_its_id_and_pkce(rp):
    client = rp.register(public=True)
    started, answer = rp.approved(client)
    assert rp.exchange(client, started, answer, auth="none").status == 200


def test_two_authentication_methods_at_once_are_refused(rp):
    client = rp.register()
    started, answer = rp.approved(client)
    result = rp.exchange(client, started, answer, client_secret=client.secret)  # basic + post
    assert result.status in (400, 401) and result.body["error"] in ("invalid_request", "invalid_client")


# -- the code: single use, bound, short-lived ---------------------------------------------------------


def test_a_replayed_code_is_invalid_grant(rp):
    client = rp.register()
    started, answer = rp.approved(client)
    assert rp.exchange(client, started, answer).status == 200
    oauth_error(rp.exchange(client, started, answer), 400, "invalid_grant")


def test_a_code_used_by_another_client_is_invalid_grant(rp):
    client, other = rp.register(), rp.register()
    started, answer = rp.approved(client)
    oauth_error(rp.exchange(other, started, answer), 400, "invalid_grant")
    assert rp.exchange(client, started, answer).status == 200  # a refused attempt did not spend it


def test_a_wrong_redirect_uri_at_the_token_endpoint_is_invalid_grant(rp):
    client = rp.register([REDIRECT, "https://rp.example.com/other"])
    started, answer = rp.approved(client)
    oauth_error(rp.exchange(client, started, answer, redirect_uri="https://rp.example.com/other"), 400,
                "invalid_grant")


def test_a_missing_redirect_uri_is_invalid_request(rp):
    client = rp.register()
    started, answer = rp.approved(client)
    oauth_error(rp.exchange(client, started, answer, redirect_uri=None), 400, "invalid_request")


def test_an_expired_code_is_invalid_grant(rp, clock):
    client = rp.register()
    started, answer = rp.approved(client)
    clock.advance(61)
    result = rp.exchange(client, started, answer)
    oauth_error(result, 400, "invalid_grant")
    assert "expired" in result.body["error_description"]


def test_a_wrong_pkce_verifier_is_invalid_grant(rp):
    client = rp.register(public=True)
    started, answer = rp.approved(client)
    oauth_error(rp.exchange(client, started, answer, code_verifier="w" * 43), 400, "invalid_grant")


def test_a_missing_pkce_verifier_is_invalid_grant(rp):
    client = rp.register()
    started, answer = rp.approved(client)
    oauth_error(rp.exchange(client, started, answer, code_verifier=None), 400, "invalid_grant")


def test_a_verifier_for_a_request_without_challenge_is_refused(rp):
    # RFC 9700 §2.1.1: no code_challenge at /authorize, so a code_verifier at /token is refused.
    client = rp.register()
    started, answer = rp.approved(client, pkce=False)
    oauth_error(rp.exchange(client, started, answer, code_verifier="v" * 43), 400, "invalid_grant")
    assert rp.exchange(client, started, answer, code_verifier=None).status == 200


def test_a_malformed_verifier_is_invalid_request(rp):
    client = rp.register(public=True)
    started, answer = rp.approved(client)
    oauth_error(rp.exchange(client, started, answer, code_verifier="short"), 400, "invalid_request")


@pytest.mark.parametrize("code", ["nonsense", "A" * 22 + "." + "b" * 43, "", "💥"])
def test_a_forged_code_is_invalid_grant_or_invalid_request(rp, code):
    client = rp.register()
    result = rp.token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}, rp=client)
    assert result.status == 400 and result.body["error"] in ("invalid_grant", "invalid_request")


# -- bad input is RFC 6749 §5.2 JSON, never a 5xx ------------------------------------------------------


def test_an_unsupported_grant_type(rp):
    client = rp.register()
    oauth_error(rp.token({"grant_type": "password", "username": "a"}, rp=client), 400, "unsupported_grant_type")


def test_a_missing_grant_type_is_invalid_request(rp):
    client = rp.register()
    oauth_error(rp.token({"code": "x"}, rp=client), 400, "invalid_request")


def test_a_json_body_is_invalid_request(rp):
    result = rp.call("POST", "/token", body=b'{"grant_type": "authorization_code"}',
                     headers={"content-type": "application/json"})
    oauth_error(result, 400, "invalid_request")


def test_a_repeated_parameter_is_invalid_request(rp):
    client = rp.register()
    result = rp.call("POST", "/token", body=b"grant_type=authorization_code&code=a&code=b",
                     headers={"content-type": "application/x-www-form-urlencoded",
                              "authorization": "Basic " + base64.b64encode(
                                  f"{client.client_id}:{client.secret}".encode()).decode()})
    oauth_error(result, 400, "invalid_request")


@pytest.mark.parametrize("body", [b"\xff\xfe", b"%zz=%%", b"=" * 20000, b"a=" + b"%ff" * 5])
def test_garbage_bodies_are_400_not_5xx(rp, body):
    result = rp.call("POST", "/token", body=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert 400 <= result.status < 500 and "error" in result.body


@pytest.mark.parametrize("header", ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic "])
def test_malformed_basic_credentials_are_401(rp, header):
    result = rp.call("POST", "/token", body=b"grant_type=authorization_code&code=x",
                     headers={"content-type": "application/x-www-form-urlencoded", "authorization": header})
    assert result.status in (400, 401) and result.body["error"] in ("invalid_client", "invalid_request")


# -- userinfo ----------------------------------------------------------------------------------------


def tokens(rp: Rp) -> dict[str, str]:
    client = rp.register()
    started, answer = rp.approved(client)
    return rp.exchange(client, started, answer).body


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_userinfo_answers_sub_and_name_for_the_access_token(rp, method):
    result = rp.userinfo(tokens(rp)["access_token"], method)
    assert result.status == 200 and result.body == {"sub": "alice", "name": "Alice"}


def test_userinfo_without_a_token_is_401_with_a_bearer_challenge(rp):
    result = rp.userinfo(None)
    assert result.status == 401 and result.headers["www-authenticate"].startswith("Bearer")


def test_userinfo_refuses_an_id_token(rp):
    result = rp.userinfo(tokens(rp)["id_token"])
    assert result.status == 401 and 'error="invalid_token"' in result.headers["www-authenticate"]


def test_userinfo_refuses_a_tampered_token(rp):
    header, claims, signature = tokens(rp)["access_token"].split(".")
    forged = json.loads(base64.urlsafe_b64decode(claims + "==="))
    forged["sub"] = "mallory"
    payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    assert rp.userinfo(f"{header}.{payload}.{signature}").status == 401


def test_userinfo_refuses_an_expired_token(rp, clock):
    access_token = tokens(rp)["access_token"]
    clock.advance(3600)
    assert rp.userinfo(access_token).status == 401


def test_userinfo_reads_no_signing_key_from_the_table_while_the_container_has_it(rp, clock, monkeypatch):
    # Given a container whose keyring copy is fresh (it just signed the access token)
    monkeypatch.setattr(signing, "time", clock)
    access_token = tokens(rp)["access_token"]
    table = deps.store().client
    read, keyring_reads = table.get_item, []

    def get_item(**request):
        if request["Key"]["pk"]["S"].startswith("signing-key#"):
            keyring_reads.append(request["Key"]["pk"]["S"])
        return read(**request)

    monkeypatch.setattr(table, "get_item", get_item)
    # When userinfo checks the token twice
    results = [rp.userinfo(access_token) for _ in range(2)]
    # Then both pass, and no keyring was read again
    assert [result.status for result in results] == [200, 200]
    assert keyring_reads == []


def test_userinfo_accepts_a_token_signed_by_a_key_another_container_made_since(rp, clock, monkeypatch):
    # Given this container's keyring copy, and another container that rotated RS256 afterwards
    monkeypatch.setattr(signing, "time", clock)
    first = tokens(rp)["access_token"]
    other = signing.signer_for(get_settings(), SessionStore(get_settings().table_name))
    other.keys.rotate("RS256", clock.time(), activate_in=0)
    header, claims = jwt_parts(first)
    second = other.sign(claims, algorithm="RS256", typ=header["typ"])
    assert jwt_parts(second)[0]["kid"] != header["kid"]
    # When userinfo checks the other container's token
    result = rp.userinfo(second)
    # Then this container finds the new key (one fresh read) and answers
    assert result.status == 200 and result.body["sub"] == "alice"


@pytest.mark.parametrize("claim, value", [("aud", "another-api"), ("iss", "https://other.example.com"),
                                          ("sub", None)])
def test_userinfo_refuses_our_signature_on_another_audience_issuer_or_no_subject(rp, claim, value):
    # Given a token signed by this stack's own access-token key, but with one claim wrong
    header, claims = jwt_parts(tokens(rp)["access_token"])
    claims = {**claims, claim: value} if value is not None else {k: v for k, v in claims.items() if k != claim}
    forged = deps.signer().sign(claims, algorithm="RS256", typ=header["typ"])
    # When it is sent to userinfo
    result = rp.userinfo(forged)
    # Then it is refused as an invalid token
    assert result.status == 401 and 'error="invalid_token"' in result.headers["www-authenticate"]


@pytest.mark.parametrize("token", ["x", "a.b.c", "é" * 10, "e30.e30.", "x" * 9000])
def test_userinfo_refuses_garbage_tokens_with_401(rp, token):
    assert rp.userinfo(token).status == 401


# -- discovery -----------------------------------------------------------------------------------------


def test_discovery_names_the_endpoints_under_the_issuer(rp):
    result = rp.call("GET", "/.well-known/openid-configuration")
    document = result.body
    assert document["issuer"] == ISSUER == f"https://{DOMAIN}"
    for name, path in (("authorization_endpoint", "/authorize"), ("token_endpoint", "/token"),
                       ("userinfo_endpoint", "/userinfo"), ("jwks_uri", "/.well-known/jwks.json")):
        assert document[name] == ISSUER + path
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in document["id_token_signing_alg_values_supported"]
    assert document["subject_types_supported"] == ["public"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert {"client_secret_basic", "client_secret_post", "none"} <= set(
        document["token_endpoint_auth_methods_supported"])
    assert "authorization_code" in document["grant_types_supported"]
    assert "openid" in document["scopes_supported"] and "sub" in document["claims_supported"]


def test_a_configured_issuer_overrides_the_api_url(rp, monkeypatch):
    from qrlogin import deps

    monkeypatch.setenv("OIDC_ISSUER", "https://login.example.com")
    deps.reset()
    assert rp.call("GET", "/.well-known/openid-configuration").body["issuer"] == "https://login.example.com"


# -- client registration ---------------------------------------------------------------------------------


def test_a_client_secret_is_stored_only_as_a_hash(rp, aws):
    client = rp.register()
    item = aws["dynamodb"].get_item(TableName="qrlogin-unit-sessions",
                                    Key={"pk": {"S": f"client#{client.client_id}"}})["Item"]
    assert client.secret and client.secret not in json.dumps(item)
    assert item["secret_hash"]["S"] != client.secret


def test_a_client_without_an_algorithm_gets_rs256(rp):
    assert rp.register().client.id_token_signed_response_alg == "RS256"


@pytest.mark.parametrize("uris", [[], ["http://rp.example.com/cb"], ["https://rp.example.com/cb#frag"],
                                  ["not a uri"], "https://rp.example.com/cb", [1], ["https://"]])
def test_registration_refuses_bad_redirect_uris(uris):
    with pytest.raises(InvalidClientMetadata):
        new_client(uris)


def test_registration_accepts_loopback_http_for_native_apps():
    client, secret = new_client(["http://127.0.0.1:8765/cb", "http://localhost/cb"], public=True)
    assert client.public and secret is None


def test_registration_refuses_an_unknown_algorithm():
    with pytest.raises(InvalidClientMetadata):
        new_client([REDIRECT], id_token_signed_response_alg="HS256")
