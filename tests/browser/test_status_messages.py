"""Status messages that are stale or repeated (by version) change nothing on the page."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import APIRequestContext, Page, WebSocketRoute, expect

from localcloud.process import StackProcess
from tests.browser.helpers import open_login, phone_for

pytestmark = pytest.mark.browser

# Every text the widget's status line shows, in order.
RECORD_STATUS_LINES = """
window.__statusLines = [];
new MutationObserver(() => {
  const line = document.querySelector(".qrl-status");
  if (line && line.textContent !== window.__statusLines.at(-1)) window.__statusLines.push(line.textContent);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def test_stale_and_repeated_status_messages_are_dropped(
    page: Page, stack: StackProcess, api: APIRequestContext
) -> None:
    # Given the page's WebSocket goes through a route that can add messages of its own
    routes: list[WebSocketRoute] = []

    def relay(socket: WebSocketRoute) -> None:
        routes.append(socket)
        socket.connect_to_server()  # both directions forwarded as they are

    page.route_web_socket(re.compile(r"/live$"), relay)
    page.add_init_script(RECORD_STATUS_LINES)
    issued = open_login(page, stack.base_url)
    session_id = issued["session_id"]
    phone = phone_for(api, "alice", "Alice")
    phone.call(session_id, "scan")
    expect(page.locator(".qrl-status")).to_have_text("Alice — confirm on your phone")  # version 2

    # When an older message (version 1, "denied") and a repeat of version 2 (another name) arrive
    (socket,) = routes
    socket.send(json.dumps({"type": "status", "session_id": session_id, "status": "denied", "version": 1,
                            "expires_at": issued["expires_at"]}))
    socket.send(json.dumps({"type": "status", "session_id": session_id, "status": "scanned", "version": 2,
                            "expires_at": issued["expires_at"], "user": "Mallory"}))
    # ... followed on the same socket by the real confirmation
    phone.call(session_id, "confirm")

    # Then the page signs in as Alice, and neither message ever showed
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()
    lines = page.evaluate("window.__statusLines")
    assert "Alice — confirm on your phone" in lines
    assert not [line for line in lines if "Mallory" in line or "denied" in line]
