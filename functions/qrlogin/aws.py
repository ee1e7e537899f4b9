"""boto3 clients, created lazily and once per container.

Endpoints come from the standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables, so
the local stack reaches moto and its own gateway with the handlers unchanged.
"""

from __future__ import annotations

from functools import cache
from typing import Any

# Fail fast: API Gateway gives a route 30 s, a browser waits far less.
_RETRIES = {"mode": "standard", "max_attempts": 3}


@cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries=_RETRIES, connect_timeout=2, read_timeout=5, tcp_keepalive=True)
    return boto3.session.Session().client(service, endpoint_url=endpoint_url, config=config)
