"""Logger and metrics, one of each per container.

Never log events, bodies or headers: they carry browser tokens, phone tokens
and id_tokens.  Every handler passes ``log_event=False`` explicitly, so the
Powertools environment switch for event logging cannot turn it on.
Log ids, statuses, user subjects and timings only.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord
from aws_lambda_powertools.metrics import MetricUnit


class LeanFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines without what the log group already says.

    Each function logs to its own log group, so its name, ARN and memory size
    on every line only add bytes (CloudWatch Logs bills ingestion per byte).
    """

    REDUNDANT = ("function_name", "function_arn", "function_memory_size", "location")

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        lean: dict[str, Any] = {key: value for key, value in log.items() if key not in self.REDUNDANT}
        return super().serialize(lean)


logger = Logger(service="qrlogin", logger_formatter=LeanFormatter())
metrics = Metrics(namespace="qrlogin", service="qrlogin")


def count(event_name: str) -> None:
    """One EMF count per state transition (and per rejected request kind)."""
    metrics.add_metric(name=event_name, unit=MetricUnit.Count, value=1)
