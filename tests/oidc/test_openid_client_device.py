"""RFC 8628 with a stock client: Node openid-client's initiateDeviceAuthorization / pollDeviceAuthorizationGrant
(device.mjs) logs a device in against the local stack while the test plays the phone (DESIGN §8, issue 13).

The tier's stack polls every second (DevicePollIntervalSeconds=1, conftest) so a login takes seconds; a
stack of this module's own lets device grants expire after 3 s.  Waits are on the client's own output
lines, bounded; nothing asserts on time.
"""

from __future__ import annotations

import json
import select
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from localcloud.process import StackProcess
from localcloud.template import ROOT

pytestmark = pytest.mark.oidc

DEVICE_SCRIPT = Path(__file__).with_name("device.mjs")
LINE_WAIT_S = 30.0


@pytest.fixture(scope="package")
def device_stack(stack: StackProcess) -> StackProcess:
    """The tier's stack (conftest), which polls every second."""
    return stack


@pytest.fixture(scope="module")
def short_stack(node: str) -> Iterator[StackProcess]:
    """Device grants that expire after 3 s."""
    with StackProcess("IssueRateLimitPerMinute=1000", "DevicePollIntervalSeconds=1",
                      "DeviceCodeTtlSeconds=3") as process:
        yield process


class Device:
    """device.mjs as a child process; its output read line by line."""

    def __init__(self, node: str, settings: dict[str, Any]) -> None:
        self.process = subprocess.Popen([node, str(DEVICE_SCRIPT), json.dumps(settings)], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[dict[str, Any]] = []

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], LINE_WAIT_S)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            assert self.process.stderr is not None
            self.process.kill()
            raise AssertionError(f"device.mjs said nothing more: {self.process.stderr.read()[-2000:]}")
        self.lines.append(json.loads(line))
        return self.lines[-1]

    def until(self, key: str) -> dict[str, Any]:
        while True:
            line = self.read()
            if key in line:
                return line

    def polls(self) -> list[str]:
        return [line["poll"] for line in self.lines if "poll" in line]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class Phone:
    def __init__(self, base_url: str, sub: str, name: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        token = self.http.post(f"{base_url}/dev/phone-token", json={"sub": sub, "name": name}).json()
        self.http.headers["Authorization"] = f"Bearer {token['access_token']}"

    def lookup(self, typed: str) -> requests.Response:
        return self.http.post(f"{self.base_url}/sessions/lookup", json={"user_code": typed})

    def act(self, session_id: str, *steps: str) -> None:
        for step in steps:
            answer = self.http.post(f"{self.base_url}/sessions/{session_id}/{step}")
            assert answer.status_code == 200, answer.text


@pytest.fixture
def devices(node: str) -> Iterator[Any]:
    started: list[Device] = []

    def start(stack: StackProcess, *, public: bool = False, **extra: Any) -> Device:
        response = requests.post(f"{stack.base_url}/dev/clients",
                                 json={"redirect_uris": ["http://127.0.0.1:9/callback"], "public": public})
        assert response.status_code in (200, 201), response.text
        registered = response.json()
        device = Device(node, {"issuer": stack.base_url, "client_id": registered["client_id"],
                               "client_secret": registered.get("client_secret"),
                               "auth": "none" if public else "basic", **extra})
        started.append(device)
        return device

    yield start
    for device in started:
        device.close()


def test_a_stock_device_client_logs_in_by_typed_code(device_stack, devices):
    # Given a TV that asked openid-client to start a device login
    device = devices(device_stack, reuse=True)
    shown = device.until("device")["device"]
    assert shown["interval"] == 1 and shown["expires_in"] == 600
    assert shown["verification_uri"] == f"{device_stack.base_url}/phone"

    # When the user types the code on the phone (lower case, no dash), then scans and confirms
    phone = Phone(device_stack.base_url, "alice", "Alice")
    found = phone.lookup(shown["user_code"].replace("-", "").lower())
    assert found.status_code == 200, found.text
    phone.act(found.json()["session_id"], "scan", "confirm")

    # Then the library's poll returns the tokens: an id_token for this client and the phone's user
    result = device.until("ok")
    assert result["ok"] is True, result
    claims = result["id_token_claims"]
    assert (claims["sub"], claims["name"], claims["iss"]) == ("alice", "Alice", device_stack.base_url)
    assert result["userinfo"]["sub"] == "alice"
    # And the same device code polled again gets an error, never a second set of tokens
    assert result["reuse"]["error"] in ("invalid_grant", "expired_token"), result["reuse"]
    assert device.polls().count("tokens") == 1, device.polls()


def test_a_stock_device_client_logs_in_by_the_link(device_stack, devices):
    device = devices(device_stack, public=True)
    shown = device.until("device")["device"]
    # The link is the stack's ordinary QR link (QrLinkTemplate): the phone path of every flow
    link = urlsplit(shown["verification_uri_complete"])
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{device_stack.base_url}/phone"
    session_id = parse_qs(link.query)["session"][0]
    Phone(device_stack.base_url, "bob", "Bob").act(session_id, "scan", "confirm")
    result = device.until("ok")
    assert result["ok"] is True, result
    assert result["id_token_claims"]["sub"] == "bob"


def test_polling_faster_than_the_interval_gets_slow_down(device_stack, devices):
    # A client that ignores the interval (0 s instead of the server's 1 s): back-to-back polls
    device = devices(device_stack, interval=0, stop_on="slow_down")
    device.until("device")
    result = device.until("ok")
    assert result["ok"] is False  # aborted by the script once slow_down was seen
    assert device.polls()[:2] == ["authorization_pending", "slow_down"], device.polls()


def test_a_denied_device_login_is_access_denied(device_stack, devices):
    device = devices(device_stack)
    shown = device.until("device")["device"]
    phone = Phone(device_stack.base_url, "alice", "Alice")
    phone.act(phone.lookup(shown["user_code"]).json()["session_id"], "scan", "deny")
    result = device.until("ok")
    assert (result["ok"], result["error"]) == (False, "access_denied"), result


def test_an_unanswered_device_login_expires(short_stack, devices):
    # The library's own deadline is pushed out, so it is the server that says the grant expired
    device = devices(short_stack, poll_timeout_ms=30_000)
    shown = device.until("device")["device"]
    assert shown["expires_in"] <= 3
    result = device.until("ok")
    assert (result["ok"], result["error"]) == (False, "expired_token"), result
    assert device.polls()[-1] == "expired_token"
    # And its typed code resolves to nothing now
    lookup = Phone(short_stack.base_url, "carol", "Carol").lookup(shown["user_code"])
    assert lookup.status_code == 404

