"""The status function's WebSocket side: $connect, $disconnect, subscribe, ping, $default.

Replies travel back as the integration response (the routes have a route
response), so answering a subscribe costs no Management API call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qrlogin import deps, errors, service
from qrlogin.config import MAX_BODY_BYTES, get_settings
from qrlogin.observability import logger, metrics

Event = dict[str, Any]
Reply = dict[str, Any]

ROUTES: dict[str, Callable[[Event], Reply]] = {}


def route(key: str) -> Callable[[Callable[[Event], Reply]], Callable[[Event], Reply]]:
    def register(function: Callable[[Event], Reply]) -> Callable[[Event], Reply]:
        ROUTES[key] = function
        return function

    return register


def reply(message: dict[str, Any], status_code: int = 200) -> Reply:
    return {"statusCode": status_code, "body": json.dumps(message, separators=(",", ":"))}


def error_reply(error: errors.DomainError) -> Reply:
    # The connection stays open: an error is just a message.
    return reply({"type": "error", "error": error.code, "message": error.message})


def header(event: Event, name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def message_body(event: Event) -> dict[str, Any]:
    body = event.get("body") or ""
    if len(body) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge()
    try:
        message = json.loads(body)
    except ValueError:
        raise errors.InvalidRequest("Messages must be JSON objects.") from None
    if not isinstance(message, dict):
        raise errors.InvalidRequest("Messages must be JSON objects.")
    return message


@route("$connect")
def connect(event: Event) -> Reply:
    if not get_settings().origin_allowed(header(event, "origin")):
        logger.info("connection refused: origin not allowed")
        return {"statusCode": 403}
    return {"statusCode": 200}


@route("$disconnect")
def disconnect(event: Event) -> Reply:
    # Subscriptions are forgotten lazily: the notifier drops a connection the
    # first time API Gateway answers 410 Gone for it.
    return {"statusCode": 200}


@route("subscribe")
def subscribe(event: Event) -> Reply:
    connection_id = event["requestContext"]["connectionId"]
    return reply(service.subscribe(deps.store(), message_body(event), connection_id, now=time.time()))


@route("ping")
def ping(event: Event) -> Reply:
    return reply({"type": "pong"})


@route("$default")
def default(event: Event) -> Reply:
    raise errors.InvalidRequest("Send a JSON message with action subscribe or ping.")


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", log_event=False)
@metrics.log_metrics
def handler(event: Event, context: LambdaContext) -> Reply:
    route_key = event.get("requestContext", {}).get("routeKey", "$default")
    logger.append_keys(route=route_key)
    try:
        return ROUTES.get(route_key, default)(event)
    except errors.DomainError as error:
        return error_reply(error)
