"""Settings: parsed once from the environment; a missing or bad variable fails loudly, by name."""

from __future__ import annotations

import json

import pytest

from localcloud.events import LambdaContext, http_event
from qrlogin import deps
from qrlogin.config import ENVIRONMENT_VARIABLES, MissingSetting, Settings
from qrlogin.phone_auth import (
    IntrospectionPhoneTokenVerifier,
    JwtPhoneTokenVerifier,
    verifier_from_settings,
)
from tests.unit.conftest import handler_for

REQUIRED = ("TABLE_NAME", "SESSION_TTL_SECONDS", "ALLOWED_ORIGINS", "QR_LINK_TEMPLATE", "WEBSOCKET_URL",
            "CONNECTIONS_URL", "TOKEN_ISSUER", "TOKEN_AUDIENCE", "SIGNING_KEY_ID", "SIGNING_KEY_MODE",
            "PHONE_AUTH_MODE", "ISSUE_RATE_LIMIT_PER_MINUTE")


@pytest.fixture
def env(settings_env) -> dict[str, str]:
    return {name: settings_env[name] for name in ENVIRONMENT_VARIABLES}


def test_a_complete_environment_parses_into_typed_settings(env):
    settings = Settings.from_env({**env, "ALLOWED_ORIGINS": " https://a.example , https://b.example,,"})
    assert settings.session_ttl_seconds == 120 and settings.issue_rate_limit_per_minute == 30
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.table_name == env["TABLE_NAME"]


def test_every_required_variable_is_listed():
    assert set(REQUIRED) <= set(ENVIRONMENT_VARIABLES)


@pytest.mark.parametrize("name", REQUIRED)
@pytest.mark.parametrize("absent", ["missing", "blank"])
def test_a_missing_required_variable_fails_naming_it(env, name, absent):
    # Given the environment without the variable (or with only spaces in it)
    broken = {k: v for k, v in env.items() if k != name}
    if absent == "blank":
        broken[name] = "   "

    # When settings are parsed, Then the error names the variable
    with pytest.raises(MissingSetting, match=name):
        Settings.from_env(broken)


@pytest.mark.parametrize(("name", "value"), [
    ("SESSION_TTL_SECONDS", "two minutes"),
    ("SESSION_TTL_SECONDS", "0"),
    ("SESSION_TTL_SECONDS", "1.5"),
    ("ISSUE_RATE_LIMIT_PER_MINUTE", "-1"),
    ("PHONE_AUTH_MODE", "oauth"),
    ("QR_LINK_TEMPLATE", "https://example.com/q/"),
])
def test_a_bad_value_fails_naming_the_variable(env, name, value):
    with pytest.raises(MissingSetting, match=name):
        Settings.from_env({**env, name: value})


@pytest.mark.parametrize(("mode", "blank", "named"), [
    ("jwt", ["PHONE_JWT_ISSUER"], "PHONE_JWT_ISSUER"),
    ("jwt", ["PHONE_JWT_AUDIENCE", "PHONE_JWT_CLIENT_ID"], "PHONE_JWT_AUDIENCE or PHONE_JWT_CLIENT_ID"),
    ("introspection", ["INTROSPECTION_URL"], "INTROSPECTION_URL"),
    ("introspection", ["INTROSPECTION_SECRET_NAME"], "INTROSPECTION_SECRET_NAME"),
    ("introspection", ["PHONE_JWT_AUDIENCE", "PHONE_JWT_CLIENT_ID"], "PHONE_JWT_AUDIENCE or PHONE_JWT_CLIENT_ID"),
])
def test_a_phone_mode_without_whom_tokens_are_for_fails_at_cold_start_naming_the_setting(env, mode, blank, named):
    # Given a complete environment for the mode, then one of its safety settings left empty (DESIGN §6)
    complete = {**env, "PHONE_AUTH_MODE": mode, "INTROSPECTION_URL": "https://idp.example/introspect",
                "INTROSPECTION_SECRET_NAME": "qrlogin/introspection"}
    assert Settings.from_env(complete).phone_auth_mode == mode

    # When settings are parsed, Then the container refuses to start, naming what is missing:
    # no configuration silently accepts a token issued to another app
    with pytest.raises(MissingSetting, match=named):
        Settings.from_env({**complete, **dict.fromkeys(blank, "")})


def test_each_mode_builds_its_verifier_without_the_other_modes_settings(env):
    jwt_only = {**env, "INTROSPECTION_URL": "", "INTROSPECTION_SECRET_NAME": ""}
    assert isinstance(verifier_from_settings(Settings.from_env(jwt_only)), JwtPhoneTokenVerifier)
    introspection_only = {**env, "PHONE_AUTH_MODE": "introspection", "PHONE_JWT_ISSUER": "", "PHONE_JWKS_URL": "",
                          "INTROSPECTION_URL": "https://idp.example/introspect",
                          "INTROSPECTION_SECRET_NAME": "qrlogin/introspection"}
    assert isinstance(verifier_from_settings(Settings.from_env(introspection_only)), IntrospectionPhoneTokenVerifier)


