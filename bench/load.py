"""Concurrent complete logins through the local stack, with nothing lost.

Every login runs the whole contract at once with the others, each with its
own asyncio client: ``POST /sessions``, WebSocket subscribe, a phone token
from the development identity provider, scan, confirm, the "confirmed" push
on the socket, redeem and a second redeem (which must be ``invalid_grant``).
Sockets stay open until every login is done; then a sentinel session
changes status and its push is awaited.  The stream is one ordered shard and
the poller finishes (or drops) a batch before reading on, so once the
sentinel's push is in, every push for the logins has been sent (retries
included): what the browsers hold then is all they will ever get.

A login is *lost* if it did not complete, or its browser did not receive
"confirmed" exactly once, newer than everything before it.  A *double
redeem* is any second successful redeem.  The local stack's stdout and
stderr are searched for every browser token, phone token and id_token the
logins saw: none may appear.

    python -m bench load                 (BENCH_LOAD_LOGINS=300 by default)

The tests (tests/load/test_load.py) drive a smaller run through ``drive``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from localcloud.process import StackProcess

LOGINS = int(os.environ.get("BENCH_LOAD_LOGINS", "300"))
# Load comes from 127.0.0.1 only: the per-IP issue limit is tested on its own (tests/load).
# The template's log level, not the local default (WARN): the logs searched for secrets are the deployed ones.
STACK_PARAMS = ("IssueRateLimitPerMinute=0", "LogLevel=INFO")
# Longest wait for any one reply or push: a bound, not a timing check.
WAIT_S = 90.0
MIN_SECRET_LENGTH = 43
EXPECTED_STATUSES = ["pending", "scanned", "confirmed"]  # "redeemed" is answered over HTTP, not pushed
# Reading what has already arrived on a socket after the sentinel: loopback delivers at once.
DRAIN_S = 0.5


@dataclass
class Login:
    index: int
    statuses: list[tuple[str, int]] = field(default_factory=list)  # (status, version) as received
    redeems: list[int] = field(default_factory=list)  # HTTP status of each redeem attempt
    seconds: float | None = None  # POST /sessions to the id_token in hand
    error: str | None = None

    @property
    def confirmed_once_and_latest(self) -> bool:
        versions = [v for _, v in self.statuses]
        in_order = all(a < b for a, b in itertools.pairwise(versions))
        return in_order and [s for s, _ in self.statuses].count("confirmed") == 1

    @property
    def lost(self) -> bool:
        return self.error is not None or self.seconds is None or not self.confirmed_once_and_latest


@dataclass
class Report:
    logins: list[Login]
    elapsed_s: float
    http_statuses: Counter[int]
    secrets: list[str]

    @property
    def lost(self) -> int:
        return sum(login.lost for login in self.logins)

    @property
    def double_redeems(self) -> int:
        return sum(max(0, login.redeems.count(200) - 1) for login in self.logins)

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.http_statuses.items() if status >= 500)

    @property
    def completed(self) -> list[Login]:
        return [login for login in self.logins if not login.lost]

    def percentile_ms(self, p: float) -> float:
        samples = sorted(login.seconds * 1000 for login in self.completed if login.seconds is not None)
        if not samples:
            return float("nan")
        rank = math.ceil(len(samples) * p / 100)  # nearest rank
        return samples[max(0, min(len(samples), rank) - 1)]

    def failures(self, limit: int = 5) -> list[str]:
        return [f"login {login.index}: {login.error or login.statuses} redeems={login.redeems}"
                for login in self.logins if login.lost][:limit]


class Browser:
    """The HTTP side of one run: every reply's status is counted, every secret kept."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url
        self.statuses: Counter[int] = Counter()
        self.secrets: list[str] = []

    async def call(self, method: str, path: str, *, token: str | None = None,
                   body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.request(method, self.base_url + path, json=body, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=WAIT_S)) as response:
            self.statuses[response.status] += 1
            text = await response.text()
        return response.status, json.loads(text) if text.startswith("{") else text


async def _status_message(socket: aiohttp.ClientWebSocketResponse, timeout: float) -> dict[str, Any] | None:
    """The next status message on the socket; None once it stays quiet for ``timeout``."""
    try:
        message = await socket.receive(timeout=timeout)
    except TimeoutError:
        return None
    if message.type != aiohttp.WSMsgType.TEXT:
        raise RuntimeError(f"socket ended: {message.type.name}")
    body: dict[str, Any] = json.loads(message.data)
    if body.get("type") != "status":
        raise RuntimeError(f"unexpected message {body}")
    return body


async def _until(socket: aiohttp.ClientWebSocketResponse, login: Login, status: str) -> None:
    """Read the socket until ``status`` arrives, recording every status message on the way."""
    while True:
        body = await _status_message(socket, WAIT_S)
        if body is None:
            raise RuntimeError(f"no {status} push in {WAIT_S} s")
        login.statuses.append((body["status"], body["version"]))
        if body["status"] == status:
            return


async def _drain(socket: aiohttp.ClientWebSocketResponse, login: Login) -> None:
    """Record whatever else the socket holds (a duplicate push would be here)."""
    while (body := await _status_message(socket, DRAIN_S)) is not None:
        login.statuses.append((body["status"], body["version"]))


async def _phone_token(browser: Browser, sub: str) -> str:
    status, minted = await browser.call("POST", "/dev/phone-token", body={"sub": sub, "name": sub.title()})
    if status != 200:
        raise RuntimeError(f"phone token {status} {minted}")
    browser.secrets.append(minted["access_token"])
    return str(minted["access_token"])


