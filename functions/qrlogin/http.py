"""The HTTP side shared by every function: one resolver setup, one error mapping.

Domain errors become the contract's ``{"error", "message"}`` JSON here and
nowhere else.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from qrlogin import errors
from qrlogin.config import MAX_BODY_BYTES
from qrlogin.observability import logger

JSON = "application/json"


def json_response(status_code: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status_code,
        content_type=JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error_response(error: errors.DomainError) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return json_response(error.status_code, {"error": error.code, "message": error.message}, headers)


INTERNAL_ERROR = {"error": "internal_error", "message": "Something went wrong on our side."}


def create_app(render: Callable[[errors.DomainError], Response] = error_response,
               internal_error: dict[str, str] = INTERNAL_ERROR) -> APIGatewayHttpResolver:
    """The resolver every function uses; ``render`` and ``internal_error`` shape the error bodies
    (the contract's by default; the OAuth endpoints pass RFC 6749 §5.2's)."""
    app = APIGatewayHttpResolver()

    @app.exception_handler(errors.DomainError)
    def domain_error(error: errors.DomainError) -> Response:
        logger.info("request refused", extra={"error": error.code, "status_code": error.status_code})
        return render(error)

    @app.exception_handler(Exception)
    def unexpected_error(error: Exception) -> Response:
        # The traceback goes to the log (it holds no request data); the client
        # gets a plain JSON 500 with nothing of the internals.
        logger.exception("unexpected error")
        return json_response(500, internal_error)

    @app.not_found
    def not_found(_: Exception) -> Response:
        return render(errors.RouteNotFound())

    return app


def raw_body(app: APIGatewayHttpResolver) -> bytes:
    event = app.current_event
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise errors.InvalidRequest("The request body is not valid base64.") from None
    else:
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else b""
    if len(data) > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge()
    return data


def json_object(app: APIGatewayHttpResolver, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; unknown fields are the caller's to ignore."""
    data = raw_body(app)
    if not data.strip():
        if optional:
            return {}
        raise errors.InvalidRequest("A JSON object body is required.")
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise errors.InvalidRequest("The request body must be a JSON object.")
    return value


def bearer_token(app: APIGatewayHttpResolver) -> str | None:
    header = app.current_event.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def source_ip(app: APIGatewayHttpResolver) -> str:
    return app.current_event.request_context.http.source_ip or ""


def user_agent(app: APIGatewayHttpResolver) -> str:
    return app.current_event.headers.get("user-agent") or ""