def test_an_empty_jwks_url_is_where_cognito_and_most_issuers_publish_their_keys(env):
    settings = Settings.from_env({**env, "PHONE_JWT_ISSUER": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab",
                                  "PHONE_JWKS_URL": ""})
    assert settings.phone_jwks_url == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab/.well-known/jwks.json"
    auth0 = Settings.from_env({**env, "PHONE_JWT_ISSUER": "https://tenant.eu.auth0.com/", "PHONE_JWKS_URL": ""})
    assert auth0.phone_jwks_url == "https://tenant.eu.auth0.com/.well-known/jwks.json"


@pytest.mark.parametrize(("mode", "changed", "named"), [
    ("jwt", {"PHONE_JWKS_URL": "ftp://idp.example/jwks"}, "PHONE_JWKS_URL"),
    ("jwt", {"PHONE_JWKS_URL": "idp.example/jwks"}, "PHONE_JWKS_URL"),
    ("jwt", {"PHONE_JWKS_URL": "", "PHONE_JWT_ISSUER": "idp.example"}, "PHONE_JWT_ISSUER"),
    ("introspection", {"INTROSPECTION_URL": "data:,{}"}, "INTROSPECTION_URL"),
])
def test_a_phone_url_urllib_should_not_open_fails_at_cold_start_naming_it(env, mode, changed, named):
    # Given the mode's URL (or the issuer its JWKS URL is derived from) is not an https, http or file URL
    complete = {**env, "PHONE_AUTH_MODE": mode, "INTROSPECTION_URL": "https://idp.example/introspect",
                "INTROSPECTION_SECRET_NAME": "qrlogin/introspection"}

    # When settings are parsed, Then the container refuses to start, naming the variable
    with pytest.raises(MissingSetting, match=named):
        Settings.from_env({**complete, **changed})


@pytest.mark.parametrize(("origins", "origin", "allowed"), [
    ("https://app.example.com", "https://app.example.com", True),
    ("https://app.example.com", "https://APP.example.com", False),
    ("https://app.example.com", None, False),
    ("*", None, True),
    ("https://a.example, *", "https://z.example", True),
])
def test_origin_allowed(env, origins, origin, allowed):
    assert Settings.from_env({**env, "ALLOWED_ORIGINS": origins}).origin_allowed(origin) is allowed


@pytest.mark.parametrize(("function_name", "method", "path"), [
    ("IssueFunction", "POST", "/sessions"),
    ("StatusFunction", "GET", "/sessions/AAAAAAAAAAAAAAAAAAAAAA"),
])
def test_a_handler_without_its_table_fails_loudly_in_the_log_and_plainly_to_the_client(
        aws, monkeypatch, all_output, function_name, method, path):
    # Given a container started without TABLE_NAME
    monkeypatch.delenv("TABLE_NAME")
    deps.reset()

    # When a request arrives (the browser token is well-formed, so the status call reaches the table)
    event = http_event(method=method, path=path, route_key=f"{method} {path}", source_ip="198.51.100.7",
                       headers={"authorization": "Bearer " + "B" * 43})
    response = handler_for(function_name)(event, LambdaContext(function_name))

    # Then the client gets a plain JSON 500, and the log names the missing variable
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"error": "internal_error", "message": "Something went wrong on our side."}
    assert "TABLE_NAME" in all_output()


def test_the_token_endpoint_without_its_table_answers_an_oauth_server_error(aws, monkeypatch, all_output):
    # Given the OpenID Provider's token function started without TABLE_NAME
    monkeypatch.delenv("TABLE_NAME")
    deps.reset()

    # When a client posts a token request
    event = http_event(method="POST", path="/token", route_key="POST /token", source_ip="198.51.100.7",
                       headers={"content-type": "application/x-www-form-urlencoded"},
                       body=b"grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Frp.example%2Fcb")
    response = handler_for("OidcTokenFunction")(event, LambdaContext("OidcTokenFunction"))

    # Then it gets RFC 6749's shape of error (error_description, not the contract's message), and the log names it
    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"error": "server_error",
                                            "error_description": "Something went wrong on our side."}
    assert "TABLE_NAME" in all_output()


def test_an_unknown_route_of_an_oauth_function_is_an_oauth_style_404(aws):
    event = http_event(method="GET", path="/token/nowhere", route_key="GET /token/nowhere", source_ip="198.51.100.7")
    response = handler_for("OidcTokenFunction")(event, LambdaContext("OidcTokenFunction"))
    assert response["statusCode"] == 404
    body = json.loads(response["body"])
    assert body["error"] == "not_found" and "error_description" in body and "message" not in body


def test_the_websocket_handler_without_its_table_raises_naming_it(api, monkeypatch):
    # Given a container started without TABLE_NAME
    monkeypatch.delenv("TABLE_NAME")
    deps.reset()

    # When a subscribe arrives, Then the invocation fails naming the variable (Lambda records the error)
    with pytest.raises(MissingSetting, match="TABLE_NAME"):
        api.ws("subscribe", connection_id=api.new_connection(),
               body={"action": "subscribe", "session_id": "A" * 22, "browser_token": "B" * 43})
