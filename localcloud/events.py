"""Lambda events shaped as API Gateway and DynamoDB Streams build them.

One builder per event kind, used by the local gateway, the stream poller and
the tests, and checked against the recorded shapes in ``tests/events``.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from email.utils import formatdate
from typing import Any

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def _request_time(epoch_ms: int) -> str:
    # API Gateway's format: 12/Mar/2020:19:03:58 +0000
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def http_event(
    *,
    method: str,
    path: str,
    route_key: str,
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    body: bytes | None = None,
    source_ip: str = "127.0.0.1",
    api_id: str = "local",
    domain_name: str = "localhost",
) -> dict[str, Any]:
    """An HTTP API payload format 2.0 event."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    now_ms = int(time.time() * 1000)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": secrets.token_urlsafe(12),
            "routeKey": route_key,
            "stage": "$default",
            "time": _request_time(now_ms),
            "timeEpoch": now_ms,
        },
        "isBase64Encoded": False,
    }
    if "cookie" in lowered:
        event["cookies"] = [c.strip() for c in lowered.pop("cookie").split(";")]
    if query:
        from urllib.parse import parse_qsl

        event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def websocket_event(
    *,
    route_key: str,
    connection_id: str,
    connected_at_ms: int,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    api_id: str = "local",
    domain_name: str = "localhost",
    stage: str = "live",
) -> dict[str, Any]:
    """A WebSocket API event: CONNECT, DISCONNECT or MESSAGE by route key."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    now_ms = int(time.time() * 1000)
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": secrets.token_urlsafe(12),
        "requestTime": _request_time(now_ms),
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": connected_at_ms,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": source_ip},
        "requestId": secrets.token_urlsafe(12),
        "domainName": domain_name,
        "connectionId": connection_id,
        "apiId": api_id,
    }
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if event_type == "MESSAGE":
        context["messageId"] = secrets.token_urlsafe(12)
        event["body"] = body if body is not None else ""
    if event_type == "CONNECT":
        context["identity"]["userAgent"] = (headers or {}).get("User-Agent", "")
        event["headers"] = dict(headers or {})
        event["multiValueHeaders"] = {k: [v] for k, v in (headers or {}).items()}
    if event_type == "DISCONNECT":
        context["disconnectStatusCode"] = 1000
        context["disconnectReason"] = ""
        event["headers"] = {"Host": domain_name}
        event["multiValueHeaders"] = {"Host": [domain_name]}
    return event


def stream_record(raw: dict[str, Any], stream_arn: str, region: str = REGION) -> dict[str, Any]:
    """A DynamoDB Streams API record as Lambda hands it to a function."""
    dynamodb = dict(raw["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if created is not None and not isinstance(created, (int, float)):
        created = created.timestamp() if hasattr(created, "timestamp") else float(created)
    dynamodb["ApproximateCreationDateTime"] = int(created or time.time())
    return {
        "eventID": raw.get("eventID") or uuid.uuid4().hex,
        "eventName": raw["eventName"],
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": raw.get("awsRegion", region),
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def new_connection_id() -> str:
    # API Gateway connection ids look like "L0SM9cOFvHcCIhw=": 12 random bytes, base64.
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")


def http_date() -> str:
    return formatdate(usegmt=True)


class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the parts handlers use)."""

    def __init__(self, function_name: str, memory_mb: int = 256, timeout_s: float = 10.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
