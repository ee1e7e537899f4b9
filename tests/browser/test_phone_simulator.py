"""The phone simulator (/phone) against the login page (/): a whole login with two browsers and no API calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from localcloud.process import StackProcess
from tests.browser.helpers import WAIT_MS, decode_qr, open_login

pytestmark = pytest.mark.browser

PHONE = {"width": 1000, "height": 860}  # wide enough to show the simulator's device frame


@pytest.fixture
def phone_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE)  # its own storage: the phone is another device
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def test_the_phone_simulator_approves_a_login_end_to_end(
    page: Page, phone_page: Page, stack: StackProcess, screenshot: Callable[[Page, str], bytes]
) -> None:
    # Given the login page shows a code, and the phone "scans" it off the screen and follows the link
    open_login(page, stack.base_url)
    (link,) = decode_qr(screenshot(page, "login"))
    phone_page.goto(link)

    # When the phone user signs in as Alice
    expect(phone_page.get_by_text("Sign in to continue linking a device.")).to_be_visible()
    screenshot(phone_page, "phone-sign-in")
    phone_page.get_by_role("button", name="Alice").click()

    # Then the phone shows who is asking, from where, and Approve and Deny with equal prominence
    expect(phone_page.get_by_role("heading", name="Log in on a computer?")).to_be_visible()
    expect(phone_page.locator("#ctx-browser")).to_contain_text("Chrome")
    expect(phone_page.locator("#ctx-ip")).to_have_text("127.0.0.1")
    expect(phone_page.locator("#ctx-network")).to_contain_text("Same network as this phone")
    approve, deny = phone_page.get_by_role("button", name="Approve"), phone_page.get_by_role("button", name="Deny")
    approve_box, deny_box = approve.bounding_box(), deny.bounding_box()
    assert approve_box and deny_box
    assert (approve_box["width"], approve_box["height"]) == (deny_box["width"], deny_box["height"])
    # ... while the login page says who scanned
    expect(page.locator(".qrl-status")).to_have_text("Alice — confirm on your phone")
    screenshot(phone_page, "phone-review")

    # When she approves
    approve.click()

    # Then the phone confirms it and the login page is signed in as Alice with a verified token
    expect(phone_page.get_by_role("heading", name="You're logged in on Chrome")).to_be_visible()
    screenshot(phone_page, "phone-approved")
    expect(page.get_by_role("heading", name="Welcome, Alice")).to_be_visible()
    expect(page.locator("#verdict")).to_contain_text("Signature verified")
    expect(page.locator("#login-view")).to_be_hidden()
    screenshot(page, "signed-in")


def test_the_phone_simulator_denies_a_pasted_link(
    page: Page, phone_page: Page, stack: StackProcess, screenshot: Callable[[Page, str], bytes]
) -> None:
    # Given Bob is signed in on the phone, and the login page shows a code
    phone_page.goto(stack.base_url + "/phone")
    phone_page.get_by_role("button", name="Bob").click()
    expect(phone_page.get_by_role("heading", name="Link a device")).to_be_visible()
    issued = open_login(page, stack.base_url)

    # When he pastes the code's link and denies
    phone_page.get_by_label("Paste the code's link").fill(issued["qr"]["url"])
    phone_page.get_by_role("button", name="Continue").click()
    phone_page.get_by_role("button", name="Deny").click()

    # Then both sides say so plainly
    expect(phone_page.get_by_role("heading", name="Login denied")).to_be_visible()
    expect(page.locator(".qrl-status")).to_have_text("Login denied on your phone.")
    screenshot(phone_page, "phone-denied")


def test_a_phone_token_the_service_refuses_asks_to_sign_in_again_and_keeps_the_link(
    page: Page, phone_page: Page, stack: StackProcess
) -> None:
    # Given the simulator remembers a user whose token the service no longer accepts (a restarted stack)
    phone_page.goto(stack.base_url + "/phone")
    phone_page.evaluate("""localStorage.setItem("larkspur-phone-user",
                           JSON.stringify({sub: "alice", name: "Alice", token: "expired.or.foreign"}))""")
    issued = open_login(page, stack.base_url)

    # When it follows a code's link
    phone_page.goto(issued["qr"]["url"])

    # Then it asks to sign in, and after signing in goes on with that same code
    expect(phone_page.get_by_text("Sign in to continue linking a device.")).to_be_visible()
    phone_page.get_by_role("button", name="Alice").click()
    expect(phone_page.get_by_role("heading", name="Log in on a computer?")).to_be_visible()
    expect(page.locator(".qrl-status")).to_have_text("Alice — confirm on your phone")
