"""Faults armed by key for the next N uses: the one countdown behind every ``/dev/faults`` kind.

A key is a WebSocket connection id (management.py), an AWS operation's
X-Amz-Target (awsgate.py) or a route key (routefaults.py); the fault is that
kind's answer with a ``remaining`` count.  Thread-safe: the AWS gate takes its
faults on moto's server threads, the gateways on the event loop.
"""

from __future__ import annotations

import threading
from typing import Generic, Protocol, TypeVar


class Countdown(Protocol):
    remaining: int


F = TypeVar("F", bound=Countdown)


class Armed(Generic[F]):
    def __init__(self) -> None:
        self._by_key: dict[str, F] = {}
        self._lock = threading.Lock()

    def arm(self, key: str, fault: F) -> None:
        with self._lock:
            self._by_key[key] = fault

    def take(self, key: str) -> F | None:
        """The fault to answer this use of ``key`` with, if one is armed and not spent (it counts one down)."""
        with self._lock:
            fault = self._by_key.get(key)
            if fault is None or fault.remaining <= 0:
                return None
            fault.remaining -= 1
            return fault

    def items(self) -> list[tuple[str, F]]:
        with self._lock:
            return list(self._by_key.items())

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()
