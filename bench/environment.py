"""What every benchmark runs against: the functions' settings and moto's AWS.

Mirrors ``tests/unit/conftest.py`` (same template-derived table and key, same
event builders) without pytest, so a benchmark exercises exactly the code and
event shapes the tests do.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from localcloud.devidp import DevIdentityProvider
from localcloud.events import LambdaContext, http_event, websocket_event
from localcloud.template import functions, http_routes, load_template, signing_key_definition, table_definition

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
TEMPLATE = load_template()
TABLE_NAME = "qrlogin-bench-sessions"
# The template's default QrLinkTemplate: what a default-length QR encodes.
QR_LINK_TEMPLATE = TEMPLATE["Parameters"]["QrLinkTemplate"]["Default"]
# The names the table prints, in the order a login meets them, and their handlers.
FUNCTION_NAMES = {
    "issue": "IssueFunction",
    "confirm": "ConfirmFunction",
    "status": "StatusFunction",
    "websocket": "WebSocketFunction",
    "notifier": "NotifierFunction",
}
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
PHONE_UA = "qrlogin-phone/1.0 (iPhone; iOS 19.0)"
ORIGIN = "https://app.example.com"


def handler_path(short_name: str) -> str:
    """``issue.app.handler`` etc., read from the template."""
    return str(functions(TEMPLATE)[FUNCTION_NAMES[short_name]]["Handler"])


def settings_env(jwks_url: str, signing_key_id: str = "arn:aws:kms:us-east-1:123456789012:key/bench") -> dict[str, str]:
    return {
        **template_defaults(),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": TABLE_NAME,
        "SESSION_TTL_SECONDS": str(TEMPLATE["Parameters"]["SessionTtlSeconds"]["Default"]),
        "ALLOWED_ORIGINS": ORIGIN,
        "QR_LINK_TEMPLATE": QR_LINK_TEMPLATE,
        "WEBSOCKET_URL": "wss://ws.example.com/live",
        "CONNECTIONS_URL": "https://ws.example.com/live",
        "TOKEN_ISSUER": "https://login.example.com",
        "TOKEN_AUDIENCE": "example-app",
        "SIGNING_KEY_ID": signing_key_id,
        "SIGNING_KEY_MODE": "envelope",
        "PHONE_AUTH_MODE": "jwt",
        "PHONE_JWT_ISSUER": "",
        "PHONE_JWT_AUDIENCE": "",
        "PHONE_JWT_CLIENT_ID": "",
        "PHONE_REQUIRED_SCOPE": "",
        "PHONE_JWKS_URL": jwks_url,
        "INTROSPECTION_URL": "",
        "INTROSPECTION_SECRET_NAME": "",
        "ISSUE_RATE_LIMIT_PER_MINUTE": str(TEMPLATE["Parameters"]["IssueRateLimitPerMinute"]["Default"]),
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_METRICS_NAMESPACE": "qrlogin",
    }


def template_defaults() -> dict[str, str]:
    """Every other variable the template sets, at its parameter's default (a setting added later is never missing)."""
    parameters = TEMPLATE["Parameters"]
    values = {}
    for name, value in TEMPLATE["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, dict) and value.get("Ref") in parameters:
            values[name] = str(parameters[value["Ref"]].get("Default", ""))
    return values


@contextmanager
def identity_provider() -> Iterator[tuple[DevIdentityProvider, dict[str, str]]]:
    """A development IdP whose JWKS the jwt verifier reads through a file:// URL, and the env to use it."""
    idp = DevIdentityProvider()
    with tempfile.TemporaryDirectory(prefix="qrlogin-bench-") as directory:
        jwks = Path(directory) / "jwks.json"
        jwks.write_text(json.dumps(idp.jwks()))
        env = settings_env(jwks.as_uri())
        env["PHONE_JWT_ISSUER"] = idp.issuer
        env["PHONE_JWT_AUDIENCE"] = idp.audience
        yield idp, env


@contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def mocked_aws(env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """moto's in-memory AWS with the template's table and signing key, and the functions' settings."""
    import boto3
    from moto import mock_aws

    from qrlogin import deps

    with patched_environ(env), mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**table_definition(TEMPLATE, TABLE_NAME))
        kms = boto3.client("kms", region_name="us-east-1")
        key = kms.create_key(**signing_key_definition(TEMPLATE))["KeyMetadata"]
        os.environ["SIGNING_KEY_ID"] = key["Arn"]
        deps.reset()
        try:
            yield {"dynamodb": dynamodb, "kms": kms, "key_arn": key["Arn"]}
        finally:
            deps.reset()


def _route_pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")


ROUTES = [(method, _route_pattern(path), path, name) for method, path, name in http_routes(TEMPLATE)]


def http_request_event(method: str, path: str, *, token: str | None = None, body: Any = None,
                       user_agent: str = BROWSER_UA, source_ip: str = "198.51.100.7", query: str = "",
                       data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """(function logical id, API Gateway HTTP API v2 event) for a request, routed by the template.

    ``body`` is sent as JSON; ``data`` as it is (a form, say), with its content-type among ``headers``.
    """
    matches = [(found, template, name) for route_method, pattern, template, name in ROUTES
               if route_method == method and (found := pattern.match(path))]
    if not matches:
        raise LookupError(f"no route for {method} {path}")
    ((found, template, function_name),) = matches
    sent = {"user-agent": user_agent, "origin": ORIGIN}
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        sent["content-type"] = "application/json"
    event = http_event(method=method, path=path, route_key=f"{method} {template}", query=query,
                       path_parameters=found.groupdict() or None, headers={**sent, **(headers or {})}, body=data,
                       source_ip=source_ip)
    return function_name, event


def ws_event(route_key: str, connection_id: str, body: Any = None) -> dict[str, Any]:
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    headers = {"Origin": ORIGIN, "User-Agent": BROWSER_UA} if route_key == "$connect" else None
    return websocket_event(route_key=route_key, connection_id=connection_id, connected_at_ms=1_770_000_000_000,
                           body=text, headers=headers)


def handler(function_name: str) -> Any:
    module_name, attribute = str(functions(TEMPLATE)[function_name]["Handler"]).rsplit(".", 1)
    return getattr(importlib.import_module(module_name), attribute)


def context(function_name: str) -> LambdaContext:
    return LambdaContext(function_name, memory_mb=int(functions(TEMPLATE)[function_name].get("MemorySize", 128)))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)