async def _subscribed(browser: Browser, stack: contextlib.AsyncExitStack, login: Login
                      ) -> tuple[str, str, aiohttp.ClientWebSocketResponse]:
    """A new session and a socket subscribed to it (the snapshot recorded)."""
    status, issued = await browser.call("POST", "/sessions", body={})
    if status != 201:
        raise RuntimeError(f"POST /sessions {status} {issued}")
    session_id, browser_token = issued["session_id"], issued["browser_token"]
    browser.secrets.append(browser_token)
    socket = await stack.enter_async_context(browser.http.ws_connect(issued["websocket_url"]))
    await socket.send_json({"action": "subscribe", "session_id": session_id, "browser_token": browser_token})
    await _until(socket, login, "pending")
    return session_id, browser_token, socket


async def one_login(browser: Browser, stack: contextlib.AsyncExitStack, index: int
                    ) -> tuple[Login, aiohttp.ClientWebSocketResponse | None]:
    """One complete login; its socket is left open (in ``stack``) for the final drain."""
    login, socket = Login(index), None
    try:
        started = time.perf_counter()
        session_id, browser_token, socket = await _subscribed(browser, stack, login)
        phone_token = await _phone_token(browser, f"user-{index}")
        for action in ("scan", "confirm"):
            status, body = await browser.call("POST", f"/sessions/{session_id}/{action}", token=phone_token)
            if status != 200:
                raise RuntimeError(f"{action} {status} {body}")
        await _until(socket, login, "confirmed")
        for attempt in range(2):
            status, body = await browser.call("POST", f"/sessions/{session_id}/token", token=browser_token)
            login.redeems.append(status)
            if attempt == 0 and status == 200:
                login.seconds = time.perf_counter() - started
                browser.secrets.append(body["id_token"])
            elif attempt == 0 or status != 400 or body.get("error") != "invalid_grant":
                raise RuntimeError(f"redeem #{attempt + 1} {status} {body}")
    except Exception as error:  # one lost login is a figure, not the end of the run
        login.error = f"{type(error).__name__}: {error}"
    return login, socket


async def barrier(browser: Browser, stack: contextlib.AsyncExitStack) -> None:
    """Wait until the stream has delivered everything written so far (see the module's doc)."""
    sentinel = Login(-1)
    session_id, _, socket = await _subscribed(browser, stack, sentinel)
    status, body = await browser.call("POST", f"/sessions/{session_id}/scan",
                                      token=await _phone_token(browser, "sentinel"))
    if status != 200:
        raise RuntimeError(f"sentinel scan {status} {body}")
    await _until(socket, sentinel, "scanned")


async def drive(base_url: str, logins: int) -> Report:
    """``logins`` complete logins, all at once, against the stack at ``base_url``."""
    # No connection limit: every login holds a socket open while it makes its HTTP calls.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http, contextlib.AsyncExitStack() as sockets:
        browser = Browser(http, base_url)
        started = time.perf_counter()
        results = await asyncio.gather(*(one_login(browser, sockets, i) for i in range(logins)))
        elapsed = time.perf_counter() - started
        await barrier(browser, sockets)
        await asyncio.gather(*(_drain(socket, login) for login, socket in results if socket is not None))
    for login, _ in results:
        if login.error is None and [s for s, _ in login.statuses] != EXPECTED_STATUSES:
            login.error = f"statuses {login.statuses}"
    return Report([login for login, _ in results], elapsed, browser.statuses, browser.secrets)


def leaked(secrets: Iterable[str], *logs: str) -> list[str]:
    """The secrets that appear in any of the logs (shortened, so the answer leaks nothing).

    Strings shorter than a browser token's 43 characters are no secrets of ours (tests also
    send garbage such as "a.b.c" as tokens) and would match by chance.
    """
    text = "\n".join(logs)
    return [f"{secret[:6]}..." for secret in secrets if len(secret) >= MIN_SECRET_LENGTH and secret in text]


def stack_logs(stack: StackProcess) -> tuple[str, str]:
    return "\n".join(stack.output()), stack.stderr()


def run() -> dict[str, Any]:
    with StackProcess(*STACK_PARAMS) as stack:
        report = asyncio.run(drive(stack.base_url, LOGINS))
        logs = stack_logs(stack)
    leaks = leaked(report.secrets, *logs)
    figures = {
        "logins": len(report.logins),
        "completed": len(report.completed),
        "lost": report.lost,
        "double_redeems": report.double_redeems,
        "http_5xx": report.server_errors,
        "secrets_in_logs": len(leaks),
        "throughput_logins_per_s": round(len(report.completed) / report.elapsed_s, 1),
        "p50_ms": round(report.percentile_ms(50), 1),
        "p99_ms": round(report.percentile_ms(99), 1),
        "wall_s": round(report.elapsed_s, 1),
    }
    how = (f"local stack (IssueRateLimitPerMinute=0), {LOGINS} complete logins started at once, one asyncio "
           "client each: issue, subscribe, phone token, scan, confirm, 'confirmed' push, redeem, second redeem "
           "(invalid_grant); then a sentinel push as a barrier and every socket drained (duplicates counted); "
           "end-to-end = POST /sessions to id_token; nearest-rank percentiles; 2 shared cores")
    if report.lost or report.double_redeems or leaks:
        raise AssertionError(f"load: {figures}; {report.failures()}; leaked {leaks}")
    return {
        "load": figures,
        "how": {"load": how},
        "rows": [
            ("load logins (lost, double redeems, 5xx)",
             f"{figures['logins']} ({figures['lost']}, {figures['double_redeems']}, {figures['http_5xx']})", how),
            ("load throughput logins/s", figures["throughput_logins_per_s"], f"wall {figures['wall_s']} s"),
            ("load end-to-end p50 / p99 ms", f"{figures['p50_ms']} / {figures['p99_ms']}",
             "POST /sessions to id_token, all logins at once"),
        ],
    }


if __name__ == "__main__":
    print(json.dumps(run()["load"], indent=2))
