"""A recorder on botocore: every AWS call the handlers make, with what it costs.

It wraps ``BaseClient._make_api_call`` (the one door every boto3 client call
goes through), so nothing is estimated by hand: an operation that the code
does not make is not counted, and one it makes twice is counted twice.
Recording is on only inside ``recording()``, around handler invocations; the
benchmark's own calls (reading the stream, sizing items) are not counted.

DynamoDB units follow the on-demand rules (Developer Guide, "Read/write
capacity mode" and "Item sizes"): a write costs one unit per started KB of
the larger of the item before and after (at least one, also when its
condition fails); an eventually consistent read half a unit per started 4 KB,
a strongly consistent one a whole unit.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import botocore.client
from botocore.exceptions import ClientError

DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
DYNAMODB_READS = {"GetItem"}


@dataclass
class Call:
    service: str
    operation: str
    seconds: float
    error: str | None = None
    write_units: float = 0.0
    read_units: float = 0.0
    strongly_consistent: bool = False
    payload_bytes: int = 0
    overhead_seconds: float = 0.0  # the recorder's own sizing reads around the call (not the handler's time)
    cpu_seconds: float = 0.0  # this thread's CPU time inside the call and the sizing (moto's work, not ours)


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)
    sizer: Any = None  # a boto3 DynamoDB client used to size items (its calls are not recorded)
    _active: threading.local = field(default_factory=threading.local)

    def is_recording(self) -> bool:
        return getattr(self._active, "on", False)

    @contextmanager
    def recording(self) -> Iterator[list[Call]]:
        """Record the calls made inside the block; yields the list they are appended to."""
        start = len(self.calls)
        self._active.on = True
        mark: list[Call] = []
        try:
            yield mark
        finally:
            self._active.on = False
            mark.extend(self.calls[start:])

    @contextmanager
    def paused(self) -> Iterator[None]:
        was = self.is_recording()
        self._active.on = False
        try:
            yield
        finally:
            self._active.on = was

    def _stored_size(self, table: str, key: dict[str, Any]) -> int:
        with self.paused():
            item = self.sizer.get_item(TableName=table, Key=key, ConsistentRead=True)
        return item_size(item["Item"]) if "Item" in item else 0

    def record(self, client: Any, operation: str, params: dict[str, Any], call: Any) -> Any:
        service = client.meta.service_model.service_name
        if not self.is_recording():
            return call()
        entered, cpu_entered = time.perf_counter(), time.thread_time()
        sized = service == "dynamodb" and operation in DYNAMODB_WRITES and self.sizer is not None
        key = (params.get("Key") or {"pk": params["Item"]["pk"]}) if sized else {}
        before = self._stored_size(params["TableName"], key) if sized else 0
        started = time.perf_counter()
        error = None
        try:
            result = call()
        except ClientError as failure:
            error = failure.response.get("Error", {}).get("Code", "ClientError")
            raise
        finally:
            entry = Call(service, operation, time.perf_counter() - started, error)
            if sized:
                after = self._stored_size(params["TableName"], key)
                entry.write_units = max(1, math.ceil(max(before, after) / 1024))
                entry.overhead_seconds = time.perf_counter() - entered - entry.seconds
            elif service == "dynamodb" and operation in DYNAMODB_READS:
                entry.strongly_consistent = bool(params.get("ConsistentRead"))
                size = item_size(result.get("Item", {})) if error is None else 0
                entry.read_units = max(1, math.ceil(size / 4096)) * (1.0 if entry.strongly_consistent else 0.5)
            elif service == "apigatewaymanagementapi":
                data = params.get("Data", b"")
                entry.payload_bytes = len(data.encode() if isinstance(data, str) else data)
            entry.cpu_seconds = time.thread_time() - cpu_entered
            self.calls.append(entry)
        return result


@contextmanager
def installed(recorder: Recorder) -> Iterator[Recorder]:
    """Route every botocore client call through ``recorder`` for the duration of the block."""
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        return recorder.record(self, operation_name, api_params, lambda: original(self, operation_name, api_params))

    botocore.client.BaseClient._make_api_call = make_api_call  # type: ignore[method-assign,unused-ignore]
    try:
        yield recorder
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign,unused-ignore]


# -- DynamoDB item size ("Item sizes and formats" in the DynamoDB Developer Guide) --


def _number_size(text: str) -> int:
    digits = format(abs(Decimal(text)), "f").replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def attribute_value_size(value: dict[str, Any]) -> int:
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in data)
    if kind == "NS":
        return sum(_number_size(n) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(attribute_value_size(v) + 1 for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_value_size(v) + 1 for k, v in data.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())
