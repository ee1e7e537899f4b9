"""The WebSocket API: routes from the template's AWS::ApiGatewayV2 resources.

As API Gateway does it:
- ``$connect`` runs before the handshake completes; a non-2xx answer refuses
  it (HTTP 403), a function error too (HTTP 500).
- A message goes to the route its ``RouteSelectionExpression``
  (``$request.body.<field>``) names, or to ``$default`` when the body is not
  JSON or names no known route.
- A route with a route response (two-way) sends the integration response's
  ``body`` back to the caller as a text frame; others send nothing.
- ``$disconnect`` runs once the socket is closed, from either side.
- Messages over 128 KiB close the socket (1009); 10 idle minutes close it.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from localcloud.events import new_connection_id, websocket_event
from localcloud.resolve import Resolver
from localcloud.routefaults import RouteFaults
from localcloud.runtime import InvocationError, Runtime
from localcloud.template import resources_of_type

MAX_MESSAGE_BYTES = 128 * 1024
IDLE_TIMEOUT_S = 600


@dataclass(frozen=True)
class WebSocketRoute:
    function_name: str
    two_way: bool  # has a route response: the function's reply goes back to the caller


@dataclass(frozen=True)
class WebSocketApi:
    stage: str
    selection_field: str
    routes: dict[str, WebSocketRoute]


def websocket_api(template: dict[str, Any], resolver: Resolver) -> WebSocketApi:
    """The template's one WebSocket API: stage, route selection and routes."""
    ((api_id, api),) = [(name, r) for name, r in resources_of_type(template, "AWS::ApiGatewayV2::Api").items()
                        if r["Properties"]["ProtocolType"] == "WEBSOCKET"]
    expression = api["Properties"]["RouteSelectionExpression"]
    found = re.fullmatch(r"\$request\.body\.(\w+)", expression)
    if not found:
        raise ValueError(f"route selection {expression!r}: only $request.body.<field> is supported locally")
    ((stage_props),) = [r["Properties"] for r in resources_of_type(template, "AWS::ApiGatewayV2::Stage").values()
                        if r["Properties"]["ApiId"] == {"Ref": api_id}]
    integrations = resources_of_type(template, "AWS::ApiGatewayV2::Integration")
    responses = {r["Properties"]["RouteId"]["Ref"]
                 for r in resources_of_type(template, "AWS::ApiGatewayV2::RouteResponse").values()}
    routes = {}
    for name, resource in resources_of_type(template, "AWS::ApiGatewayV2::Route").items():
        props = resource["Properties"]
        if props["ApiId"] != {"Ref": api_id}:
            continue
        integration = re.fullmatch(r"integrations/\$\{(\w+)\}", props["Target"]["Fn::Sub"])
        if not integration:
            raise ValueError(f"route {name}: target {props['Target']} is not a local integration")
        uri = integrations[integration.group(1)]["Properties"]["IntegrationUri"]["Fn::Sub"]
        function = re.search(r"\$\{(\w+)\.Arn\}", uri)
        if not function:
            raise ValueError(f"route {name}: integration {integration.group(1)} does not invoke a function")
        two_way = "RouteResponseSelectionExpression" in props and name in responses
        routes[props["RouteKey"]] = WebSocketRoute(function.group(1), two_way)
    return WebSocketApi(str(resolver.resolve(stage_props["StageName"])), found.group(1), routes)


@dataclass
class Connection:
    connection_id: str
    socket: web.WebSocketResponse
    connected_at_ms: int
    source_ip: str
    user_agent: str
    last_active_ms: int = field(default=0)


