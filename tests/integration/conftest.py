"""Integration tier: the local stack (``python -m localcloud``) on a free loopback port.

Real HTTP and real WebSockets (aiohttp's client), the real stream poller, moto
in server mode.  One stack is shared by every test that needs no special
parameters; tests that do start their own.  Waits are bounded (``WAIT_S``);
nothing asserts on how long something took.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import pytest

from localcloud.cloud import client
from localcloud.process import StackProcess

# The shared stack's rate limit stays on, high enough for the whole tier.
SHARED_PARAMS = ("IssueRateLimitPerMinute=1000",)
# Longest wait for a push or a state change; a failure, not a timing check.
WAIT_S = 15.0
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"

T = TypeVar("T")


def _run(scenario: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(scenario, timeout=120))  # type: ignore[arg-type]


@pytest.fixture
def run() -> Callable[[Awaitable[T]], T]:
    """Runs a test's async scenario to completion (bounded)."""
    return _run


@pytest.fixture(scope="session")
def stack() -> Iterator[StackProcess]:
    with StackProcess(*SHARED_PARAMS) as process:
        yield process


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Login:
    session_id: str
    browser_token: str
    body: dict[str, Any]


class Client:
    """A browser and a phone talking to one stack over real sockets."""

    def __init__(self, base_url: str, http: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.http = http
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def request(self, method: str, path: str, *, token: str | None = None, body: Any = None,
                      headers: dict[str, str] | None = None) -> Reply:
        all_headers = {"User-Agent": BROWSER_UA, **(headers or {})}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body) if body is not None else None
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        async with self.http.request(method, self.base_url + path, data=data, headers=all_headers) as response:
            text = await response.text()
            parsed = json.loads(text) if text and response.content_type == "application/json" else text
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, parsed)

    async def create(self) -> Login:
        reply = await self.request("POST", "/sessions", body={})
        assert reply.status == 201, reply.body
        return Login(reply.body["session_id"], reply.body["browser_token"], reply.body)

    async def phone_token(self, sub: str = "alice", name: str = "Alice") -> str:
        reply = await self.request("POST", "/dev/phone-token", body={"sub": sub, "name": name})
        assert reply.status == 200, reply.body
        return str(reply.body["access_token"])

    async def phone(self, action: str, login: Login, token: str) -> Reply:
        return await self.request("POST", f"/sessions/{login.session_id}/{action}", token=token)

    async def redeem(self, login: Login) -> Reply:
        return await self.request("POST", f"/sessions/{login.session_id}/token", token=login.browser_token)

    async def socket(self, origin: str | None = None) -> aiohttp.ClientWebSocketResponse:
        url = (await self.stack_info())["websocket_url"]
        socket = await self.http.ws_connect(url, origin=origin, headers={"User-Agent": BROWSER_UA})
        self.sockets.append(socket)
        return socket

    async def subscribe(self, socket: aiohttp.ClientWebSocketResponse, login: Login) -> dict[str, Any]:
        await socket.send_json({"action": "subscribe", "session_id": login.session_id,
                                "browser_token": login.browser_token})
        return await self.next_message(socket, lambda m: m.get("session_id") == login.session_id
                                       or m.get("type") == "error")

    @staticmethod
    async def next_message(socket: aiohttp.ClientWebSocketResponse,
                           wanted: Callable[[dict[str, Any]], bool] = lambda m: True) -> dict[str, Any]:
        """The next message on the socket that ``wanted`` accepts (others are skipped)."""
        while True:
            message = await socket.receive(timeout=WAIT_S)
            assert message.type == aiohttp.WSMsgType.TEXT, f"socket closed or failed: {message}"
            parsed = json.loads(message.data)
            if wanted(parsed):
                return parsed

    async def next_status(self, socket: aiohttp.ClientWebSocketResponse, login: Login, status: str) -> dict[str, Any]:
        return await self.next_message(
            socket, lambda m: m.get("session_id") == login.session_id and m.get("status") == status)

    async def stack_info(self) -> dict[str, Any]:
        return (await self.request("GET", "/dev/stack")).body

    async def session_item(self, login: Login) -> dict[str, Any]:
        """The session's DynamoDB item, read from moto behind the API."""
        info = await self.stack_info()
        dynamodb = client("dynamodb", info["aws_endpoint"])
        item = await asyncio.to_thread(dynamodb.get_item, TableName=info["table_name"],
                                       Key={"pk": {"S": f"session#{login.session_id}"}}, ConsistentRead=True)
        return dict(item["Item"])

    async def connections_of(self, login: Login) -> set[str]:
        return set((await self.session_item(login)).get("connections", {}).get("SS", []))

    async def wait_until(self, check: Callable[[], Awaitable[bool]], explain: Callable[[], str] = str) -> None:
        for _ in range(int(WAIT_S / 0.1)):
            if await check():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{check.__name__} not reached in {WAIT_S} s {explain()}")

    async def close(self) -> None:
        for socket in self.sockets:
            await socket.close()


class Clients:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def __aenter__(self) -> Client:
        self._http = aiohttp.ClientSession()
        self._client = Client(self.base_url, self._http)
        return self._client

    async def __aexit__(self, *exc: object) -> None:
        await self._client.close()
        await self._http.close()


@pytest.fixture
def clients(stack: StackProcess) -> Callable[[], Clients]:
    """``async with clients() as api: ...`` against the shared stack."""
    return lambda: Clients(stack.base_url)


@pytest.fixture
def clients_for() -> type[Clients]:
    """``async with clients_for(base_url) as api: ...`` against a stack of the test's own."""
    return Clients
