"""Codes that expire: rotation on the same socket, its bound, no rotation while the tab is hidden, the countdown.

These run on a stack whose sessions live 6 s (``SHORT_TTL_PARAMS``); qrlogin.js
rotates a fifth of the lifetime before expiry.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import APIRequestContext, Page, Request, WebSocket, expect

from localcloud.process import StackProcess
from tests.browser.helpers import decode_qr, is_issue, open_login, phone_for, wait_for_code

pytestmark = pytest.mark.browser

ROTATION_WAIT_MS = 15_000  # longer than one 6 s lifetime: a wait bound, not a timing check

# Lets a test say "the tab is hidden" to the page: Chromium's headless tabs never are.
VISIBILITY_SWITCH = """
window.__testHidden = false;
Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__testHidden });
Object.defineProperty(document, "visibilityState", {
  configurable: true, get: () => (window.__testHidden ? "hidden" : "visible") });
window.__setHidden = (hidden) => {
  window.__testHidden = hidden;
  document.dispatchEvent(new Event("visibilitychange"));
};
"""


def test_the_code_rotates_before_it_expires_on_the_same_socket(
    page: Page, short_stack: StackProcess, screenshot: Callable[[Page, str], bytes]
) -> None:
    # Given the login page shows a short-lived code over one WebSocket
    sockets: list[WebSocket] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    first = open_login(page, short_stack.base_url)
    expect(page.locator(".qrl")).to_have_attribute("data-transport", "websocket")

    # When the code nears its expiry, the page gets a new one by itself (and withdraws the old one)
    def withdraws_first(request: Request) -> bool:
        return request.method == "DELETE" and request.url.endswith(f"/sessions/{first['session_id']}")

    with page.expect_request(withdraws_first, timeout=ROTATION_WAIT_MS) as withdrawn:  # noqa: SIM117 (order)
        with page.expect_response(is_issue, timeout=ROTATION_WAIT_MS) as rotated:
            pass
    second = rotated.value.json()
    wait_for_code(page, second["session_id"])

    # Then the new code on screen decodes to the new session, one socket served both,
    # and the page withdrew the old code (DELETE) rather than leave it valid until it expires
    assert second["session_id"] != first["session_id"]
    assert decode_qr(screenshot(page, "rotated")) == [second["qr"]["url"]]
    assert len(sockets) == 1
    assert withdrawn.value.headers["authorization"] == f"Bearer {first['browser_token']}"


def test_after_the_last_rotation_the_person_gets_a_new_code_with_a_click(
    page: Page, short_stack: StackProcess, screenshot: Callable[[Page, str], bytes]
) -> None:
    # Given a page allowed no automatic rotation
    first = open_login(page, short_stack.base_url, "/?rotations=0")

    # When its code expires
    expect(page.locator(".qrl")).to_have_attribute("data-state", "expired", timeout=ROTATION_WAIT_MS)

    # Then it says so plainly and offers a new code
    expect(page.locator(".qrl-status")).to_have_text("This code expired.")
    button = page.get_by_role("button", name="Get a new code")
    expect(button).to_be_visible()
    screenshot(page, "expired")

    # When the person clicks it, a fresh code decodes to a new session
    with page.expect_response(is_issue) as reissued:
        button.click()
    fresh = reissued.value.json()
    wait_for_code(page, fresh["session_id"])
    assert fresh["session_id"] != first["session_id"]
    assert decode_qr(screenshot(page, "new-code")) == [fresh["qr"]["url"]]


def test_a_hidden_tab_does_not_rotate_and_gets_a_fresh_code_when_shown_again(
    page: Page, short_stack: StackProcess
) -> None:
    # Given the page shows a code, and its tab is then hidden
    page.add_init_script(VISIBILITY_SWITCH)
    issues: list[str] = []
    page.on("request", lambda request: issues.append(request.url) if is_issue(request) else None)
    first = open_login(page, short_stack.base_url)
    page.evaluate("window.__setHidden(true)")

    # When the code's lifetime runs out while nobody looks
    expect(page.locator(".qrl")).to_have_attribute("data-state", "expired", timeout=ROTATION_WAIT_MS)

    # Then no new code was asked for
    assert len(issues) == 1

    # When the tab is shown again, a fresh code comes at once
    with page.expect_response(is_issue) as reissued:
        page.evaluate("window.__setHidden(false)")
    fresh = reissued.value.json()
    assert fresh["session_id"] != first["session_id"]
    page.wait_for_selector(f".qrl[data-state=pending][data-session-id='{fresh['session_id']}']")


# Every (session, seconds left) the countdown shows, in order.
RECORD_COUNTDOWN = """
window.__countdown = [];
new MutationObserver(() => {
  const bar = document.querySelector(".qrl-countdown");
  const root = document.querySelector(".qrl");
  if (!bar || !root || !bar.hasAttribute("aria-valuenow")) return;
  const seen = [root.dataset.sessionId, Number(bar.getAttribute("aria-valuenow"))];
  const last = window.__countdown.at(-1);
  if (!last || last[0] !== seen[0] || last[1] !== seen[1]) window.__countdown.push(seen);
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["aria-valuenow"] });
"""


def test_a_countdown_shows_the_code_is_alive_and_starts_again_with_the_next_code(
    page: Page, short_stack: StackProcess, short_api: APIRequestContext
) -> None:
    # Given the login page shows a short-lived code
    page.add_init_script(RECORD_COUNTDOWN)
    first = open_login(page, short_stack.base_url)

    # Then an accessible countdown says when the code changes
    countdown = page.get_by_role("progressbar", name="Time left on this code")
    expect(countdown).to_be_visible()
    expect(countdown).to_have_attribute("aria-valuetext", re.compile(r"^New code in \d+ s$"))
    expect(countdown).to_contain_text(re.compile(r"New code in \d+ s"))
    assert countdown.get_attribute("aria-live") is None  # announced on request, not every second

    # When the code rotates
    with page.expect_response(is_issue, timeout=ROTATION_WAIT_MS) as rotated:
        pass
    second = rotated.value.json()
    wait_for_code(page, second["session_id"])
    page.wait_for_function("(id) => window.__countdown.filter(([s]) => s === id).length >= 2", arg=second["session_id"])

    # Then the count went down for the first code and started again, higher, with the second
    seen = page.evaluate("window.__countdown")
    before = [left for session, left in seen if session == first["session_id"]]
    after = [left for session, left in seen if session == second["session_id"]]
    assert before == sorted(before, reverse=True) and len(set(before)) >= 2, seen
    assert after[0] > before[-1], seen
    assert after == sorted(after, reverse=True), seen

    # And once the code is scanned, it counts the time left to confirm
    phone_for(short_api).call(second["session_id"], "scan")
    expect(countdown).to_have_attribute("aria-valuetext", re.compile(r"^\d+ s left to confirm$"))
