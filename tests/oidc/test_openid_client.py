"""A stock OIDC library logs a user in through the hosted page (DESIGN §8, issue 12 "Done when").

openid-client does discovery, builds the authorization URL (PKCE S256, state,
nonce), headless Chromium opens it and shows the widget, the phone approves
through the phone API, the browser is sent to the RP's callback, and the
library exchanges the code and validates the id_token (signature via
jwks_uri, iss, aud, nonce) and the callback's iss, then calls userinfo.  Both
tokens are then verified by aws-jwt-verify with issuer, audience and the
discovered jwksUri only, as an API Gateway JWT authorizer does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Route

from tests.oidc.conftest import AUDIENCE, CALLBACK, Provider, RelyingParty

pytestmark = pytest.mark.oidc


def open_hosted_page(page: Page, authorization_url: str) -> tuple[str, list[str]]:
    """Opens the authorization URL; returns the session id the widget shows and a list that gets the callback URL."""
    callbacks: list[str] = []

    def intercept(route: Route) -> None:
        callbacks.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>RP callback</title>")

    page.route(CALLBACK + "*", intercept)
    page.goto(authorization_url)
    root = page.wait_for_selector(".qrl[data-session-id][data-state=pending]")
    assert root is not None
    session_id = root.get_attribute("data-session-id")
    assert session_id
    return session_id, callbacks


def callback_url(page: Page, callbacks: list[str]) -> str:
    page.wait_for_url(CALLBACK + "?*")
    assert callbacks, "the browser never reached the RP's callback"
    return callbacks[-1]


def login(provider: Provider, page: Page, party: RelyingParty, decision: str = "confirm") -> tuple[dict, str]:
    started = party.read()
    assert "authorization_url" in started, started
    session_id, callbacks = open_hosted_page(page, started["authorization_url"])
    token = provider.phone_token()
    assert provider.phone("scan", session_id, token).status_code == 200
    page.wait_for_selector(".qrl[data-state=scanned]")
    assert provider.phone(decision, session_id, token).status_code == 200
    url = callback_url(page, callbacks)
    party.send({"callback_url": url})
    return party.read(), url


@pytest.mark.parametrize("auth", ["basic", "post"])
def test_openid_client_logs_a_user_in_through_the_hosted_page(provider, page, auth):
    registered = provider.register()
    result, url = login(provider, page, provider.relying_party(registered, auth))
    assert result["ok"], result
    query = parse_qs(urlsplit(url).query)
    assert query["iss"] == [provider.base_url]  # RFC 9207, exactly the base URL
    claims: dict[str, Any] = result["id_token_claims"]
    assert claims["iss"] == provider.base_url and claims["aud"] == registered["client_id"]
    assert claims["azp"] == registered["client_id"] and claims["sub"] == "alice" and claims["name"] == "Alice"
    assert "auth_time" in claims and "nonce" in claims
    assert result["userinfo"] == {"sub": "alice", "name": "Alice"}
    assert result["token_type"].lower() == "bearer" and "openid" in result["scope"].split()
    assert result["id_token_header"]["alg"] == "RS256" and result["id_token_header"]["kid"]


def test_aws_jwt_verify_accepts_the_access_token_as_an_api_gateway_authorizer_would(provider, page):
    registered = provider.register()
    result, _ = login(provider, page, provider.relying_party(registered))
    assert result["ok"], result
    access = result["access_token_claims"]  # verified by aws-jwt-verify: signature, iss, aud, exp
    assert access["iss"] == provider.base_url and access["aud"] == AUDIENCE
    assert access["sub"] == "alice" and access["client_id"] == registered["client_id"]
    assert result["access_token_header"] == {**result["access_token_header"], "alg": "RS256", "typ": "at+jwt"}
    assert result["id_token_verified_claims"]["aud"] == registered["client_id"]


def test_a_public_client_with_pkce_logs_in(provider, page):
    registered = provider.register(public=True)
    assert "client_secret" not in registered
    result, _ = login(provider, page, provider.relying_party(registered, "none"))
    assert result["ok"], result


def test_a_denied_login_reaches_the_rp_as_access_denied_with_iss(provider, page):
    registered = provider.register()
    result, url = login(provider, page, provider.relying_party(registered), decision="deny")
    query = parse_qs(urlsplit(url).query)
    assert query["error"] == ["access_denied"] and query["iss"] == [provider.base_url]
    assert "code" not in query
    # openid-client checked iss and state, then raised the authorization server's error.
    assert not result["ok"] and result["error"] == "access_denied", result


def test_state_comes_back_untouched(provider, page):
    registered = provider.register()
    state = "ünïcode & = + / ? # state"
    result, url = login(provider, page, provider.relying_party(registered, state=state))
    assert parse_qs(urlsplit(url).query)["state"] == [state]
    assert result["ok"], result  # openid-client compared it too (expectedState)


def test_a_wrong_redirect_uri_shows_an_error_page_and_never_redirects(provider, page):
    registered = provider.register()
    party = provider.relying_party(registered)
    started = party.read()
    evil = started["authorization_url"].replace("127.0.0.1%3A9%2Fcallback", "evil.example.com%2Fcallback")
    assert evil != started["authorization_url"]
    requests_seen: list[str] = []
    page.on("request", lambda request: requests_seen.append(request.url))
    response = page.goto(evil)
    assert response is not None and response.status == 400
    assert page.locator("body[data-outcome=error]").count() == 1
    assert requests_seen and not any(urlsplit(url).hostname == "evil.example.com" for url in requests_seen)
    assert page.url == evil


def test_an_unanswered_login_expires_back_to_the_rp_as_access_denied(short_provider, page):
    registered = short_provider.register()
    party = short_provider.relying_party(registered)
    started = party.read()
    _, callbacks = open_hosted_page(page, started["authorization_url"])
    url = callback_url(page, callbacks)  # nobody scans: the page itself goes back once the code expired
    query = parse_qs(urlsplit(url).query)
    assert query["error"] == ["access_denied"] and "expired" in query["error_description"][0]
    assert query["iss"] == [short_provider.base_url]
    party.send({"callback_url": url})
    result = party.read()
    assert not result["ok"] and result["error"] == "access_denied", result
