"""Unit tier: handlers in-process against moto's in-memory AWS (no sockets).

The table and the signing key are created from template.yaml's definitions;
phone tokens come from the development identity provider, whose JWKS the
``jwt`` verifier reads through a file:// URL.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.devidp import DevIdentityProvider
from localcloud.events import LambdaContext, http_event, new_connection_id, websocket_event
from localcloud.template import functions, http_routes, load_template, signing_key_definitions, table_definition
from qrlogin import deps

# Imported now, not by the first handler a test imports: the Powertools logger
# binds sys.stdout when it is made, and a test's own capture is closed after it.
from qrlogin.observability import logger as powertools_logger

TEMPLATE = load_template()
TABLE_NAME = "qrlogin-unit-sessions"
ROUTES = http_routes(TEMPLATE)
FUNCTIONS = functions(TEMPLATE)


@pytest.fixture(scope="session", autouse=True)
def _one_model_loader() -> Iterator[None]:
    """Every botocore session of the tier shares one model loader.

    mock_aws resets boto3's default session and the handlers make a session per
    client, so each test would parse the DynamoDB and KMS service models again
    (about 0.15 s a client).  The models are read-only data; sharing their
    loader changes nothing else about how clients are made.
    """
    import botocore.loaders
    import botocore.session

    loader = botocore.loaders.create_loader()
    original = botocore.session.create_loader
    botocore.session.create_loader = lambda *args, **kwargs: loader
    yield
    botocore.session.create_loader = original


@pytest.fixture
def idp(tmp_path) -> DevIdentityProvider:
    provider = DevIdentityProvider()
    (tmp_path / "jwks.json").write_text(json.dumps(provider.jwks()))
    return provider


@pytest.fixture
def signing_mode() -> str:
    """The template's SigningKeyMode; a test may parametrize it (e.g. ``["kms", "envelope"]``)."""
    return "envelope"


