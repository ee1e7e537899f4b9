"""DESIGN §8, "Can't scan?": the login page shows a typed code on request, the phone simulator's "Enter a code"
takes it, and the page signs in.  Two browsers, no API calls; every wait is on a state the pages expose."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from localcloud.process import StackProcess
from tests.browser.helpers import WAIT_MS, is_issue, open_login

pytestmark = pytest.mark.browser

PHONE = {"width": 1000, "height": 860}
CODE = re.compile(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}")


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def test_cant_scan_shows_a_code_the_phone_types_and_the_page_signs_in(
    page: Page, phone_page: Page, stack: StackProcess, screenshot: Callable[[Page, str], bytes]
) -> None:
    # Given the login page with its QR, which mints no code until asked
    issued = open_login(page, stack.base_url)
    widget = page.locator(f".qrl[data-session-id='{issued['session_id']}']")
    expect(widget).not_to_have_attribute("data-user-code", CODE)

    # When the person clicks "Can't scan? Use a code"
    with page.expect_response(lambda r: r.url.endswith(f"/sessions/{issued['session_id']}/user_code")) as minted:
        page.get_by_role("button", name="Can't scan? Use a code").click()
    assert minted.value.status == 200

    # Then the page shows the code, XXXX-XXXX, and exposes it on the widget's root
    expect(widget).to_have_attribute("data-user-code", CODE)
    code = widget.get_attribute("data-user-code")
    assert code is not None
    expect(page.locator(".qrl-user-code")).to_contain_text(f"Enter this code in the app: {code}")
    expect(page.get_by_role("button", name="Can't scan? Use a code")).to_be_hidden()
    screenshot(page, "login-with-code")

    # When the phone simulator signs in as Alice and types it (lower case, no dash, as people do)
    phone_page.goto(f"{stack.base_url}/phone")
    phone_page.get_by_role("button", name="Alice").click()
    phone_page.get_by_label("Or enter the code shown on the screen").fill(code.replace("-", "").lower())
    phone_page.get_by_role("button", name="Enter code").click()

    # Then the phone shows the usual review of that login, and the page says who scanned
    expect(phone_page.get_by_role("heading", name="Log in on a computer?")).to_be_visible()
    expect(page.locator(".qrl-status")).to_have_text("Alice — confirm on your phone")
    screenshot(phone_page, "phone-review-by-code")

    # When she approves, then the page is signed in as Alice
    phone_page.get_by_role("button", name="Approve").click()
    expect(phone_page.get_by_role("heading", name="You're logged in on Chrome")).to_be_visible()
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()
    expect(page.locator("#verdict")).to_contain_text("Signature verified")


def test_the_phone_simulator_says_a_wrong_code_plainly(phone_page: Page, stack: StackProcess) -> None:
    phone_page.goto(f"{stack.base_url}/phone")
    phone_page.get_by_role("button", name="Bob").click()
    field = phone_page.get_by_label("Or enter the code shown on the screen")
    field.fill("AEIO-1234")
    phone_page.get_by_role("button", name="Enter code").click()
    expect(phone_page.locator("#home-error")).to_have_text("A code is 8 letters, like WDJB-MJHT.")
    field.fill("BBBB-BBBB")
    phone_page.get_by_role("button", name="Enter code").click()
    expect(phone_page.locator("#home-error")).to_contain_text("No login is waiting for that code")


def test_a_code_on_screen_is_not_rotated_away(page: Page, short_stack: StackProcess) -> None:
    # Given a short-lived code (6 s; the widget would rotate it a fifth before expiry) whose typed code is shown
    issues: list[str] = []
    page.on("request", lambda request: issues.append(request.url) if is_issue(request) else None)
    issued = open_login(page, short_stack.base_url)
    page.get_by_role("button", name="Can't scan? Use a code").click()
    widget = page.locator(".qrl")
    expect(widget).to_have_attribute("data-user-code", CODE)

    # When its lifetime runs out, Then that session expired on screen instead of being replaced while typed
    expect(widget).to_have_attribute("data-state", "expired", timeout=15_000)
    expect(widget).to_have_attribute("data-session-id", issued["session_id"])
    assert len(issues) == 1, issues
