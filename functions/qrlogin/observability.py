"""Logger and metrics, one of each per container.

Never log events, bodies or headers: they carry browser tokens, phone tokens
and id_tokens.  Every handler passes ``log_event=False`` explicitly, so the
Powertools environment switch for event logging cannot turn it on.
Log statuses, user subjects, timings and ``session_ref`` only: a session id is
never logged (DESIGN §3), its short hash is.

The Lambda runtime puts a handler on the ROOT logger at the function's
``ApplicationLogLevel`` (DESIGN §7). At DEBUG, botocore would log whole request
and response bodies through it (KMS plaintexts and signatures, every item
written) and urllib3 every request line, so the libraries that log wire data
are capped at WARNING here, in one place, whatever the application level.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord
from aws_lambda_powertools.metrics import MetricUnit


class LeanFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines without what the log group or CloudWatch already says.

    Each function logs to its own log group, so its name, ARN and memory size
    on every line only add bytes (CloudWatch Logs bills ingestion per byte).
    CloudWatch stamps every event with its time, the service is the stack,
    and with Lambda's own START/END/REPORT lines off there is nothing to join
    the function's request id to: the API Gateway request id
    (``correlation_id``) is what ties a line to its access log line.
    """

    REDUNDANT = ("function_name", "function_arn", "function_memory_size", "location",
                 "timestamp", "service", "cold_start", "function_request_id")

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        lean: dict[str, Any] = {key: value for key, value in log.items() if key not in self.REDUNDANT}
        return super().serialize(lean)


# Loggers that write what goes over the wire (bodies, request lines, path parameters).
# Powertools' router logs each route's arguments (the session id) at DEBUG.
WIRE_LOGGERS = ("boto3", "botocore", "s3transfer", "urllib3", "aws_lambda_powertools.event_handler")


def cap_wire_loggers() -> None:
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Once per cold start, through the runtime's root handler (no Powertools Logger exists yet): at DEBUG,
    # it says why the libraries below are silent.
    logging.getLogger(__name__).debug("wire loggers capped at WARNING: %s", ", ".join(WIRE_LOGGERS))


cap_wire_loggers()

logger = Logger(service="qrlogin", logger_formatter=LeanFormatter())
metrics = Metrics(namespace="qrlogin", service="qrlogin")


def session_ref(session_id: str) -> str:
    """What log lines carry instead of a session id: 12 characters of its SHA-256, enough to follow
    one session through the log groups, useless for addressing it."""
    digest = hashlib.sha256(session_id.encode("utf-8", "replace")).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode("ascii")


# Counted from their INFO audit line by an AWS::Logs::MetricFilter in template.yaml
# (tests/template/test_metric_filters.py): while that line is written, an EMF
# document for them would count twice and cost about 200 bytes each.
AUDITED = frozenset({
    "SessionIssued", "SessionScanned", "SessionConfirmed", "SessionDenied", "SessionCancelled", "SessionRedeemed",
    "UserCodeMinted", "UserCodeResolved", "UserCodeMissed", "AuthorizationCompleted", "AuthorizationDenied",
    "AuthorizationCodeExchanged", "DeviceCodeExchanged", "DeviceAuthorized",
})


def count(event_name: str) -> None:
    """One count per state transition (and per rejected request kind).

    An audited transition is counted by the template's metric filter on its
    INFO line; with INFO off (LogLevel WARN or ERROR) it is an EMF count like
    the others.
    """
    if event_name in AUDITED and logger.log_level <= logging.INFO:
        return
    metrics.add_metric(name=event_name, unit=MetricUnit.Count, value=1)
