"""Local-only routes under ``/dev/``: nothing here exists on AWS.

- ``POST /dev/phone-token`` ``{"sub", "name"?}`` -> ``{"access_token"}``: a phone
  user's token from the development identity provider (DESIGN §4).
- ``GET /dev/jwks.json``: that provider's keys (the default PhoneJwksUrl).
- ``POST /dev/clients`` ``{"redirect_uris": [...], "public": false}`` -> 201
  ``{"client_id", "client_secret"?}``: registers an OpenID Provider client (DESIGN §8),
  as ``scripts/oidc_clients.py register`` does against a deployed stack.
- ``PUT /dev/secrets/{name}`` ``{...}``: creates or updates that Secrets Manager
  secret in moto (the introspection client's credentials, DESIGN §6).
- ``GET /dev/stack``: where things are (moto's endpoint, table, stream), for
  tests and scripts that inspect the state behind the API.
- ``POST /dev/faults`` ``{"connection_id", "status", "times"}``: the next
  ``times`` Management API calls for that connection fail with ``status``.
- ``POST /dev/faults`` ``{"operation": "dynamodb:UpdateItem", "error":
  "ProvisionedThroughputExceededException", "status": 400, "times"}``: the
  next ``times`` calls of that AWS operation (dynamodb, dynamodbstreams, kms)
  fail with that error before reaching moto (awsgate.py).
- ``POST /dev/faults`` ``{"route": "subscribe" | "POST /sessions/{session_id}/token",
  "times", "status"?, "body"?}``: the next ``times`` requests to that route fail
  as a failed function does behind API Gateway, or (HTTP, with ``status`` and a
  JSON ``body``) get that answer instead (routefaults.py).
- ``GET /dev/faults`` lists what is armed; ``DELETE /dev/faults`` disarms all.
- ``POST /dev/stream`` ``{"paused": bool}``: hold the stream poller, so that
  several changes reach the notifier in one batch; ``{"restart": true}``:
  restart the poller and the notifier's containers mid-stream (it resumes
  after its checkpoints).  ``GET /dev/stream``: paused, restarts, checkpoints.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from localcloud.awsgate import AwsGate, UnknownOperation
from localcloud.devidp import MAX_REQUEST_BYTES, DevIdentityProvider
from localcloud.management import Faults
from localcloud.poller import StreamPoller
from localcloud.routefaults import UnknownRoute


def _invalid(message: str) -> web.Response:
    return web.json_response({"error": "invalid_request", "message": message}, status=400)


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        value = json.loads(await request.read() or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def routes(idp: DevIdentityProvider, faults: Faults, gate: AwsGate, poller: StreamPoller,
           restart_stream: Callable[[], None], stack_info: Callable[[], dict[str, Any]]) -> list[web.RouteDef]:
    async def phone_token(request: web.Request) -> web.Response:
        # One byte past the limit is enough to know the body is too large.
        status, answer = idp.token_response(await request.content.read(MAX_REQUEST_BYTES + 1))
        return web.json_response(answer, status=status, headers={"Cache-Control": "no-store"})

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(idp.jwks())

    async def register_client(request: web.Request) -> web.Response:
        body = await _json_object(request)
        if body is None:
            return _invalid("Send a JSON object {\"redirect_uris\": [...], \"public\": false}.")
        from localcloud.cloud import client as aws_client
        from qrlogin.oauth.clients import ClientRegistry, InvalidClientMetadata  # the functions' own rules

        info = stack_info()
        registry = ClientRegistry(info["table_name"], aws_client("dynamodb", info["aws_endpoint"]))
        try:
            client, secret = await asyncio.get_running_loop().run_in_executor(None, lambda: registry.register(
                body.get("redirect_uris"), public=body.get("public", False), name=body.get("client_name", ""),
                id_token_signed_response_alg=body.get("id_token_signed_response_alg"), now=int(time.time())))
        except InvalidClientMetadata as problem:
            return web.json_response({"error": "invalid_client_metadata", "message": str(problem)}, status=400)
        answer = {**client.describe(), **({"client_secret": secret} if secret else {})}
        return web.json_response(answer, status=201, headers={"Cache-Control": "no-store"})

    async def stack(request: web.Request) -> web.Response:
        return web.json_response(stack_info())

    async def put_secret(request: web.Request) -> web.Response:
        """A Secrets Manager secret in moto, e.g. the introspection client's {"client_id", "client_secret"}."""
        body = await _json_object(request)
        if body is None:
            return _invalid("Send the secret as a JSON object, e.g. {\"client_id\": ..., \"client_secret\": ...}.")
        from localcloud.cloud import client as aws_client

        secrets = aws_client("secretsmanager", stack_info()["aws_endpoint"])
        name, value = request.match_info["name"], json.dumps(body)

        def put() -> None:
            try:
                secrets.put_secret_value(SecretId=name, SecretString=value)
            except secrets.exceptions.ResourceNotFoundException:
                secrets.create_secret(Name=name, SecretString=value)

        await asyncio.get_running_loop().run_in_executor(None, put)
        return web.Response(status=204)

    async def add_fault(request: web.Request) -> web.Response:
        body = await _json_object(request)
        if body is not None and "route" in body:
            return route_fault(body)
        if body is None or not (isinstance(body.get("connection_id"), str) or isinstance(body.get("operation"), str)):
            return _invalid("Send {\"connection_id\": ..., \"status\": 500, \"times\": 1} or "
                            "{\"operation\": \"dynamodb:UpdateItem\", \"error\": ..., \"status\": 400, \"times\": 1}.")
        status, times = body.get("status", 500), body.get("times", 1)
        if not isinstance(status, int) or not 400 <= status < 600 or not isinstance(times, int) or times < 1:
            return _invalid("status must be an HTTP error status and times a positive integer.")
        if "operation" in body:
            error = body.get("error")
            if not isinstance(error, str) or not error.isalnum():
                return _invalid("error must be an AWS error code such as ProvisionedThroughputExceededException.")
            try:
                gate.add_fault(body["operation"], error, status, times)
            except UnknownOperation as problem:
                return _invalid(str(problem))
        else:
            faults.add(body["connection_id"], status, times)
        return web.Response(status=204)

    def route_fault(body: dict[str, Any]) -> web.Response:
        route, times, status, answer = body["route"], body.get("times", 1), body.get("status"), body.get("body")
        if not isinstance(route, str) or not isinstance(times, int) or isinstance(times, bool) or times < 1:
            return _invalid("route must be a route key such as \"subscribe\" and times a positive integer.")
        if (status is None) != (answer is None) or not (status is None or (
                isinstance(status, int) and 200 <= status < 600 and isinstance(answer, dict))):
            return _invalid("status (an HTTP status) and body (a JSON object) go together, or neither is given.")
        try:
            faults.routes.add(route, times, status, answer)
        except UnknownRoute as problem:
            return _invalid(str(problem))
        return web.Response(status=204)

    async def list_faults(request: web.Request) -> web.Response:
        listed: dict[str, dict[str, Any]] = {cid: {"status": f.status, "remaining": f.remaining}
                                             for cid, f in faults.by_connection.items()}
        listed.update({target: {"status": f.status, "error": f.error, "remaining": f.remaining}
                       for target, f in gate.faults.items()})
        listed.update({route: {"status": f.status, "remaining": f.remaining}
                       for route, f in faults.routes.items()})
        return web.json_response(listed)

    async def clear_faults(request: web.Request) -> web.Response:
        faults.by_connection.clear()
        faults.routes.clear()
        gate.faults.clear()
        return web.Response(status=204)

    def stream_state() -> dict[str, Any]:
        return {"paused": poller.paused.is_set(), "restarts": poller.restarts, "checkpoints": dict(poller.checkpoints)}

    async def stream(request: web.Request) -> web.Response:
        body = await _json_object(request)
        paused, restart = (body or {}).get("paused"), (body or {}).get("restart", False)
        if body is None or not isinstance(restart, bool) or not (isinstance(paused, bool) or
                                                                 (paused is None and restart)):
            return _invalid("Send {\"paused\": true|false} and/or {\"restart\": true}.")
        if paused is True:
            poller.paused.set()
        if restart:
            await asyncio.get_running_loop().run_in_executor(None, restart_stream)
        if paused is False:
            poller.paused.clear()
            poller.wake()
        return web.json_response(stream_state())

    async def stream_status(request: web.Request) -> web.Response:
        return web.json_response(stream_state())

    return [
        web.post("/dev/phone-token", phone_token),
        web.get("/dev/jwks.json", jwks),
        web.post("/dev/clients", register_client),
        web.get("/dev/stack", stack),
        web.put("/dev/secrets/{name:[A-Za-z0-9/_+=.@-]+}", put_secret),
        web.post("/dev/faults", add_fault),
        web.get("/dev/faults", list_faults),
        web.delete("/dev/faults", clear_faults),
        web.post("/dev/stream", stream),
        web.get("/dev/stream", stream_status),
    ]
