"""Without a working WebSocket: the page polls GET /sessions/{id} and still logs in, and reconnects with backoff."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import APIRequestContext, Page, Request, WebSocketRoute, expect

from localcloud.process import StackProcess
from tests.browser.helpers import open_login, phone_for

pytestmark = pytest.mark.browser

LIVE_SOCKET = re.compile(r"/live$")


def polls_of(requests: list[Request], session_id: str) -> list[Request]:
    return [request for request in requests
            if request.method == "GET" and request.url.endswith(f"/sessions/{session_id}")]


def test_with_the_websocket_blocked_the_page_logs_in_by_polling(
    page: Page, stack: StackProcess, api: APIRequestContext, screenshot: Callable[[Page, str], bytes]
) -> None:
    # Given every WebSocket the page opens is closed at once (as a proxy that refuses them would)
    attempts: list[str] = []

    def refuse(socket: WebSocketRoute) -> None:
        attempts.append(socket.url)
        socket.close()

    page.route_web_socket(LIVE_SOCKET, refuse)
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    issued = open_login(page, stack.base_url)
    expect(page.locator(".qrl")).to_have_attribute("data-transport", "polling")

    # When Alice scans and approves
    phone = phone_for(api)
    phone.call(issued["session_id"], "scan")
    expect(page.locator(".qrl-status")).to_have_text("Alice — confirm on your phone")
    phone.call(issued["session_id"], "confirm")

    # Then the page learns it by polling and signs in
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()
    screenshot(page, "signed-in-by-polling")
    assert polls_of(requests, issued["session_id"])
    assert attempts, "the page never tried the WebSocket"
    # The browser token went in the Authorization header, never in a URL
    assert not [request for request in requests if issued["browser_token"] in request.url]


def test_a_dropped_websocket_is_reconnected_and_resubscribed(
    page: Page, stack: StackProcess, api: APIRequestContext
) -> None:
    # Given the first WebSocket is dropped and later ones get through to the server
    attempts: list[str] = []
    subscribes: list[str] = []

    def first_fails(socket: WebSocketRoute) -> None:
        attempts.append(socket.url)
        if len(attempts) == 1:
            socket.close()
            return
        server = socket.connect_to_server()
        # Forward both ways, noting what the page sends (the subscribe carries its secrets in the body).
        socket.on_message(lambda message: (subscribes.append(str(message)), server.send(message)))
        server.on_message(lambda message: socket.send(message))

    page.route_web_socket(LIVE_SOCKET, first_fails)
    issued = open_login(page, stack.base_url)

    # When the page has reconnected
    expect(page.locator(".qrl")).to_have_attribute("data-transport", "websocket")

    # Then it subscribed again on the new socket, with the secrets in the message body only
    assert len(attempts) >= 2
    assert "?" not in attempts[-1] and issued["browser_token"] not in attempts[-1]
    assert any(issued["browser_token"] in message and '"subscribe"' in message for message in subscribes)

    # And a login completes over the new socket
    phone = phone_for(api)
    phone.call(issued["session_id"], "scan")
    phone.call(issued["session_id"], "confirm")
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()
