"""Helpers of the browser tier: reading QR codes off screenshots, the login page, the phone's API calls."""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from typing import Any

import zxingcpp
from PIL import Image
from playwright.sync_api import APIRequestContext, Page, Request, Response

# Longest wait for something the page should show "within a few seconds".
WAIT_MS = 10_000


def decode_qr(png: bytes) -> list[str]:
    """The texts of every QR code in a screenshot."""
    return [barcode.text for barcode in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def is_issue(message: Request | Response) -> bool:
    """Is this the page's POST /sessions (a new code)?"""
    request = message if isinstance(message, Request) else message.request
    return request.method == "POST" and re.search(r"/sessions$", request.url) is not None


def wait_for_code(page: Page, session_id: str) -> None:
    """Until the page shows this session's code for real: decoded, faded in and painted (``data-qr-shown``),
    so a screenshot taken next sees it whatever the machine's load."""
    page.wait_for_selector(f".qrl[data-state=pending][data-qr-shown='{session_id}']")


def open_login(page: Page, base_url: str, path: str = "/") -> dict[str, Any]:
    """Opens the login page; returns the POST /sessions body it received, once its QR is shown."""
    with page.expect_response(is_issue) as issued:
        page.goto(base_url + path)
    body: dict[str, Any] = issued.value.json()
    wait_for_code(page, body["session_id"])
    return body


@dataclass
class Phone:
    """The phone app's side, as plain HTTP calls with a development identity provider token."""

    api: APIRequestContext
    token: str

    def call(self, session_id: str, action: str) -> dict[str, Any]:
        response = self.api.post(f"/sessions/{session_id}/{action}", headers={"Authorization": f"Bearer {self.token}"})
        assert response.ok, f"{action}: {response.status} {response.text()}"
        result: dict[str, Any] = response.json()
        return result


def phone_for(api: APIRequestContext, sub: str = "alice", name: str = "Alice") -> Phone:
    response = api.post("/dev/phone-token", data={"sub": sub, "name": name})
    assert response.ok, response.text()
    return Phone(api, response.json()["access_token"])


def session_status(api: APIRequestContext, issued: dict[str, Any]) -> str:
    response = api.get(f"/sessions/{issued['session_id']}",
                       headers={"Authorization": f"Bearer {issued['browser_token']}"})
    assert response.ok, response.text()
    status: str = response.json()["status"]
    return status


def wait_for_status(api: APIRequestContext, issued: dict[str, Any], wanted: str,
                    timeout_s: float = WAIT_MS / 1000) -> str:
    """The session's status once it is ``wanted``, or the last one seen when the bounded wait runs out."""
    deadline = time.monotonic() + timeout_s
    status = session_status(api, issued)
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
        status = session_status(api, issued)
    return status
