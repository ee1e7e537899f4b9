"""The door in front of moto's server: DynamoDB's atomicity, and injected AWS faults.

- Atomicity.  DynamoDB applies a conditional write atomically and appends its
  stream record with it.  moto's server handles requests on many threads and
  does neither atomically: ``update_item`` checks the condition, then mutates
  the item, then builds the stream image from the live item, and numbers the
  stream record from the list's length.  Under concurrent requests two
  racing transitions could both pass their condition, a record could carry a
  later write's image, and two records could share a sequence number.  So
  DynamoDB and DynamoDB Streams requests go through one at a time (each
  takes a millisecond or two; KMS and the rest stay concurrent).
- Faults (a local-only test hook, ``POST /dev/faults`` with an
  ``operation``): the next N calls of one operation answer with a chosen AWS
  error, before reaching moto, so nothing is written, as with a real throttle.
  Errors are shaped as the JSON protocols shape them (``__type``), so
  botocore raises the same ``ClientError`` (and retries what it would retry).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from localcloud.armed import Armed

# X-Amz-Target prefixes of the services behind the gate, by boto3 service name.
TARGET_PREFIXES = {
    "dynamodb": "DynamoDB_20120810",
    "dynamodbstreams": "DynamoDBStreams_20120810",
    "kms": "TrentService",
}
# Error type namespaces in the JSON protocols' ``__type``.
ERROR_NAMESPACES = {
    "DynamoDB_20120810": "com.amazonaws.dynamodb.v20120810",
    "DynamoDBStreams_20120810": "com.amazonaws.dynamodb.v20120810",
    "TrentService": "com.amazonaws.kms",
}
SERIALIZED = ("DynamoDB_20120810.", "DynamoDBStreams_20120810.")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class UnknownOperation(ValueError):
    pass


def target_of(operation: str) -> str:
    """``dynamodb:UpdateItem`` -> ``DynamoDB_20120810.UpdateItem`` (the X-Amz-Target header)."""
    service, separator, name = operation.partition(":")
    prefix = TARGET_PREFIXES.get(service.lower())
    if not separator or prefix is None or not name.isalnum():
        raise UnknownOperation(f"operation must be one of {sorted(TARGET_PREFIXES)} as service:Operation, "
                               f"e.g. dynamodb:UpdateItem, not {operation!r}")
    return f"{prefix}.{name}"


@dataclass
class AwsFault:
    error: str
    status: int
    remaining: int


class AwsGate:
    def __init__(self) -> None:
        self.faults: Armed[AwsFault] = Armed()  # by X-Amz-Target
        self._dynamodb = threading.Lock()

    def add_fault(self, operation: str, error: str, status: int, times: int) -> None:
        self.faults.arm(target_of(operation), AwsFault(error, status, times))

    def wrap(self, app: WsgiApp) -> WsgiApp:
        def gated(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            fault = self.faults.take(target) if target else None
            if fault is not None:
                return _error(target, fault, start_response)
            if target.startswith(SERIALIZED):
                with self._dynamodb:
                    return list(app(environ, start_response))  # the body is made under the lock too
            return app(environ, start_response)

        return gated


def _error(target: str, fault: AwsFault, start_response: StartResponse) -> list[bytes]:
    prefix = target.split(".", 1)[0]
    body = json.dumps({"__type": f"{ERROR_NAMESPACES[prefix]}#{fault.error}",
                       "message": "Injected by localcloud /dev/faults"}).encode()
    start_response(f"{fault.status} Injected", [("Content-Type", "application/x-amz-json-1.0"),
                                               ("Content-Length", str(len(body))),
                                               ("x-amzn-ErrorType", fault.error)])
    return [body]
