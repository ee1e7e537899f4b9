"""boto3 clients, created lazily and once per container.

Endpoints come from the standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables, so
the local stack reaches moto and its own gateway with the handlers unchanged.
"""

from __future__ import annotations

import gc
from functools import cache
from typing import Any

# Fail fast: API Gateway gives a route 30 s, a browser waits far less.
_RETRIES = {"mode": "standard", "max_attempts": 3}
_imports_frozen = False


def _freeze_imports() -> None:
    """Put what the imports allocated out of the garbage collector's sight, once per process.

    Those objects live as long as the container.  Unfrozen, each full collection
    triggered while boto3 loads a service model (tens of thousands of new objects)
    re-scans all of them: about 20 ms of every cold start (bench/cold_start.py).
    Once only, so that a long-lived process (the test suite) does not freeze its
    garbage over and over.
    """
    global _imports_frozen
    if not _imports_frozen:
        gc.freeze()
        _imports_frozen = True


@cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    _freeze_imports()
    import boto3
    from botocore.config import Config

    config = Config(retries=_RETRIES, connect_timeout=2, read_timeout=5, tcp_keepalive=True)
    return boto3.session.Session().client(service, endpoint_url=endpoint_url, config=config)
