"""How the local stack turns template.yaml into the handlers' environment (no stack started)."""

from __future__ import annotations

import copy
import json
import logging

import pytest

from localcloud.cloud import Resources
from localcloud.container import setup_runtime_logging
from localcloud.resolve import Resolver, UnresolvableValue, localize_url, parameters
from localcloud.runtime import function_environment
from localcloud.stack import local_ids
from localcloud.template import load_template
from qrlogin.config import ENVIRONMENT_VARIABLES, Settings

pytestmark = pytest.mark.integration

TEMPLATE = load_template()
BASE_URL = "http://127.0.0.1:3999"
RESOURCES = Resources(
    endpoint="http://127.0.0.1:4566", table_name="local-table",
    table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/local-table",
    stream_arn="arn:aws:dynamodb:us-east-1:123456789012:table/local-table/stream/2026-01-01T00:00:00.000",
    key_arns={"SigningKey": "arn:aws:kms:us-east-1:123456789012:key/key-1"},
)
# As the local stack sets them: the development IdP, whose issuer and audience the Rules require (DESIGN §6).
LOCAL_DEFAULTS = {"AllowedOrigins": "*", "PhoneJwksUrl": f"{BASE_URL}/dev/jwks.json",
                  "PhoneJwtIssuer": "http://qrlogin.localhost/dev-idp", "PhoneJwtAudience": "qrlogin-phone-app"}


def resolver(template=TEMPLATE, **overrides: str) -> Resolver:
    refs, attributes = local_ids(template, RESOURCES)
    return Resolver(template, parameters(template, LOCAL_DEFAULTS, overrides), refs, attributes, "qrlogin-local")


def test_every_setting_resolves_to_a_local_value():
    # When the template's function environment is resolved for the local stack
    environment = function_environment(TEMPLATE, resolver(SessionTtlSeconds="3"), BASE_URL)

    # Then every variable the code reads is there, pointing at local things
    assert set(ENVIRONMENT_VARIABLES) <= set(environment)
    settings = Settings.from_env(environment)
    assert settings.table_name == "local-table"
    assert settings.signing_key_id == RESOURCES.key_arn
    assert settings.websocket_url == "ws://127.0.0.1:3999/live"
    assert settings.connections_url == "http://127.0.0.1:3999/live"
    assert settings.session_ttl_seconds == 3
    assert settings.allowed_origins == ("*",)


def test_functions_with_differing_environments_are_refused():
    # Given a template where one function sets a variable of its own
    template = copy.deepcopy(TEMPLATE)
    template["Resources"]["ConfirmFunction"]["Properties"]["Environment"] = {"Variables": {"TABLE_NAME": "other"}}

    # Then the local stack refuses to share one environment between them
    with pytest.raises(RuntimeError, match="TABLE_NAME"):
        function_environment(template, resolver(template), BASE_URL)


def test_parameters_are_checked_as_cloudformation_would():
    with pytest.raises(UnresolvableValue, match="unknown parameter"):
        parameters(TEMPLATE, LOCAL_DEFAULTS, {"NoSuchThing": "1"})
    with pytest.raises(UnresolvableValue, match="SessionTtlSeconds"):
        parameters(TEMPLATE, LOCAL_DEFAULTS, {"SessionTtlSeconds": "0"})
    with pytest.raises(UnresolvableValue, match="PhoneAuthMode"):
        parameters(TEMPLATE, LOCAL_DEFAULTS, {"PhoneAuthMode": "magic"})
    with pytest.raises(UnresolvableValue, match="AllowedOrigins"):
        parameters(TEMPLATE, {}, {})  # no default in the template: it must be given


def test_only_api_gateway_urls_are_localized():
    assert localize_url("wss://abc123.execute-api.eu-west-1.amazonaws.com/live", BASE_URL) == "ws://127.0.0.1:3999/live"
    assert localize_url("https://abc123.execute-api.us-east-1.amazonaws.com/live", BASE_URL) == \
        "http://127.0.0.1:3999/live"
    assert localize_url("https://login.example.com/q/{session_id}", BASE_URL) == "https://login.example.com/q/{session_id}"


PHONE_TOKEN_RULES = {"PhoneJwtAudience": "phone-app", "PhoneJwtIssuer": "https://idp.example"}  # the rules want them


def test_functions_get_the_variables_lambdas_logging_controls_set():
    # Given the Globals' LoggingConfig (JSON, ApplicationLogLevel: !Ref LogLevel) under each function's own LogGroup
    environment = function_environment(TEMPLATE, resolver(LogLevel="DEBUG", **PHONE_TOKEN_RULES), BASE_URL)

    # Then every function runs with the format and level Lambda gives it (the runtime and Powertools read them)
    assert (environment["AWS_LAMBDA_LOG_FORMAT"], environment["AWS_LAMBDA_LOG_LEVEL"]) == ("JSON", "DEBUG")

    # And with the Text format there is no application log level, as on Lambda
    text = copy.deepcopy(TEMPLATE)
    text["Globals"]["Function"]["LoggingConfig"]["LogFormat"] = "Text"
    environment = function_environment(text, resolver(text, **PHONE_TOKEN_RULES), BASE_URL)
    assert environment["AWS_LAMBDA_LOG_FORMAT"] == "Text" and "AWS_LAMBDA_LOG_LEVEL" not in environment


def test_the_runtimes_root_handler_writes_lambdas_json_lines(capsys):
    # Given the root logger as the local runtime sets it up for LogLevel=DEBUG
    root, level, converter = logging.getLogger(), logging.getLogger().level, logging.Formatter.converter
    handler = setup_runtime_logging({"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    try:
        # When any library logs at DEBUG
        logging.getLogger("some.library").debug("hello %s", "there", extra={"detail": 1})
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.Formatter.converter = converter

    # Then it is one JSON line in the runtime's shape, extra fields included
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines() if '"some.library"' in text]
    assert (line["level"], line["message"], line["logger"], line["detail"]) == ("DEBUG", "hello there",
                                                                                "some.library", 1)
    assert "requestId" in line and line["timestamp"].endswith("Z")
