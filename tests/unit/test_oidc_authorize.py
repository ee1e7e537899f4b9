"""GET /authorize and the hosted page (DESIGN §8, RFC 6749 §4.1.2.1, RFC 7636, RFC 9207, RFC 9700, OIDC Core §3.1.2)."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

import pytest

from localcloud.template import ROOT
from tests.unit.oidc_support import ISSUER, REDIRECT, Registered, Rp, parse_redirect, patch_clock


@pytest.fixture
def rp(flow, clock, monkeypatch) -> Rp:
    patch_clock(monkeypatch, clock)
    return Rp(flow)


@pytest.fixture
def sessions(aws):
    """How many session items the table holds (an error must not make one)."""
    def count() -> int:
        items = aws["dynamodb"].scan(TableName="qrlogin-unit-sessions")["Items"]
        return sum(1 for item in items if item["pk"]["S"].startswith("session#"))
    return count


def refused_without_redirect(result) -> None:
    assert 400 <= result.status < 500
    assert "location" not in result.headers
    assert result.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in result.headers["content-security-policy"]


# -- 1. client and redirect_uri first: an error page, never a redirect, no session ------------------


def test_an_unregistered_redirect_uri_gets_an_error_page_and_no_session(rp, sessions):
    client = rp.register()
    result = rp.authorize(client, redirect_uri="https://evil.example.com/callback")
    refused_without_redirect(result)
    assert sessions() == 0


@pytest.mark.parametrize("variant", [REDIRECT + "/extra", REDIRECT + "?x=1", REDIRECT + "/", REDIRECT.upper(),
                                     REDIRECT.replace("https", "http")])
def test_redirect_uri_matching_is_exact_string_comparison(rp, sessions, variant):
    client = rp.register()
    refused_without_redirect(rp.authorize(client, redirect_uri=variant))
    assert sessions() == 0


def test_an_unknown_client_gets_an_error_page(rp, sessions):
    client = rp.register()
    stranger = Registered(replace(client.client, client_id="A" * 22), None)  # well-formed, never registered
    refused_without_redirect(rp.authorize(stranger))
    assert sessions() == 0


@pytest.mark.parametrize("missing", ["client_id", "redirect_uri"])
def test_a_missing_client_id_or_redirect_uri_gets_an_error_page(rp, sessions, missing):
    client = rp.register()
    refused_without_redirect(rp.authorize(client, **{missing: None}))
    assert sessions() == 0


def test_a_repeated_redirect_uri_gets_an_error_page(rp, sessions):
    client = rp.register()
    query = urlencode({"client_id": client.client_id, "response_type": "code", "scope": "openid"})
    result = rp.authorize_raw(f"{query}&redirect_uri={REDIRECT}&redirect_uri={REDIRECT}")
    refused_without_redirect(result)
    assert sessions() == 0


# -- 2. the rest goes back to the client, with state and iss, and no session -----------------------


def error_at_client(result, state: str | None = None) -> dict[str, str]:
    assert result.status == 302, result.body
    answer = parse_redirect(result.headers["location"])
    assert answer.location.startswith(REDIRECT + "?")
    assert answer.query["iss"] == ISSUER  # RFC 9207, on errors too
    if state is not None:
        assert answer.query["state"] == state
    return answer.query


def test_response_type_other_than_code_is_unsupported_response_type(rp, sessions):
    client = rp.register()
    query = error_at_client(rp.authorize(client, response_type="token", state="s1"), "s1")
    assert query["error"] == "unsupported_response_type"
    assert sessions() == 0


def test_a_missing_response_type_is_invalid_request(rp):
    client = rp.register()
    assert error_at_client(rp.authorize(client, response_type=None))["error"] == "invalid_request"


@pytest.mark.parametrize("scope", [None, "profile", "email"])
def test_scope_without_openid_is_invalid_scope(rp, sessions, scope):
    client = rp.register()
    assert error_at_client(rp.authorize(client, scope=scope))["error"] == "invalid_scope"
    assert sessions() == 0


def test_a_public_client_without_pkce_is_refused(rp, sessions):
    client = rp.register(public=True)
    query = error_at_client(rp.authorize(client, pkce=False, state="keep"), "keep")
    assert query["error"] == "invalid_request" and "PKCE" in query["error_description"]
    assert sessions() == 0


def test_a_confidential_client_may_omit_pkce(rp):
    client = rp.register()
    assert rp.authorize(client, pkce=False).status == 200


def test_pkce_plain_is_refused(rp):
    client = rp.register(public=True)
    result = rp.authorize(client, code_challenge_method="plain")
    assert error_at_client(result)["error"] == "invalid_request"


def test_a_code_challenge_without_method_is_refused_not_taken_as_plain(rp):
    client = rp.register(public=True)
    assert error_at_client(rp.authorize(client, code_challenge_method=None))["error"] == "invalid_request"


def test_a_malformed_code_challenge_is_refused(rp):
    client = rp.register(public=True)
    assert error_at_client(rp.authorize(client, code_challenge="short"))["error"] == "invalid_request"


def test_a_repeated_parameter_is_invalid_request(rp, sessions):
    client = rp.register()
    query = urlencode(rp.params(client, pkce=False)) + "&scope=openid"
    assert error_at_client(rp.authorize_raw(query))["error"] == "invalid_request"
    assert sessions() == 0


def test_prompt_none_is_login_required(rp):
    client = rp.register()
    assert error_at_client(rp.authorize(client, prompt="none"))["error"] == "login_required"


@pytest.mark.parametrize(("param", "error"), [("request", "request_not_supported"),
                                              ("request_uri", "request_uri_not_supported")])
def test_request_objects_are_refused_by_name(rp, param, error):
    client = rp.register()
    assert error_at_client(rp.authorize(client, **{param: "eyJ.x.y"}))["error"] == error


def test_response_mode_other_than_query_is_refused(rp):
    client = rp.register()
    assert error_at_client(rp.authorize(client, response_mode="fragment"))["error"] == "invalid_request"


def test_a_registered_redirect_uri_with_a_query_keeps_it(rp):
    registered = REDIRECT + "?tenant=7"
    client = rp.register([registered])
    result = rp.authorize(client, redirect_uri=registered, response_type="token")
    assert result.headers["location"].startswith(registered + "&")


# -- 3. the hosted page ------------------------------------------------------------------------------


def test_the_hosted_page_is_served_with_a_strict_csp_and_no_framing(rp):
    client = rp.register()
    started = rp.start(client)
    headers = started.page.headers
    policy = headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'none'",
                      "base-uri 'none'"):
        assert directive in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert 'src="authorize.js"' in started.page.body
    assert "http" not in started.page.body.split("<script type=\"module\"")[1].split(">")[0]  # nothing from outside


def test_the_page_escapes_what_it_embeds(rp):
    client = rp.register(name="</script><script>alert(1)</script>")
    page = rp.start(client).page.body
    assert "<script>alert(1)" not in page


def test_an_authorization_request_is_a_session_with_bound_fields(rp, read_item):
    client = rp.register()
    started = rp.start(client, state="s-9", nonce="n-9")
    item = read_item(started.login.session_id)
    assert item["status"]["S"] == "pending"
    assert item["client_id"]["S"] == client.client_id
    assert item["redirect_uri"]["S"] == REDIRECT
    assert item["state"]["S"] == "s-9" and item["nonce"]["S"] == "n-9"
    assert item["code_challenge"]["S"] == started.params["code_challenge"]
    assert item["scope"]["S"] == "openid profile"


def test_unknown_scope_values_are_dropped(rp, read_item):
    client = rp.register()
    started = rp.start(client, scope="openid offline_access email")
    assert read_item(started.login.session_id)["scope"]["S"] == "openid"


def test_the_widget_script_is_served_by_the_stack_with_cache_headers(rp):
    for path in ("/qrlogin.js", "/authorize.js"):
        result = rp.call("GET", path)
        assert result.status == 200
        assert result.headers["content-type"].startswith("text/javascript")
        assert "max-age" in result.headers["cache-control"]
    served = rp.call("GET", "/qrlogin.js").body
    assert served == (ROOT / "web" / "qrlogin.js").read_text(encoding="utf-8")  # the widget itself, not a copy
    assert "export function createQrLogin" in served


# -- completion -------------------------------------------------------------------------------------


def test_confirm_redirects_with_code_state_and_iss(rp):
    client = rp.register()
    state = "opaque &=+/ state ✓"
    started, answer = rp.approved(client, state=state)
    assert answer.location.startswith(REDIRECT + "?")
    assert answer.query["state"] == state  # untouched
    assert answer.query["iss"] == ISSUER
    assert answer.query["code"].startswith(started.login.session_id + ".")


def test_the_code_is_stored_only_as_a_hash(rp, read_item):
    client = rp.register()
    started, answer = rp.approved(client)
    item = read_item(started.login.session_id)
    assert answer.query["code"] not in str(item)
    assert item["status"]["S"] == "redeemed" and "code_hash" in item


def test_deny_redirects_with_access_denied_and_iss(rp):
    client = rp.register()
    started = rp.start(client, state="deny-me")
    assert rp.flow.phone("deny", started.login).status == 200
    answer = rp.answer(started)
    assert answer.query["error"] == "access_denied"
    assert answer.query["state"] == "deny-me" and answer.query["iss"] == ISSUER
    assert "code" not in answer.query


def test_an_expired_request_redirects_with_access_denied(rp, clock):
    client = rp.register()
    started = rp.start(client)
    clock.advance(121)
    answer = rp.answer(started)
    assert answer.query["error"] == "access_denied" and "expired" in answer.query["error_description"]


def test_completion_before_the_phone_answered_changes_nothing(rp, read_item):
    client = rp.register()
    started = rp.start(client)
    result = rp.complete(started)
    assert result.status == 200 and result.body == {"outcome": "pending", "redirect": None}
    assert read_item(started.login.session_id)["status"]["S"] == "pending"


def test_completion_needs_the_pages_browser_token(rp):
    client = rp.register()
    started, _ = rp.approved(client)
    started.login.browser_token = "x" * 43
    assert rp.complete(started).status == 404


def test_a_second_completion_gets_no_second_code(rp):
    client = rp.register()
    started, first = rp.approved(client)
    again = rp.answer(started)
    assert "code" in first.query
    assert "code" not in again.query and again.query["error"] == "access_denied"


def test_the_v1_redeem_refuses_an_authorization_request(rp):
    client = rp.register()
    started = rp.start(client)
    for action in ("scan", "confirm"):
        rp.flow.phone(action, started.login)
    result = rp.flow.redeem(started.login)
    assert result.status == 400 and result.body["error"] == "invalid_grant"
    assert "code" in rp.answer(started).query  # the authorization request still completes


@pytest.mark.parametrize("body", [b"", b"[]", b"{\"session_id\": 1}", b"not json"])
def test_completion_with_bad_input_is_a_json_400(rp, body):
    result = rp.call("POST", "/authorize/complete", body=body, headers={"content-type": "application/json"})
    assert result.status == 400 and result.body["error"] == "invalid_request"


# -- POST /authorize (OIDC Core §3.1.2.1: GET and POST) ---------------------------------------------------


def test_an_authorization_request_may_be_posted_as_a_form(rp):
    client = rp.register()
    params = rp.params(client)
    params.pop("code_verifier")
    result = rp.call("POST", "/authorize", body=urlencode(params).encode(),
                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert result.status == 200 and 'id="qrl-authorization"' in result.body


def test_a_posted_request_with_a_bad_redirect_uri_gets_the_error_page(rp, sessions):
    client = rp.register()
    params = rp.params(client, redirect_uri="https://evil.example.com/cb")
    result = rp.call("POST", "/authorize", body=urlencode(params).encode(),
                     headers={"content-type": "application/x-www-form-urlencoded"})
    refused_without_redirect(result)
    assert sessions() == 0


def test_a_posted_request_that_is_not_a_form_gets_the_error_page(rp):
    result = rp.call("POST", "/authorize", body=b'{"client_id": "x"}', headers={"content-type": "application/json"})
    refused_without_redirect(result)


def test_a_rate_limited_request_goes_back_to_the_client_as_temporarily_unavailable(rp, sessions, monkeypatch):
    from qrlogin import deps

    monkeypatch.setenv("ISSUE_RATE_LIMIT_PER_MINUTE", "1")
    deps.reset()
    client = rp.register()
    assert rp.authorize(client).status == 200
    query = error_at_client(rp.authorize(client, state="busy"), "busy")
    assert query["error"] == "temporarily_unavailable"
    assert sessions() == 1
