"""Local-only routes under ``/dev/``: nothing here exists on AWS.

- ``POST /dev/phone-token`` ``{"sub", "name"?}`` -> ``{"access_token"}``: a phone
  user's token from the development identity provider (DESIGN §4).
- ``GET /dev/jwks.json``: that provider's keys (the default PhoneJwksUrl).
- ``GET /dev/stack``: where things are (moto's endpoint, table, stream), for
  tests and scripts that inspect the state behind the API.
- ``POST /dev/faults`` ``{"connection_id", "status", "times"}``: the next
  ``times`` Management API calls for that connection fail with ``status``.
- ``POST /dev/stream`` ``{"paused": bool}``: hold the stream poller, so that
  several changes reach the notifier in one batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from localcloud.devidp import DevIdentityProvider
from localcloud.management import Faults
from localcloud.poller import StreamPoller

MAX_SUBJECT_LENGTH = 256


def _invalid(message: str) -> web.Response:
    return web.json_response({"error": "invalid_request", "message": message}, status=400)


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        value = json.loads(await request.read() or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def routes(idp: DevIdentityProvider, faults: Faults, poller: StreamPoller,
           stack_info: Callable[[], dict[str, Any]]) -> list[web.RouteDef]:
    async def phone_token(request: web.Request) -> web.Response:
        body = await _json_object(request)
        if body is None:
            return _invalid("Send a JSON object {\"sub\": ..., \"name\": ...}.")
        sub, name = body.get("sub"), body.get("name")
        if not isinstance(sub, str) or not sub.strip() or len(sub) > MAX_SUBJECT_LENGTH:
            return _invalid("sub must be a non-empty string.")
        if name is not None and not isinstance(name, str):
            return _invalid("name must be a string.")
        return web.json_response({"access_token": idp.mint(sub.strip(), name), "token_type": "Bearer"},
                                 headers={"Cache-Control": "no-store"})

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(idp.jwks())

    async def stack(request: web.Request) -> web.Response:
        return web.json_response(stack_info())

    async def add_fault(request: web.Request) -> web.Response:
        body = await _json_object(request)
        if body is None or not isinstance(body.get("connection_id"), str):
            return _invalid("Send {\"connection_id\": ..., \"status\": 500, \"times\": 1}.")
        status, times = body.get("status", 500), body.get("times", 1)
        if not isinstance(status, int) or not 400 <= status < 600 or not isinstance(times, int) or times < 1:
            return _invalid("status must be an HTTP error status and times a positive integer.")
        faults.add(body["connection_id"], status, times)
        return web.Response(status=204)

    async def list_faults(request: web.Request) -> web.Response:
        return web.json_response({cid: {"status": f.status, "remaining": f.remaining}
                                  for cid, f in faults.by_connection.items()})

    async def stream(request: web.Request) -> web.Response:
        body = await _json_object(request)
        if body is None or not isinstance(body.get("paused"), bool):
            return _invalid("Send {\"paused\": true|false}.")
        if body["paused"]:
            poller.paused.set()
        else:
            poller.paused.clear()
            poller.wake()
        return web.json_response({"paused": poller.paused.is_set()})

    return [
        web.post("/dev/phone-token", phone_token),
        web.get("/dev/jwks.json", jwks),
        web.get("/dev/stack", stack),
        web.post("/dev/faults", add_fault),
        web.get("/dev/faults", list_faults),
        web.post("/dev/stream", stream),
    ]
