"""Debian's headless Chromium under Playwright, for every tier that opens pages (browser, oidc).

Chromium is ``/usr/bin/chromium`` from Debian (``.ci/run`` installs it);
Playwright never downloads a browser here.  Without it those tests skip with
the reason, except under ``CI=true``, where its absence is a failure.
A conftest takes these fixtures by importing them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing under CI=true: .ci/run installs Debian's chromium package")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); this tier needs Debian's Chromium")


# Module scope: while Playwright's sync driver lives, an event loop runs on the main thread and
# any later asyncio.run() (the integration and load tiers) would fail.
@pytest.fixture(scope="module")
def playwright(chromium_path: Path) -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium_path: Path) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
