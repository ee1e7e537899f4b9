"""Unit tier: handlers in-process against moto's in-memory AWS (no sockets).

The table and the signing key are created from template.yaml's definitions;
phone tokens come from the development identity provider, whose JWKS the
``jwt`` verifier reads through a file:// URL.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.devidp import DevIdentityProvider
from localcloud.events import LambdaContext, http_event, new_connection_id, websocket_event
from localcloud.template import functions, http_routes, load_template, signing_key_definition, table_definition
from qrlogin import deps

TEMPLATE = load_template()
TABLE_NAME = "qrlogin-unit-sessions"
ROUTES = http_routes(TEMPLATE)
FUNCTIONS = functions(TEMPLATE)


@pytest.fixture
def idp(tmp_path) -> DevIdentityProvider:
    provider = DevIdentityProvider()
    (tmp_path / "jwks.json").write_text(json.dumps(provider.jwks()))
    return provider


@pytest.fixture
def settings_env(tmp_path, idp, monkeypatch) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": TABLE_NAME,
        "SESSION_TTL_SECONDS": "120",
        "ALLOWED_ORIGINS": "https://app.example.com",
        "QR_LINK_TEMPLATE": "https://login.example.com/q/{session_id}",
        "WEBSOCKET_URL": "wss://ws.example.com/live",
        "CONNECTIONS_URL": "https://ws.example.com/live",
        "TOKEN_ISSUER": "https://login.example.com",
        "TOKEN_AUDIENCE": "example-app",
        "SIGNING_KEY_ID": "set-by-the-aws-fixture",
        "PHONE_AUTH_MODE": "jwt",
        "PHONE_JWT_ISSUER": idp.issuer,
        "PHONE_JWT_AUDIENCE": idp.audience,
        "PHONE_JWKS_URL": (tmp_path / "jwks.json").as_uri(),
        "INTROSPECTION_URL": "",
        "ISSUE_RATE_LIMIT_PER_MINUTE": "30",
        "POWERTOOLS_METRICS_NAMESPACE": "qrlogin",
    }
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def aws(settings_env, monkeypatch) -> Iterator[dict[str, Any]]:
    """moto's AWS with the template's table and signing key."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**table_definition(TEMPLATE, TABLE_NAME))
        kms = boto3.client("kms", region_name="us-east-1")
        key = kms.create_key(**signing_key_definition(TEMPLATE))["KeyMetadata"]
        monkeypatch.setenv("SIGNING_KEY_ID", key["Arn"])
        deps.reset()
        yield {"dynamodb": dynamodb, "kms": kms, "key_arn": key["Arn"]}
        deps.reset()


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: Any
    raw: dict[str, Any]


def _match(template: str, path: str) -> dict[str, str] | None:
    pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
    found = re.match(pattern, path)
    return found.groupdict() if found else None


def handler_for(function_name: str) -> Any:
    module_name, attribute = FUNCTIONS[function_name]["Handler"].rsplit(".", 1)
    return getattr(importlib.import_module(module_name), attribute)


class Api:
    """Calls the handlers the way API Gateway would, routes taken from the template."""

    def http(self, method: str, path: str, *, token: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None, source_ip: str = "198.51.100.7",
             raw_body: bytes | None = None) -> HttpResult:
        for route_method, template, function_name in ROUTES:
            params = _match(template, path)
            if route_method == method and params is not None:
                break
        else:
            raise AssertionError(f"no route for {method} {path}")
        all_headers = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0", **(headers or {})}
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            all_headers.setdefault("content-type", "application/json")
        event = http_event(method=method, path=path, route_key=f"{method} {template}", path_parameters=params or None,
                           headers=all_headers, body=data, source_ip=source_ip)
        response = handler_for(function_name)(event, LambdaContext(function_name))
        text = response.get("body") or ""
        return HttpResult(
            status=response["statusCode"],
            headers={k.lower(): v for k, v in (response.get("headers") or {}).items()},
            body=json.loads(text) if text else None,
            raw=response,
        )

    def ws(self, route_key: str, *, connection_id: str, body: Any = None,
           headers: dict[str, str] | None = None) -> dict[str, Any]:
        text = body if isinstance(body, str) or body is None else json.dumps(body)
        event = websocket_event(route_key=route_key, connection_id=connection_id,
                                connected_at_ms=1_770_000_000_000, body=text, headers=headers)
        return handler_for("WebSocketFunction")(event, LambdaContext("WebSocketFunction"))

    def new_connection(self) -> str:
        return new_connection_id()


@pytest.fixture
def api(aws) -> Api:
    return Api()


@dataclass
class Login:
    """A session issued through the API, with its browser token."""

    session_id: str
    browser_token: str
    body: dict[str, Any]


@pytest.fixture
def issue(api):
    def make(**kwargs: Any) -> Login:
        result = api.http("POST", "/sessions", **kwargs)
        assert result.status == 201, result.body
        return Login(result.body["session_id"], result.body["browser_token"], result.body)

    return make
