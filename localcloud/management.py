"""The API Gateway Management API (``@connections``) on the local gateway.

The handlers' unchanged ``apigatewaymanagementapi`` client (endpoint
``CONNECTIONS_URL``, the stage URL) posts to ``/<stage>/@connections/{id}``;
the unprefixed form is served too.  Errors are shaped so botocore's rest-json
parser finds their code in the ``x-amzn-ErrorType`` header: an unknown or
closed connection is ``GoneException`` (410).  Requests are not signature-checked.

``Faults`` is a local-only test hook (``POST /dev/faults``): the next N calls
for one connection get a chosen error status, so the notifier's failure and
retry paths run against a real socket.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from aiohttp import web

from localcloud.armed import Armed
from localcloud.routefaults import RouteFaults
from localcloud.websocket import Connection, WebSocketGateway

MAX_DATA_BYTES = 128 * 1024
# The error code botocore sees for each status (from the service model).
ERROR_CODES = {
    403: "ForbiddenException",
    410: "GoneException",
    413: "PayloadTooLargeException",
    429: "LimitExceededException",
    500: "InternalServerErrorException",
    503: "ServiceUnavailableException",
}


def error_response(status: int, message: str | None = None) -> web.Response:
    code = ERROR_CODES.get(status, "UnknownError")
    return web.Response(status=status, text=json.dumps({"message": message}), content_type="application/json",
                        headers={"x-amzn-ErrorType": code})


@dataclass
class Fault:
    status: int
    remaining: int


class Faults:
    def __init__(self) -> None:
        self.by_connection: Armed[Fault] = Armed()
        self.routes = RouteFaults()  # the gateways' route faults (routefaults.py)

    def add(self, connection_id: str, status: int, times: int) -> None:
        self.by_connection.arm(connection_id, Fault(status, times))

    def take(self, connection_id: str) -> int | None:
        """The status to fail this call with, if a fault is armed for the connection."""
        fault = self.by_connection.take(connection_id)
        return None if fault is None else fault.status


def _iso8601(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + f".{epoch_ms % 1000:03d}Z"


class ManagementApi:
    def __init__(self, gateway: WebSocketGateway, faults: Faults) -> None:
        self.gateway = gateway
        self.faults = faults

    async def handle(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        failure = self.faults.take(connection_id)
        if failure is not None:
            return error_response(failure, "Injected by localcloud /dev/faults")
        connection = self.gateway.connections.get(connection_id)
        if connection is None or connection.socket.closed:
            return error_response(410)
        if request.method == "POST":
            return await self._post(connection, await request.read())
        if request.method == "GET":
            return web.json_response({
                "connectedAt": _iso8601(connection.connected_at_ms),
                "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
                "lastActiveAt": _iso8601(connection.last_active_ms),
            })
        if request.method == "DELETE":
            await connection.socket.close(code=1000)
            return web.Response(status=204)
        return web.json_response({"message": "Not Found"}, status=404)

    @staticmethod
    async def _post(connection: Connection, data: bytes) -> web.Response:
        if len(data) > MAX_DATA_BYTES:
            return error_response(413, "Message too long")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        try:
            if text is not None:
                await connection.socket.send_str(text)
            else:
                await connection.socket.send_bytes(data)
        except ConnectionResetError:
            return error_response(410)
        return web.Response(status=200)
