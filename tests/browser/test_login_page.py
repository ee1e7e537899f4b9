"""The demo login page (/) with qrlogin.js, against the local stack: the QR, scan, approve, deny, dismiss."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

from localcloud.process import StackProcess
from tests.browser.helpers import (
    decode_qr,
    is_issue,
    open_login,
    phone_for,
    session_status,
    wait_for_code,
    wait_for_status,
)

pytestmark = pytest.mark.browser


def test_the_qr_on_screen_decodes_to_the_session_link(
    page: Page, stack: StackProcess, screenshot: Callable[[Page, str], bytes]
) -> None:
    # Given the login page has created a session
    issued = open_login(page, stack.base_url)

    # When a camera "looks" at the screen
    codes = decode_qr(screenshot(page, "login"))

    # Then it reads exactly the session's link, and the live status line invites a scan
    assert codes == [issued["qr"]["url"]]
    status = page.locator(".qrl-status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_have_text("Scan with your phone to log in")
    expect(page.get_by_role("img", name="QR code. Scan it with your phone to log in.")).to_be_visible()


def test_approving_on_the_phone_signs_the_page_in(
    page: Page, stack: StackProcess, api: APIRequestContext, console: list[str],
    screenshot: Callable[[Page, str], bytes],
) -> None:
    # Given the page shows a code and Alice's phone scans it
    issued = open_login(page, stack.base_url)
    phone = phone_for(api, "alice", "Alice")
    phone.call(issued["session_id"], "scan")

    # Then the QR is hidden and the page says who scanned
    expect(page.locator(".qrl-status")).to_have_text("Alice — confirm on your phone")
    expect(page.locator(".qrl-code")).to_be_hidden()
    screenshot(page, "scanned")

    # When she approves
    phone.call(issued["session_id"], "confirm")

    # Then the page is signed in as Alice with a token whose signature the page verified
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()
    expect(page.locator("#verdict")).to_contain_text("Signature verified")
    expect(page.locator("#claims")).to_contain_text("alice")
    screenshot(page, "signed-in")
    # ... the session was redeemed (exactly once is the service's business) ...
    assert session_status(api, issued) == "redeemed"
    # ... and no secret reached the console
    assert not [line for line in console if issued["browser_token"] in line or "eyJ" in line]


def test_denying_on_the_phone_is_said_plainly_and_a_new_code_is_one_click_away(
    page: Page, stack: StackProcess, api: APIRequestContext, screenshot: Callable[[Page, str], bytes]
) -> None:
    # Given Bob scanned the page's code
    issued = open_login(page, stack.base_url)
    phone = phone_for(api, "bob", "Bob")
    phone.call(issued["session_id"], "scan")
    expect(page.locator(".qrl-status")).to_have_text("Bob — confirm on your phone")

    # When he denies
    phone.call(issued["session_id"], "deny")

    # Then the page says so and offers to try again
    expect(page.locator(".qrl-status")).to_have_text("Login denied on your phone.")
    retry = page.get_by_role("button", name="Try again")
    expect(retry).to_be_visible()
    screenshot(page, "denied")

    # When the person clicks it, a fresh code is shown that decodes to the new session
    with page.expect_response(is_issue) as reissued:
        retry.click()
    fresh = reissued.value.json()
    wait_for_code(page, fresh["session_id"])
    assert fresh["session_id"] != issued["session_id"]
    assert decode_qr(screenshot(page, "new-code")) == [fresh["qr"]["url"]]


def test_start_over_after_a_scan_cancels_that_session(
    page: Page, stack: StackProcess, api: APIRequestContext
) -> None:
    # Given someone scanned the code
    issued = open_login(page, stack.base_url)
    phone_for(api).call(issued["session_id"], "scan")

    # When the person at the computer says "Not you? Start over"
    with page.expect_response(is_issue) as reissued:
        page.get_by_role("button", name="Not you? Start over").click()

    # Then a new code replaces it and the scanned session is cancelled (the phone can no longer confirm it)
    assert reissued.value.json()["session_id"] != issued["session_id"]
    assert wait_for_status(api, issued, "cancelled") == "cancelled"


def test_leaving_the_page_cancels_the_session(page: Page, stack: StackProcess, api: APIRequestContext) -> None:
    # Given the page shows a code
    issued = open_login(page, stack.base_url)

    # When the person navigates away
    page.goto("about:blank")

    # Then the page's DELETE (sent with keepalive on pagehide) cancelled the session
    assert wait_for_status(api, issued, "cancelled") == "cancelled"
