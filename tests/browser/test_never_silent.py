"""Issue 14: the widget never goes silent while a code is live.

Each test breaks one thing with the local stack's fault injection
(``/dev/faults``: a throttled DynamoDB write, a failed function behind API
Gateway, a push API Gateway answers 410 for, a lagging redeem) or with the
socket itself (Playwright's WebSocket route, which forwards both ways and
notes what the server said), and checks that a person who confirms on the
phone is still signed in.  Waits are on states the page exposes
(``data-subscribed``: the current code's snapshot came over the socket;
``data-state``; the status line), never on time.

The page is opened with short timing options (``demo.js`` passes them to the
widget) so that retries happen within the tier's wait bounds.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from typing import Any

import boto3
import pytest
from playwright.sync_api import APIRequestContext, Page, Request, WebSocketRoute, expect

from localcloud.process import StackProcess
from tests.browser.helpers import WAIT_MS, open_login, phone_for

pytestmark = pytest.mark.browser

LIVE_SOCKET = re.compile(r"/live$")
FAST = "/?reconnectInitialMs=200&snapshotTimeoutSeconds=1&safetyPollSeconds=1&redeemRetryMs=200"
TOKEN_ROUTE = "POST /sessions/{session_id}/token"


def arm(base_url: str, fault: dict[str, Any]) -> None:
    """POST /dev/faults with plain urllib: usable inside a Playwright route handler."""
    request = urllib.request.Request(f"{base_url}/dev/faults", data=json.dumps(fault).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204


def faults(api: APIRequestContext) -> dict[str, Any]:
    armed: dict[str, Any] = api.get("/dev/faults").json()
    return armed


def wait_until_spent(api: APIRequestContext, target: str) -> None:
    """Bounded wait until the fault armed for ``target`` has been consumed (the notifier runs on its own)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while faults(api).get(target, {}).get("remaining") != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert faults(api)[target]["remaining"] == 0, faults(api)


