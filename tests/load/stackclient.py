"""A browser and a phone talking to a local stack over real sockets, for the load/fault tier.

Every secret a client sees (browser tokens, phone tokens, id_tokens) goes into
``SECRETS``; conftest.py searches every stack's logs for all of them when
the stack stops.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from localcloud.cloud import client

# Longest wait for a reply, a push or a state change: a bound for failures, not a timing check.
WAIT_S = 20.0
SECRETS: list[str] = []
# Load comes from 127.0.0.1 only; the issue rate limit has its own test and stack.
NO_RATE_LIMIT = "IssueRateLimitPerMinute=0"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Login:
    session_id: str
    browser_token: str


class Api:
    def __init__(self, base_url: str, http: aiohttp.ClientSession) -> None:
        self.base_url = base_url
        self.http = http
        self._info: dict[str, Any] | None = None

    async def call(self, method: str, path: str, *, token: str | None = None, body: Any = None,
                   data: bytes | str | None = None, headers: dict[str, str] | None = None,
                   encoded: bool = False) -> Reply:
        """One request; ``encoded`` sends ``path`` exactly as written (no normalizing of ``..`` or %)."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body)
            all_headers.setdefault("Content-Type", "application/json")
        url = URL(self.base_url + path, encoded=True) if encoded else self.base_url + path
        async with self.http.request(method, url, data=data, headers=all_headers,
                                     timeout=aiohttp.ClientTimeout(total=WAIT_S)) as response:
            text = await response.text(errors="replace")
            parsed: Any = text
            if response.content_type == "application/json" and text:
                parsed = json.loads(text)
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, parsed)

    async def create(self) -> Login:
        reply = await self.call("POST", "/sessions", body={})
        assert reply.status == 201, reply.body
        SECRETS.append(reply.body["browser_token"])
        return Login(reply.body["session_id"], reply.body["browser_token"])

    async def phone_token(self, sub: str = "alice", name: str = "Alice") -> str:
        reply = await self.call("POST", "/dev/phone-token", body={"sub": sub, "name": name})
        assert reply.status == 200, reply.body
        SECRETS.append(reply.body["access_token"])
        return str(reply.body["access_token"])

    async def phone(self, action: str, login: Login, token: str) -> Reply:
        return await self.call("POST", f"/sessions/{login.session_id}/{action}", token=token)

    async def redeem(self, login: Login) -> Reply:
        reply = await self.call("POST", f"/sessions/{login.session_id}/token", token=login.browser_token)
        if reply.status == 200:
            SECRETS.append(reply.body["id_token"])
        return reply

    async def cancel(self, login: Login) -> Reply:
        return await self.call("DELETE", f"/sessions/{login.session_id}", token=login.browser_token)

    async def confirmed(self, sub: str = "alice") -> tuple[Login, str]:
        """A session scanned and confirmed by ``sub``; returns it and the phone token."""
        login, token = await self.create(), await self.phone_token(sub, sub.title())
        for action in ("scan", "confirm"):
            assert (await self.phone(action, login, token)).status == 200
        return login, token

    # -- the WebSocket -----------------------------------------------------

    async def socket(self, origin: str | None = None) -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect((await self.stack_info())["websocket_url"], origin=origin)

    async def subscribe(self, socket: aiohttp.ClientWebSocketResponse, login: Login) -> dict[str, Any]:
        await socket.send_json({"action": "subscribe", "session_id": login.session_id,
                                "browser_token": login.browser_token})
        return await next_message(socket)

    # -- behind the API ----------------------------------------------------

    async def stack_info(self) -> dict[str, Any]:
        if self._info is None:
            self._info = (await self.call("GET", "/dev/stack")).body
        return self._info

    async def item(self, login: Login) -> dict[str, Any]:
        """The session's DynamoDB item, read from moto behind the API (strongly consistent)."""
        info = await self.stack_info()
        dynamodb = client("dynamodb", info["aws_endpoint"])
        found = await asyncio.to_thread(dynamodb.get_item, TableName=info["table_name"],
                                        Key={"pk": {"S": f"session#{login.session_id}"}}, ConsistentRead=True)
        return dict(found["Item"])

    async def state(self, login: Login) -> tuple[str, int]:
        """(stored status, version) of the session."""
        item = await self.item(login)
        return item["status"]["S"], int(item["version"]["N"])

    async def connections_of(self, login: Login) -> set[str]:
        return set((await self.item(login)).get("connections", {}).get("SS", []))

    async def fault(self, **spec: Any) -> None:
        reply = await self.call("POST", "/dev/faults", body=spec)
        assert reply.status == 204, reply.body

    async def faults(self) -> dict[str, Any]:
        return dict((await self.call("GET", "/dev/faults")).body)

    async def clear_faults(self) -> None:
        assert (await self.call("DELETE", "/dev/faults")).status == 204

    async def stream(self, **change: bool) -> dict[str, Any]:
        reply = await self.call("POST", "/dev/stream", body=change)
        assert reply.status == 200, reply.body
        return dict(reply.body)


async def next_message(socket: aiohttp.ClientWebSocketResponse,
                       wanted: Callable[[dict[str, Any]], bool] = lambda m: True) -> dict[str, Any]:
    """The next message on the socket that ``wanted`` accepts (others are skipped)."""
    while True:
        message = await socket.receive(timeout=WAIT_S)
        assert message.type == aiohttp.WSMsgType.TEXT, f"socket closed or failed: {message}"
        parsed: dict[str, Any] = json.loads(message.data)
        if wanted(parsed):
            return parsed


async def next_status(socket: aiohttp.ClientWebSocketResponse, login: Login, status: str) -> dict[str, Any]:
    return await next_message(socket, lambda m: m.get("session_id") == login.session_id and m.get("status") == status)


async def wait_until(check: Callable[[], Awaitable[bool]], explain: Callable[[], str] = str) -> None:
    for _ in range(int(WAIT_S / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{check.__name__} not reached in {WAIT_S} s {explain()}")


class Clients:
    """``async with Clients(base_url) as api:`` one HTTP session (and its sockets) per scenario."""

    def __init__(self, base_url: str, **connector: Any) -> None:
        self.base_url = base_url
        self.connector = connector

    async def __aenter__(self) -> Api:
        self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, **self.connector))
        return Api(self.base_url, self._http)

    async def __aexit__(self, *exc: object) -> None:
        await self._http.close()
