"""The HTTP API: routes from the template's HttpApi events, payload format 2.0.

As API Gateway's HTTP APIs do it:
- a route is METHOD + path template (``{name}`` one segment, ``{name+}`` the
  rest), matched on the path as sent (an encoded CR or LF is a character like
  any other); a function error is 500 ``{"message":"Internal Server Error"}``;
- the function's ``statusCode``/``headers``/``cookies``/``body``/
  ``isBase64Encoded`` become the response; a reply without ``statusCode`` is
  sent as JSON with 200;
- with a CorsConfiguration, API Gateway answers preflight ``OPTIONS`` itself,
  sets the CORS headers on every response whose ``Origin`` is allowed, and
  ignores CORS headers the function returns.

One departure (docs/design.md): a path with no route is the contract's 404
``{"error":"not_found","message":...}`` (DESIGN §3, as the functions answer a
malformed session id), where API Gateway answers ``{"message":"Not Found"}``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from localcloud.events import http_event
from localcloud.resolve import Resolver
from localcloud.routefaults import RouteFaults
from localcloud.runtime import InvocationError, Runtime
from localcloud.template import http_routes, resources_of_type


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    function_name: str
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


def _compile(path: str) -> re.Pattern[str]:
    pattern = re.escape(path)
    pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", pattern)
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile(f"^{pattern}$")


@dataclass(frozen=True)
class Cors:
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...]
    expose: tuple[str, ...]
    max_age: int | None
    credentials: bool

    def allow_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for this request's Origin, if it is allowed."""
        if origin is None:
            return None
        if "*" in self.origins:
            return "*"
        return origin if origin in self.origins else None

    def response_headers(self, origin: str | None) -> dict[str, str]:
        allowed = self.allow_origin(origin)
        if allowed is None:
            return {}
        headers = {"Access-Control-Allow-Origin": allowed}
        if allowed != "*":
            headers["Vary"] = "Origin"
        if self.expose:
            headers["Access-Control-Expose-Headers"] = ",".join(self.expose)
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers

    def preflight_headers(self, origin: str | None) -> dict[str, str]:
        headers = self.response_headers(origin)
        if not headers:
            return {}
        headers["Access-Control-Allow-Methods"] = ",".join(self.methods)
        if self.headers:
            headers["Access-Control-Allow-Headers"] = ",".join(self.headers)
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = str(self.max_age)
        return headers


def cors_configuration(template: dict[str, Any], resolver: Resolver) -> Cors | None:
    (props,) = [r.get("Properties", {}) for r in resources_of_type(template, "AWS::Serverless::HttpApi").values()]
    config = props.get("CorsConfiguration")
    if not config:
        return None
    if config is True:
        return Cors(("*",), ("*",), ("*",), (), None, False)
    config = resolver.resolve(config)

    def strings(name: str) -> tuple[str, ...]:
        return tuple(str(v).strip() for v in config.get(name, []) if str(v).strip())

    return Cors(strings("AllowOrigins"), strings("AllowMethods"), strings("AllowHeaders"), strings("ExposeHeaders"),
                int(config["MaxAge"]) if "MaxAge" in config else None, bool(config.get("AllowCredentials", False)))


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def not_found() -> web.Response:
    """The contract's 404, the same the functions answer for a malformed session id."""
    return web.json_response({"error": "not_found", "message": "No such resource."}, status=404, dumps=compact_json)


class HttpGateway:
    def __init__(self, template: dict[str, Any], resolver: Resolver, runtime: Runtime,
                 faults: RouteFaults | None = None) -> None:
        self.routes = [HttpRoute(method, path, name, _compile(path)) for method, path, name in http_routes(template)]
        self.cors = cors_configuration(template, resolver)
        self.runtime = runtime
        self.faults = faults or RouteFaults()
        self.faults.known.update(route.route_key for route in self.routes)

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        for route in self.routes:
            found = route.pattern.match(path)
            if found and route.method in (method, "ANY"):
                return route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def has_route(self, method: str, path: str) -> bool:
        return self.match(method, path) is not None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        raw_path = request.rel_url.raw_path
        if request.method == "OPTIONS" and self.cors is not None and not self.has_route("OPTIONS", raw_path):
            return web.Response(status=204, headers=self.cors.preflight_headers(origin))
        matched = self.match(request.method, raw_path)
        if matched is None:
            return self._with_cors(not_found(), origin)
        route, path_parameters = matched
        headers = {name.lower(): ",".join(request.headers.getall(name)) for name in request.headers}
        # API Gateway adds X-Forwarded-Proto (https there); the OIDC issuer is built from it.
        headers["x-forwarded-proto"] = request.scheme
        event = http_event(method=request.method, path=raw_path, route_key=route.route_key,
                           path_parameters=path_parameters, headers=headers, query=request.rel_url.raw_query_string,
                           body=await request.read(), source_ip=request.remote or "", domain_name=request.host)
        fault = self.faults.take(route.route_key)  # /dev/faults
        if fault is not None and fault.status is not None:
            return self._with_cors(web.json_response(fault.body or {}, status=fault.status, dumps=compact_json), origin)
        try:
            if fault is not None:
                raise InvocationError(route.function_name, "injected by localcloud /dev/faults")
            result = await self.runtime.invoke(route.function_name, event, route.route_key)
        except InvocationError:
            return self._with_cors(web.json_response({"message": "Internal Server Error"}, status=500,
                                                     dumps=compact_json), origin)
        response = to_response(result)
        response.headers["apigw-requestid"] = event["requestContext"]["requestId"]
        return self._with_cors(response, origin)

    def _with_cors(self, response: web.Response, origin: str | None) -> web.Response:
        if self.cors is None:
            return response
        for name in [n for n in response.headers if n.lower().startswith("access-control-")]:
            del response.headers[name]
        response.headers.update(self.cors.response_headers(origin))
        return response


def to_response(result: Any) -> web.Response:
    """A payload 2.0 function reply as an HTTP response."""
    if not isinstance(result, dict) or "statusCode" not in result:
        text = result if isinstance(result, str) else json.dumps(result)
        return web.Response(status=200, text=text, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    headers: CIMultiDict[str] = CIMultiDict((k, str(v)) for k, v in (result.get("headers") or {}).items())
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", cookie)
    return web.Response(status=int(result["statusCode"]), body=data, headers=headers)