def connections_of(api: APIRequestContext, session_id: str) -> set[str]:
    """The session item's WebSocket connections, read from moto behind the API."""
    info = api.get("/dev/stack").json()
    dynamodb = boto3.client("dynamodb", endpoint_url=info["aws_endpoint"], region_name=info["region"],
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    item = dynamodb.get_item(TableName=info["table_name"], Key={"pk": {"S": f"session#{session_id}"}},
                             ConsistentRead=True)["Item"]
    return set(item.get("connections", {}).get("SS", []))


class Relay:
    """Every page socket forwarded to the server; what the server sent, per socket, in order."""

    def __init__(self) -> None:
        self.sockets: list[list[dict[str, Any]]] = []

    def route(self, page: WebSocketRoute, before_connect: Any = None) -> None:
        heard: list[dict[str, Any]] = []
        self.sockets.append(heard)
        if before_connect:
            before_connect(len(self.sockets))
        server = page.connect_to_server()

        def from_server(message: str | bytes) -> None:
            heard.append(json.loads(message))
            page.send(message)

        server.on_message(from_server)

    def heard(self) -> list[dict[str, Any]]:
        return [message for socket in self.sockets for message in socket]


def subscribed(page: Page, session_id: str) -> None:
    expect(page.locator(".qrl")).to_have_attribute("data-subscribed", session_id)


def approve(page: Page, api: APIRequestContext, session_id: str) -> None:
    phone = phone_for(api, "alice", "Alice")
    phone.call(session_id, "scan")
    expect(page.locator(".qrl-status")).to_have_text("Alice — confirm on your phone")
    phone.call(session_id, "confirm")
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()


def test_a_subscribe_refused_once_is_retried_and_the_login_completes(
    page: Page, stack: StackProcess, api: APIRequestContext
) -> None:
    # Given DynamoDB throttles the subscribe's write (every attempt botocore makes, and then some),
    # armed as the page's socket opens, after its code was issued
    relay = Relay()
    throttle = {"operation": "dynamodb:UpdateItem", "error": "ProvisionedThroughputExceededException",
                "status": 400, "times": 4}
    page.route_web_socket(LIVE_SOCKET, lambda socket: relay.route(
        socket, lambda n: arm(stack.base_url, throttle) if n == 1 else None))
    issued = open_login(page, stack.base_url, FAST)

    # When the page is refused (temporarily_unavailable), Then it subscribes again on the same socket
    subscribed(page, issued["session_id"])
    replies = relay.heard()
    assert {"type": "error", "error": "temporarily_unavailable"}.items() <= replies[0].items()
    assert len(relay.sockets) == 1  # no reconnect was needed: the socket stayed open
    assert faults(api)["DynamoDB_20120810.UpdateItem"]["remaining"] == 0

    # And a login on the phone reaches the page
    approve(page, api, issued["session_id"])


def test_an_api_gateway_internal_error_reply_is_retried(
    page: Page, stack: StackProcess, api: APIRequestContext
) -> None:
    # Given the subscribe's function fails once, which API Gateway answers with a message without a type
    relay = Relay()
    page.route_web_socket(LIVE_SOCKET, relay.route)
    arm(stack.base_url, {"route": "subscribe", "times": 1})
    issued = open_login(page, stack.base_url, FAST)

    # When the page hears {"message": "Internal server error"}, Then it subscribes again and is live
    subscribed(page, issued["session_id"])
    first = relay.heard()[0]
    assert first["message"] == "Internal server error" and "type" not in first

    # And a login on the phone reaches the page over the socket
    approve(page, api, issued["session_id"])
    assert any(m.get("status") == "confirmed" for m in relay.heard())


def test_a_subscribe_that_gets_no_snapshot_is_repeated(
    page: Page, stack: StackProcess, api: APIRequestContext
) -> None:
    # Given the page's first subscribe is lost on its way to the server
    dropped: list[str] = []

    def lose_first_subscribe(socket: WebSocketRoute) -> None:
        server = socket.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if not dropped and '"subscribe"' in str(message):
                dropped.append(str(message))
                return
            server.send(message)

        socket.on_message(from_page)

    page.route_web_socket(LIVE_SOCKET, lose_first_subscribe)
    issued = open_login(page, stack.base_url, FAST)

    # When no snapshot comes within snapshotTimeoutSeconds, Then the page subscribes again and is live
    subscribed(page, issued["session_id"])
    assert json.loads(dropped[0])["session_id"] == issued["session_id"]
    approve(page, api, issued["session_id"])


def test_a_push_lost_while_scanned_is_recovered_by_the_safety_poll(
    page: Page, stack: StackProcess, api: APIRequestContext
) -> None:
    # Given Alice scanned the page's code and the page heard it over its socket
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    issued = open_login(page, stack.base_url, FAST)
    session_id = issued["session_id"]
    subscribed(page, session_id)
    phone = phone_for(api, "alice", "Alice")
    phone.call(session_id, "scan")
    expect(page.locator(".qrl-status")).to_have_text("Alice — confirm on your phone")

    # When the push of her confirmation is lost (API Gateway answers 410 for the page's connection,
    # so the notifier drops the push and the connection)
    (connection_id,) = connections_of(api, session_id)
    arm(stack.base_url, {"connection_id": connection_id, "status": 410, "times": 1})
    phone.call(session_id, "confirm")
    wait_until_spent(api, connection_id)

    # Then the page learns it from its safety poll, still next to an open socket, and signs in
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()
    assert [r for r in requests if r.method == "GET" and r.url.endswith(f"/sessions/{session_id}")]


def test_twelve_reconnects_with_one_code_stay_subscribed(
    page: Page, stack: StackProcess, api: APIRequestContext
) -> None:
    # Given every socket of the page is dropped once its subscribe is answered, twelve times in a row
    sockets: list[list[dict[str, Any]]] = []

    def drop_after_snapshot(socket: WebSocketRoute) -> None:
        heard: list[dict[str, Any]] = []
        sockets.append(heard)
        server = socket.connect_to_server()
        keep = len(sockets) > 12

        def from_server(message: str | bytes) -> None:
            heard.append(json.loads(message))
            socket.send(message)
            if not keep and heard[-1].get("type") in ("status", "error"):
                server.close()
                socket.close()

        server.on_message(from_server)

    page.route_web_socket(LIVE_SOCKET, drop_after_snapshot)
    issued = open_login(page, stack.base_url, FAST)

    # When the page has reconnected a twelfth time (a bounded wait that lets Playwright run the route)
    deadline = time.monotonic() + 2 * WAIT_MS / 1000
    while not (len(sockets) == 13 and sockets[-1]) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    subscribed(page, issued["session_id"])
    expect(page.locator(".qrl")).to_have_attribute("data-transport", "websocket")

    # Then every subscribe, on all thirteen sockets, got the code's snapshot: none hit a connection cap
    assert len(sockets) == 13
    assert [socket[0].get("type") for socket in sockets] == ["status"] * 13, sockets
    assert {socket[0]["session_id"] for socket in sockets} == {issued["session_id"]}

    # And the code is still live: the scan is pushed over the thirteenth socket and the login completes
    approve(page, api, issued["session_id"])
    assert [m["status"] for m in sockets[-1][1:]][:2] == ["scanned", "confirmed"]


def test_authorization_pending_on_redeem_is_retried(page: Page, stack: StackProcess, api: APIRequestContext) -> None:
    # Given the token endpoint first answers authorization_pending (as a read that lags the confirmation would)
    redeems: list[Request] = []
    page.on("request", lambda request: redeems.append(request) if request.url.endswith("/token") else None)
    issued = open_login(page, stack.base_url, FAST)
    arm(stack.base_url, {"route": TOKEN_ROUTE, "times": 1, "status": 400,
                         "body": {"error": "authorization_pending", "message": "Not confirmed yet."}})

    # When Alice approves on the phone
    approve(page, api, issued["session_id"])

    # Then the page asked again after the "not yet" and was signed in on the second answer
    assert len(redeems) == 2
    assert faults(api)[TOKEN_ROUTE]["remaining"] == 0
