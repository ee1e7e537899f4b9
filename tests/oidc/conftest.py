"""OIDC tier: a stock relying party (Node openid-client + aws-jwt-verify) and headless Chromium against the local stack.

Needs node (with ``make node``'s node_modules) and Debian's ``/usr/bin/chromium``;
without them the tier skips with the reason, except under ``CI=true``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page

from localcloud.process import StackProcess
from localcloud.template import ROOT
from tests.chromium import browser, chromium_path, playwright  # noqa: F401 (fixtures)

RP_SCRIPT = Path(__file__).with_name("rp.mjs")
# The RP's callback: nothing listens there; the browser's request to it is intercepted and read.
CALLBACK = "http://127.0.0.1:9/callback"
AUDIENCE = "https://api.example.com"
WAIT_MS = 15_000


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing under CI=true")
    pytest.skip(f"{what} is missing; the OIDC tier needs it")


@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        _missing("node")
    if not (ROOT / "node_modules" / "openid-client").is_dir():
        _missing("node_modules/openid-client (make node)")
    return str(path)




@pytest.fixture(scope="package")
def stack(node: str) -> Iterator[StackProcess]:
    # DevicePollIntervalSeconds=1: device logins (test_openid_client_device.py) take seconds, not tens of them.
    with StackProcess("IssueRateLimitPerMinute=1000", f"AccessTokenAudience={AUDIENCE}",
                      "DevicePollIntervalSeconds=1") as process:
        yield process




@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context: BrowserContext = browser.new_context()
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    yield page
    context.close()


class RelyingParty:
    """rp.mjs as a child process: one authorization, driven line by line."""

    def __init__(self, node: str, settings: dict[str, Any]) -> None:
        self.process = subprocess.Popen(
            [node, str(RP_SCRIPT), json.dumps(settings)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            assert self.process.stderr is not None
            raise AssertionError(f"rp.mjs ended: {self.process.stderr.read()}")
        return json.loads(line)

    def send(self, value: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(value) + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class Provider:
    """The local stack as an OpenID Provider, plus its phone API."""

    def __init__(self, stack: StackProcess, node: str) -> None:
        self.base_url = stack.base_url
        self.node = node
        self.http = requests.Session()
        self.parties: list[RelyingParty] = []

    def register(self, *, public: bool = False, redirect_uris: list[str] | None = None,
                 **extra: Any) -> dict[str, Any]:
        response = self.http.post(f"{self.base_url}/dev/clients",
                                  json={"redirect_uris": redirect_uris or [CALLBACK], "public": public, **extra})
        assert response.status_code in (200, 201), response.text
        return response.json()

    def relying_party(self, registered: dict[str, Any], auth: str = "basic", **extra: Any) -> RelyingParty:
        party = RelyingParty(self.node, {
            "issuer": self.base_url, "client_id": registered["client_id"],
            "client_secret": registered.get("client_secret"), "auth": auth, "redirect_uri": CALLBACK,
            "audience": AUDIENCE, **extra})
        self.parties.append(party)
        return party

    def phone_token(self, sub: str = "alice", name: str = "Alice") -> str:
        answer = self.http.post(f"{self.base_url}/dev/phone-token", json={"sub": sub, "name": name})
        return answer.json()["access_token"]

    def phone(self, action: str, session_id: str, token: str) -> requests.Response:
        return self.http.post(f"{self.base_url}/sessions/{session_id}/{action}",
                              headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        for party in self.parties:
            party.close()
        self.http.close()


@pytest.fixture
def provider(stack: StackProcess, node: str) -> Iterator[Provider]:
    value = Provider(stack, node)
    yield value
    value.close()


@pytest.fixture(scope="module")
def short_stack(node: str) -> Iterator[StackProcess]:
    """Authorization requests that expire in 3 s."""
    with StackProcess("SessionTtlSeconds=3", "IssueRateLimitPerMinute=1000",
                      f"AccessTokenAudience={AUDIENCE}") as process:
        yield process


@pytest.fixture
def short_provider(short_stack: StackProcess, node: str) -> Iterator[Provider]:
    value = Provider(short_stack, node)
    yield value
    value.close()
