"""The whole local stack, assembled from template.yaml: moto, functions, gateway, poller.

One port serves everything (DESIGN §4):

    /                        the demo login page (web/index.html)
    /phone                   the phone simulator (web/phone.html)
    /<stage>                 the WebSocket API (WEBSOCKET_URL)
    /<stage>/@connections/…  the Management API (CONNECTIONS_URL), also /@connections/…
    /dev/…                   local-only helpers (devapi.py)
    anything else            the HTTP API, then files in web/, then 404
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

from aiohttp import web

from localcloud import devapi
from localcloud.cloud import STACK_NAME, LocalCloud, Resources, client
from localcloud.devidp import DevIdentityProvider
from localcloud.gateway import HttpGateway
from localcloud.management import Faults, ManagementApi
from localcloud.poller import StreamPoller, stream_mapping
from localcloud.resolve import Resolver, parameters
from localcloud.runtime import DEFAULT_MAX_CONTAINERS, Runtime, function_environment, local_environment
from localcloud.template import ROOT, load_template, resources_of_type
from localcloud.websocket import WebSocketGateway, websocket_api

WEB_DIR = ROOT / "web"
PAGES = {"/": "index.html", "/phone": "phone.html"}


def url_host(host: str) -> str:
    """The host as URLs should name it (a wildcard bind is reached on loopback)."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (naming the wildcard, not binding it)
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def local_ids(template: dict[str, Any], resources: Resources) -> tuple[dict[str, str], dict[str, str]]:
    """(Ref values, GetAtt values) of the template's resources, as made locally."""
    (table,) = resources_of_type(template, "AWS::DynamoDB::Table")
    refs = {table: resources.table_name, **{key: arn.rsplit("/", 1)[-1] for key, arn in resources.key_arns.items()}}
    for api in [*resources_of_type(template, "AWS::ApiGatewayV2::Api"),
                *resources_of_type(template, "AWS::Serverless::HttpApi")]:
        refs[api] = api.lower()  # stands in for the API id; URLs built from it are localized
    for function in resources_of_type(template, "AWS::Serverless::Function"):
        refs[function] = f"{STACK_NAME}-{function}"
    attributes = {f"{table}.Arn": resources.table_arn, f"{table}.StreamArn": resources.stream_arn,
                  **{f"{key}.Arn": arn for key, arn in resources.key_arns.items()}}
    return refs, attributes


class LocalStack:
    def __init__(self, host: str = "127.0.0.1", port: int = 3000, overrides: dict[str, str] | None = None,
                 max_containers: int = DEFAULT_MAX_CONTAINERS) -> None:
        self.host = host
        self.port = port
        self.overrides = dict(overrides or {})
        self.template = load_template()
        self.cloud = LocalCloud(self.template)
        self.runtime = Runtime(self.template, max_containers)
        self.idp = DevIdentityProvider()
        self.faults = Faults()
        self.base_url = ""
        self.parameters: dict[str, str] = {}
        self.environment: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self._poller: StreamPoller | None = None
        self._websocket: WebSocketGateway | None = None

    async def start(self) -> str:
        """Start everything; returns the base URL once it serves."""
        listener = socket.create_server((self.host, self.port))
        self.base_url = f"http://{url_host(self.host)}:{listener.getsockname()[1]}"
        try:
            # Bad parameters fail before anything starts.
            self.parameters = parameters(self.template, self._local_defaults(), self.overrides)
            resources = await asyncio.get_running_loop().run_in_executor(None, self.cloud.start, self.parameters)
            app = self._assemble(resources)
            assert self._poller is not None
            self._poller.start()  # LATEST is taken now: before the first request can write
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await self._runner.setup()
            await web.SockSite(self._runner, listener).start()
        except BaseException:
            listener.close()
            await self.stop()
            raise
        return self.base_url

    def _local_defaults(self) -> dict[str, str]:
        """Parameter values that differ locally: any origin, the development identity provider,
        QR links that open the phone simulator, and WARN logs (the invocation lines stay readable;
        ``--param LogLevel=DEBUG`` logs as a deployed stack with that level does)."""
        return {
            "AllowedOrigins": "*",
            "LogLevel": "WARN",
            "QrLinkTemplate": f"{self.base_url}/phone?session={{session_id}}",
            "PhoneJwksUrl": f"{self.base_url}/dev/jwks.json",
            "PhoneJwtIssuer": self.idp.issuer,
            "PhoneJwtAudience": self.idp.audience,
        }

    def _assemble(self, resources: Resources) -> web.Application:
        template = self.template
        refs, attributes = local_ids(template, resources)
        resolver = Resolver(template, self.parameters, refs, attributes, STACK_NAME)
        self.environment = {**function_environment(template, resolver, self.base_url), **local_environment(resources)}
        self.runtime.start(self.environment)

        (table,) = resources_of_type(template, "AWS::DynamoDB::Table")
        mapping = stream_mapping(template, table)
        self._poller = poller = StreamPoller(
            client("dynamodbstreams", resources.endpoint), resources.stream_arn, mapping,
            lambda event, label: self.runtime.invoke_sync(mapping.function_name, event, label),
        )
        self.runtime.after_invocation.append(poller.wake)

        def restart_stream() -> None:
            poller.restart(while_stopped=lambda: self.runtime.recycle(mapping.function_name))

        self._websocket = websocket = WebSocketGateway(websocket_api(template, resolver), self.runtime,
                                                       self.faults.routes)
        management = ManagementApi(websocket, self.faults)
        http = HttpGateway(template, resolver, self.runtime, self.faults.routes)
        stage = websocket.api.stage

        def stack_info() -> dict[str, Any]:
            return {"aws_endpoint": resources.endpoint, "region": self.environment["AWS_REGION"],
                    "table_name": resources.table_name, "stream_arn": resources.stream_arn,
                    "key_arn": resources.key_arn, "key_arns": resources.key_arns,
                    "signing_key_mode": self.parameters["SigningKeyMode"],
                    "websocket_url": self.environment.get("WEBSOCKET_URL"),
                    "connections_url": self.environment.get("CONNECTIONS_URL")}

        async def fallback(request: web.Request) -> web.StreamResponse:
            if request.method in ("GET", "HEAD") and not http.has_route(request.method, request.rel_url.raw_path):
                page = web_file(PAGES.get(request.path, request.path))
                if page is not None:
                    return web.FileResponse(page, headers={"Cache-Control": "no-cache"})
            return await http.handle(request)

        app = web.Application(client_max_size=10 * 1024 * 1024)  # HTTP API's payload limit
        app.add_routes(devapi.routes(self.idp, self.faults, self.cloud.gate, poller, restart_stream, stack_info))
        app.add_routes([
            web.get(f"/{stage}", websocket.handle),
            web.route("*", f"/{stage}/@connections/{{connection_id:.+}}", management.handle),
            web.route("*", "/@connections/{connection_id:.+}", management.handle),
            # Any path, an encoded CR or LF in it too (the gateway answers what no route takes).
            web.route("*", r"/{tail:[\s\S]*}", fallback),
        ])
        return app

    async def stop(self) -> None:
        if self._poller is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._poller.stop)
        if self._websocket is not None:
            await self._websocket.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
        self.runtime.stop()
        self.cloud.stop()


def web_file(name: str) -> Path | None:
    """A file under web/ by its URL path, never outside it."""
    try:
        candidate = (WEB_DIR / name.lstrip("/")).resolve()
        if candidate.is_file() and candidate.is_relative_to(WEB_DIR.resolve()):
            return candidate
    except (OSError, ValueError):  # a NUL byte or an over-long name: no file of ours
        pass
    return None