@pytest.fixture
def settings_env(tmp_path, idp, monkeypatch, signing_mode) -> dict[str, str]:
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
        "SIGNING_KEY_MODE": signing_mode,
        "RSA_SIGNING_KEY_ID": "",
        "PHONE_AUTH_MODE": "jwt",
        "PHONE_JWT_ISSUER": idp.issuer,
        "PHONE_JWT_AUDIENCE": idp.audience,
        "PHONE_JWT_CLIENT_ID": "",
        "PHONE_REQUIRED_SCOPE": "",
        "PHONE_JWKS_URL": (tmp_path / "jwks.json").as_uri(),
        "INTROSPECTION_URL": "",
        "INTROSPECTION_SECRET_NAME": "",
        "ISSUE_RATE_LIMIT_PER_MINUTE": "30",
        "OIDC_ISSUER": "",
        "ACCESS_TOKEN_AUDIENCE": "https://api.example.com",
        "DEVICE_CODE_TTL_SECONDS": "600",
        "DEVICE_POLL_INTERVAL_SECONDS": "5",
        "POWERTOOLS_METRICS_NAMESPACE": "qrlogin",
    }
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def aws(settings_env, monkeypatch, signing_mode) -> Iterator[dict[str, Any]]:
    """moto's AWS with the template's table and signing keys (``key_arns``: logical id -> ARN)."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**table_definition(TEMPLATE, TABLE_NAME))
        kms = boto3.client("kms", region_name="us-east-1")
        key_arns = {name: kms.create_key(**definition)["KeyMetadata"]["Arn"]
                    for name, definition in signing_key_definitions(TEMPLATE, {"SigningKeyMode": signing_mode}).items()}
        monkeypatch.setenv("SIGNING_KEY_ID", key_arns["SigningKey"])
        monkeypatch.setenv("RSA_SIGNING_KEY_ID", key_arns.get("RsaSigningKey", ""))
        deps.reset()
        yield {"dynamodb": dynamodb, "kms": kms, "key_arn": key_arns["SigningKey"], "key_arns": key_arns}
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


def route_for(method: str, path: str) -> tuple[str, str, dict[str, str]]:
    """(path template, function logical id, path parameters) of the template route serving the call."""
    for route_method, template, function_name in ROUTES:
        params = _match(template, path)
        if route_method == method and params is not None:
            return template, function_name, params
    raise AssertionError(f"no route for {method} {path}")


class Api:
    """Calls the handlers the way API Gateway would, routes taken from the template."""

    def http(self, method: str, path: str, *, token: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None, source_ip: str = "198.51.100.7",
             raw_body: bytes | None = None) -> HttpResult:
        for route_method, template, function_name in ROUTES:  # noqa: B007 (used after the loop)
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


# -- time, items and flows (added for the unit tier's contract tests) ----------

# The modules whose ``time.time()`` is "now" for the contract: every handler.
HANDLER_MODULES = ("issue.app", "confirm.app", "status.app", "status.websocket", "status.notifier")


class Clock:
    """A wall clock that stands still until told to move.

    Expiry is decided by time, never by TTL deletion (moto never deletes), so
    tests move this clock past ``expires_at`` instead of sleeping.
    """

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)  # monotonic, sleep, ...: the real ones


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Freezes the handlers' clock 15 s into the current minute (rate windows are whole minutes)."""
    frozen = Clock(float(int(time.time()) // 60 * 60 + 15))
    for name in HANDLER_MODULES:
        monkeypatch.setattr(importlib.import_module(name), "time", frozen)
    return frozen


@pytest.fixture
def read_item(aws):
    """The raw DynamoDB item of a session (strongly consistent), or None."""

    def read(session_id: str) -> dict[str, Any] | None:
        response = aws["dynamodb"].get_item(TableName=TABLE_NAME, Key={"pk": {"S": f"session#{session_id}"}},
                                            ConsistentRead=True)
        return response.get("Item")

    return read


class Flow:
    """The contract's calls on a session, by its browser and by phone users (alice, bob)."""

    def __init__(self, api: Api, idp: DevIdentityProvider) -> None:
        self.api = api
        self.tokens = {"alice": idp.mint("alice", "Alice"), "bob": idp.mint("bob", "Bob")}

    def issue(self, **kwargs: Any) -> Login:
        result = self.api.http("POST", "/sessions", **kwargs)
        assert result.status == 201, result.body
        return Login(result.body["session_id"], result.body["browser_token"], result.body)

    def phone(self, action: str, login: Login, who: str = "alice", **kwargs: Any) -> HttpResult:
        return self.api.http("POST", f"/sessions/{login.session_id}/{action}", token=self.tokens[who], **kwargs)

    def scan(self, login: Login, who: str = "alice", **kwargs: Any) -> HttpResult:
        return self.phone("scan", login, who, **kwargs)

    def confirm(self, login: Login, who: str = "alice") -> HttpResult:
        return self.phone("confirm", login, who)

    def deny(self, login: Login, who: str = "alice") -> HttpResult:
        return self.phone("deny", login, who)

    def status(self, login: Login) -> HttpResult:
        return self.api.http("GET", f"/sessions/{login.session_id}", token=login.browser_token)

    def redeem(self, login: Login) -> HttpResult:
        return self.api.http("POST", f"/sessions/{login.session_id}/token", token=login.browser_token)

    def cancel(self, login: Login) -> HttpResult:
        return self.api.http("DELETE", f"/sessions/{login.session_id}", token=login.browser_token)

    def act(self, action: str, login: Login) -> HttpResult:
        """``scan:alice``, ``confirm:bob``, ``cancel``, ``redeem`` ...: one call by name."""
        name, _, who = action.partition(":")
        if name in ("scan", "confirm", "deny"):
            return self.phone(name, login, who or "alice")
        return {"cancel": self.cancel, "redeem": self.redeem, "status": self.status}[name](login)

    def drive(self, *steps: str, **issue_kwargs: Any) -> Login:
        """A new session taken through ``steps`` (each must succeed)."""
        login = self.issue(**issue_kwargs)
        for step in steps:
            result = self.act(step, login)
            assert result.status in (200, 204), (step, result.body)
        return login


@pytest.fixture
def flow(api, idp) -> Flow:
    return Flow(api, idp)


@pytest.fixture
def all_output(caplog, capsys) -> Iterator[Any]:
    """Returns a function reading everything logged or printed so far.

    The Powertools logger writes through a handler made at import, so its
    stream is swapped here; other loggers at the production level (INFO) come
    through caplog, and prints (EMF metrics) through capsys.
    """
    buffer = io.StringIO()
    handler = powertools_logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    with handler.lock:  # not setStream: it would flush the old stream first
        original_stream, handler.stream = handler.stream, buffer
    original_level = powertools_logger.log_level
    powertools_logger.setLevel("DEBUG")  # stricter than production: our own debug lines count too
    caplog.set_level(logging.INFO)

    def read() -> str:
        captured = capsys.readouterr()
        return buffer.getvalue() + caplog.text + captured.out + captured.err

    yield read
    with handler.lock:
        handler.stream = original_stream
    powertools_logger.setLevel(original_level)
