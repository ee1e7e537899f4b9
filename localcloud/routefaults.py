"""Route faults: a local-only test hook (``POST /dev/faults`` with a ``route``).

The next N requests to one route of the HTTP API (``"POST /sessions/{session_id}/token"``)
or of the WebSocket API (``"subscribe"``) fail as API Gateway answers when the
function fails: ``{"message": "Internal Server Error"}`` (HTTP 500) on the HTTP
API, ``{"message": "Internal server error", "connectionId", "requestId"}`` as a
message on the WebSocket.  An HTTP route fault given a ``status`` and a JSON
``body`` answers those instead, without invoking the function: how a test
plays a reply the local stack cannot produce on demand, such as the
``authorization_pending`` of a read that lags the confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localcloud.armed import Armed


class UnknownRoute(ValueError):
    pass


@dataclass
class RouteFault:
    remaining: int
    status: int | None = None          # None: a function failure
    body: dict[str, Any] | None = None


class RouteFaults(Armed[RouteFault]):
    """Faults by route key; ``take`` gives the one to answer a request with, if one is armed for its route."""

    def __init__(self) -> None:
        super().__init__()
        self.known: set[str] = set()  # the gateways' route keys

    def add(self, route_key: str, times: int, status: int | None = None, body: dict[str, Any] | None = None) -> None:
        if route_key not in self.known:
            raise UnknownRoute(f"route must be one of {sorted(self.known)}, not {route_key!r}")
        self.arm(route_key, RouteFault(times, status, body))
