"""Logger and metrics, one of each per container.

Never log events, bodies or headers: they carry browser tokens, phone tokens
and id_tokens.  Every handler passes ``log_event=False`` explicitly, so the
POWERTOOLS_LOGGER_LOG_EVENT variable cannot turn event logging on.  Log ids, statuses, user subjects and timings only.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="qrlogin")
metrics = Metrics(namespace="qrlogin", service="qrlogin")


def count(event_name: str) -> None:
    """One EMF count per state transition (and per rejected request kind)."""
    metrics.add_metric(name=event_name, unit=MetricUnit.Count, value=1)