class WebSocketGateway:
    def __init__(self, api: WebSocketApi, runtime: Runtime, faults: RouteFaults | None = None) -> None:
        self.api = api
        self.runtime = runtime
        self.connections: dict[str, Connection] = {}
        self.faults = faults or RouteFaults()
        self.faults.known.update(key for key in api.routes if key not in ("$connect", "$disconnect"))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, receive_timeout=IDLE_TIMEOUT_S)
        if not socket.can_prepare(request).ok:
            return web.json_response({"message": "Upgrade Required"}, status=426)
        now_ms = int(time.time() * 1000)
        connection = Connection(new_connection_id(), socket, now_ms, request.remote or "",
                                request.headers.get("User-Agent", ""), now_ms)
        # API Gateway hands $connect the headers as the client spelled them.
        headers = {name: ", ".join(request.headers.getall(name)) for name in request.headers}
        accepted = await self._connect(connection, headers, request.host)
        if accepted is not None:
            return accepted
        await socket.prepare(request)
        self.connections[connection.connection_id] = connection
        try:
            while True:
                try:
                    message = await socket.receive()
                except TimeoutError:
                    await socket.close(code=1001, message=b"Going away")
                    break
                if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    data = message.data if message.type == WSMsgType.TEXT else message.data.decode("utf-8", "replace")
                    connection.last_active_ms = int(time.time() * 1000)
                    await self._message(connection, data, request.host)
        finally:
            self.connections.pop(connection.connection_id, None)
            await self._disconnect(connection, request.host)
        return socket

    async def _connect(self, connection: Connection, headers: dict[str, str], host: str) -> web.Response | None:
        """None when the connection is accepted, else the handshake's refusal."""
        route = self.api.routes.get("$connect")
        if route is None:
            return None
        event = self._event("$connect", connection, host, headers=headers)
        try:
            result = await self.runtime.invoke(route.function_name, event, "$connect")
        except InvocationError:
            return web.json_response({"message": "Internal server error"}, status=500)
        status = result.get("statusCode", 200) if isinstance(result, dict) else 200
        if not 200 <= int(status) < 300:
            return web.json_response({"message": "Forbidden"}, status=403)
        return None

    async def _message(self, connection: Connection, body: str, host: str) -> None:
        route_key = self.select_route(body)
        route = self.api.routes.get(route_key)
        event = self._event(route_key, connection, host, body=body)
        if route is None:  # no $default route: API Gateway answers for itself
            await self._send(connection, self._gateway_error("Forbidden", connection, event))
            return
        try:
            if self.faults.take(route_key) is not None:  # /dev/faults: this invocation fails
                raise InvocationError(route.function_name, "injected by localcloud /dev/faults")
            result = await self.runtime.invoke(route.function_name, event, route_key)
        except InvocationError:
            if route.two_way:
                await self._send(connection, self._gateway_error("Internal server error", connection, event))
            return
        if route.two_way and isinstance(result, dict) and isinstance(result.get("body"), str):
            await self._send(connection, result["body"])

    async def _disconnect(self, connection: Connection, host: str) -> None:
        route = self.api.routes.get("$disconnect")
        if route is None:
            return
        with contextlib.suppress(InvocationError):  # nobody to tell: the socket is gone (traceback on stderr)
            await self.runtime.invoke(route.function_name, self._event("$disconnect", connection, host), "$disconnect")

    def select_route(self, body: str) -> str:
        try:
            message = json.loads(body)
        except ValueError:
            return "$default"
        key = message.get(self.api.selection_field) if isinstance(message, dict) else None
        if isinstance(key, str) and key in self.api.routes and key not in ("$connect", "$disconnect"):
            return key
        return "$default"

    def _event(self, route_key: str, connection: Connection, host: str, *, body: str | None = None,
               headers: dict[str, str] | None = None) -> dict[str, Any]:
        return websocket_event(route_key=route_key, connection_id=connection.connection_id,
                               connected_at_ms=connection.connected_at_ms, body=body, headers=headers,
                               source_ip=connection.source_ip, domain_name=host, stage=self.api.stage)

    @staticmethod
    def _gateway_error(message: str, connection: Connection, event: dict[str, Any]) -> str:
        return json.dumps({"message": message, "connectionId": connection.connection_id,
                           "requestId": event["requestContext"]["requestId"]})

    @staticmethod
    async def _send(connection: Connection, text: str) -> None:
        if not connection.socket.closed:
            with contextlib.suppress(ConnectionResetError):  # the client left; the receive loop sees the close
                await connection.socket.send_str(text)

    async def close_all(self) -> None:
        for connection in list(self.connections.values()):
            await connection.socket.close(code=1001, message=b"Going away")
