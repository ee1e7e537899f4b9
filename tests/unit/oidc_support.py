"""The OpenID Provider's calls, in-process (unit tier): a relying party and a phone, by hand.

``Rp`` registers clients in the table (the same ClientRegistry the admin
command and POST /dev/clients use), builds authorization requests, plays the
hosted page's completion and calls /token and /userinfo the way a client
library does.  Time is the ``clock`` fixture's.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3

from localcloud.events import LambdaContext, http_event
from qrlogin.oauth.clients import Client, ClientRegistry
from tests.unit.conftest import TABLE_NAME, Clock, Flow, HttpResult, Login, handler_for, route_for

REDIRECT = "https://rp.example.com/callback"
OIDC_MODULES = ("oidc.authorize", "oidc.token")
# What the unit tier's requests look like from API Gateway.
DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"
ISSUER = f"https://{DOMAIN}"


def b64url_json(part: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, claims, _ = token.split(".")
    return b64url_json(header), b64url_json(claims)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class Registered:
    client: Client
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.client.client_id


@dataclass
class Started:
    """An authorization request that got the hosted page: its session and the PKCE verifier."""

    login: Login
    verifier: str | None
    params: dict[str, str]
    page: HttpResult


@dataclass
class Answer:
    """Where the hosted page sent the browser."""

    location: str
    query: dict[str, str] = field(default_factory=dict)


class Rp:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.registry = ClientRegistry(TABLE_NAME, boto3.client("dynamodb", region_name="us-east-1"))

    # -- raw calls -------------------------------------------------------------

    def call(self, method: str, path: str, *, query: str = "", body: bytes | None = None,
             headers: dict[str, str] | None = None) -> HttpResult:
        template, function_name, params = route_for(method, path)
        all_headers = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
                       "x-forwarded-proto": "https", **(headers or {})}
        event = http_event(method=method, path=path, route_key=f"{method} {template}", path_parameters=params or None,
                           headers=all_headers, query=query, body=body, source_ip="198.51.100.7",
                           domain_name=DOMAIN)
        response = handler_for(function_name)(event, LambdaContext(function_name))
        text = response.get("body") or ""
        content_type = {k.lower(): v for k, v in (response.get("headers") or {}).items()}.get("content-type", "")
        return HttpResult(
            status=response["statusCode"],
            headers={k.lower(): v for k, v in (response.get("headers") or {}).items()},
            body=json.loads(text) if text and "json" in content_type else text,
            raw=response,
        )

    def register(self, redirect_uris: list[str] | None = None, **kwargs: Any) -> Registered:
        client, secret = self.registry.register(redirect_uris or [REDIRECT], **kwargs)
        return Registered(client, secret)

    def authorize_raw(self, query: str) -> HttpResult:
        return self.call("GET", "/authorize", query=query)

    def authorize(self, rp: Registered, *, pkce: bool = True, **overrides: str | None) -> HttpResult:
        params = self.params(rp, pkce=pkce, **overrides)
        return self.authorize_raw(urlencode({k: v for k, v in params.items() if v is not None}))

    def params(self, rp: Registered, *, pkce: bool = True, **overrides: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"client_id": rp.client_id, "redirect_uri": REDIRECT, "response_type": "code",
                                  "scope": "openid profile", "state": secrets.token_urlsafe(8),
                                  "nonce": secrets.token_urlsafe(8)}
        if pkce:
            verifier = secrets.token_urlsafe(48)
            params["code_verifier"] = verifier
            params.update(code_challenge=s256(verifier), code_challenge_method="S256")
        params.update(overrides)
        return params

    def start(self, rp: Registered, *, pkce: bool = True, **overrides: str | None) -> Started:
        params = self.params(rp, pkce=pkce, **overrides)
        verifier = params.pop("code_verifier", None)
        page = self.authorize_raw(urlencode({k: v for k, v in params.items() if v is not None}))
        assert page.status == 200, page.body
        data = json.loads(re.search(r'id="qrl-authorization">(.*?)</script>', page.body).group(1))
        session = data["session"]
        return Started(Login(session["session_id"], session["browser_token"], session), verifier, params, page)

    def complete(self, started: Started) -> HttpResult:
        body = json.dumps({"session_id": started.login.session_id, "browser_token": started.login.browser_token})
        return self.call("POST", "/authorize/complete", body=body.encode(),
                         headers={"content-type": "application/json"})

    def answer(self, started: Started) -> Answer:
        result = self.complete(started)
        assert result.status == 200 and result.body["redirect"], result.body
        return parse_redirect(result.body["redirect"])

    def approved(self, rp: Registered, who: str = "alice", **overrides: str | None) -> tuple[Started, Answer]:
        """An authorization request approved on the phone and completed: the RP's callback."""
        started = self.start(rp, **overrides)
        for action in ("scan", "confirm"):
            assert self.flow.phone(action, started.login, who).status == 200
        return started, self.answer(started)

    def token(self, form: dict[str, str | None], *, rp: Registered | None = None, auth: str = "basic",
              headers: dict[str, str] | None = None) -> HttpResult:
        fields = {k: v for k, v in form.items() if v is not None}
        all_headers = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
        if rp is not None and auth == "basic":
            pair = f"{rp.client_id}:{rp.secret}".encode()
            all_headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif rp is not None and auth == "post":
            fields.update(client_id=rp.client_id, client_secret=rp.secret or "")
        elif rp is not None and auth == "none":
            fields["client_id"] = rp.client_id
        return self.call("POST", "/token", body=urlencode(fields).encode(), headers=all_headers)

    def exchange(self, rp: Registered, started: Started, answer: Answer, *, auth: str | None = None,
                 **overrides: str | None) -> HttpResult:
        form: dict[str, str | None] = {"grant_type": "authorization_code", "code": answer.query.get("code"),
                                       "redirect_uri": REDIRECT, "code_verifier": started.verifier}
        form.update(overrides)
        return self.token(form, rp=rp, auth=auth or ("none" if rp.client.public else "basic"))

    def userinfo(self, access_token: str | None, method: str = "GET") -> HttpResult:
        headers = {"authorization": f"Bearer {access_token}"} if access_token else {}
        return self.call(method, "/userinfo", headers=headers)


def parse_redirect(location: str) -> Answer:
    return Answer(location, {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()})


def patch_clock(monkeypatch: Any, clock: Clock) -> None:
    for name in OIDC_MODULES:
        monkeypatch.setattr(importlib.import_module(name), "time", clock)
