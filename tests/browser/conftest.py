"""Browser tier: headless Debian Chromium driven by Playwright against the local stack.

Chromium is ``/usr/bin/chromium`` from Debian (``.ci/run`` installs it);
Playwright never downloads a browser here.  Without it these tests skip with
the reason, except under ``CI=true``, where its absence is a failure.

Every wait is bounded (``WAIT_MS``): a wait that runs out is a failure, not a
timing measurement.  Screenshots land in ``tests/artifacts/browser/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import APIRequestContext, Browser, BrowserContext, Page, Playwright, expect

from localcloud.process import StackProcess
from localcloud.template import ROOT
from tests.browser.helpers import WAIT_MS
from tests.chromium import browser, chromium_path, playwright  # noqa: F401 (fixtures)

ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
SHARED_PARAMS = ("IssueRateLimitPerMinute=1000",)
# Short-lived codes for rotation: rotation happens a fifth of the lifetime before expiry.
SHORT_TTL_PARAMS = ("SessionTtlSeconds=6", "IssueRateLimitPerMinute=1000")
DESKTOP = {"width": 1280, "height": 800}


# expect() waits 5 s unless told otherwise; a busy machine gets the tier's one bound, as every other wait does.
expect.set_options(timeout=WAIT_MS)


@pytest.fixture(scope="package")
def stack(chromium_path: Path) -> Iterator[StackProcess]:
    with StackProcess(*SHARED_PARAMS) as process:
        yield process


@pytest.fixture(scope="package")
def short_stack(chromium_path: Path) -> Iterator[StackProcess]:
    with StackProcess(*SHORT_TTL_PARAMS) as process:
        yield process


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(WAIT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def console(page: Page) -> list[str]:
    """Everything the page writes to its console (and its uncaught errors)."""
    lines: list[str] = []
    page.on("console", lambda message: lines.append(message.text))
    page.on("pageerror", lambda error: lines.append(f"pageerror: {error}"))
    return lines


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], bytes]:
    """Takes a screenshot and keeps it as an artifact named after the test."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"\W+", "_", request.node.name)

    def take(page: Page, label: str) -> bytes:
        return page.screenshot(path=ARTIFACTS / f"{test_name}--{label}.png")

    return take


@pytest.fixture
def api(playwright: Playwright, stack: StackProcess) -> Iterator[APIRequestContext]:
    context = playwright.request.new_context(base_url=stack.base_url)
    yield context
    context.dispose()


@pytest.fixture
def short_api(playwright: Playwright, short_stack: StackProcess) -> Iterator[APIRequestContext]:
    context = playwright.request.new_context(base_url=short_stack.base_url)
    yield context
    context.dispose()
