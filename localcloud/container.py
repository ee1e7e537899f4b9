"""One Lambda container: a child process that runs one handler's events one at a time.

The runtime (runtime.py) starts ``serve`` in a process forked from a fork
server that has already imported every handler, so a new container costs a
fork, not an interpreter start.  It says ``{"ready": true}``, then answers
each request ``{"event", "context": {"function_name", "memory_mb",
"timeout_s"}}`` with ``{"result"}`` or, when the handler raised, ``{"error"}``
(the traceback goes to stderr, as Lambda's runtime writes it to the log).
Messages are JSON over a ``multiprocessing`` pipe; stdout and stderr are the
stack's, so the handler's logs land where the stack's do.  End of input ends
the container.

Logging is the Python runtime's (awslambdaric's bootstrap), set up by
``localcloud.bootstrap`` in the fork server before any handler is imported,
as the runtime does it: a handler on the ROOT logger at ``AWS_LAMBDA_LOG_LEVEL``
(the function's ``ApplicationLogLevel``), writing to stdout one JSON object per
line with ``timestamp``, ``level``, ``message``, ``logger``, ``requestId`` and
the record's extra fields when ``AWS_LAMBDA_LOG_FORMAT`` is ``JSON``, or the
runtime's tab-separated text line otherwise.  So any library's DEBUG lines
reach the output exactly when they would reach CloudWatch.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from localcloud.events import LambdaContext

# The invocation being served: the runtime stamps its id on every record (``requestId``).
_invocation = {"request_id": ""}

# LogRecord attributes that are the record itself, not extra fields a caller added.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message", "asctime", "aws_request_id", "tenant_id", "_frame_type"}
TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"


class RuntimeJsonFormatter(logging.Formatter):
    """The Python runtime's JSON log line (LoggingConfig LogFormat JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        level = min(50, max(0, record.levelno)) // 10 * 10
        created = datetime.fromtimestamp(record.created, tz=UTC)
        line: dict[str, Any] = {
            "timestamp": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "level": logging.getLevelName(level),
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None),
        }
        if record.exc_info and record.exc_info[0] is not None:
            kind, error, trace = record.exc_info
            line.update(errorType=kind.__name__, errorMessage=str(error), stackTrace=traceback.format_tb(trace),
                        location=f"{record.pathname}:{record.funcName}:{record.lineno}")
        line.update((key, value) for key, value in vars(record).items()
                    if key not in _RECORD_ATTRIBUTES and key not in line)
        return json.dumps({k: v for k, v in line.items() if v is not None}, ensure_ascii=False, default=str) + "\n"


class RuntimeLogHandler(logging.Handler):
    """Writes each formatted record to stdout in one write (the runtime's standard log sink)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record))
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def _stamp_request_id(record: logging.LogRecord) -> bool:
    record.aws_request_id = _invocation["request_id"]
    return True


def setup_runtime_logging(environment: Mapping[str, str]) -> logging.Handler:
    """The root logger as the Lambda Python runtime leaves it before it imports the handler."""
    logging.Formatter.converter = time.gmtime
    handler = RuntimeLogHandler()
    if environment.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        handler.setFormatter(RuntimeJsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_stamp_request_id)
    root = logging.getLogger()
    level = environment.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    level = "DEBUG" if level == "TRACE" else level  # Python logging has no TRACE
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)
    root.addHandler(handler)
    return handler


def serve(code_root: str, handler_path: str, channel: Connection) -> None:
    if code_root not in sys.path:
        sys.path.insert(0, code_root)  # what /var/task is on Lambda
    module_name, attribute = handler_path.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), attribute)
    channel.send_bytes(json.dumps({"ready": True}).encode())
    while True:
        try:
            request = json.loads(channel.recv_bytes())
        except EOFError:
            return
        details = request["context"]
        context = LambdaContext(details["function_name"], details["memory_mb"], details["timeout_s"])
        _invocation["request_id"] = context.aws_request_id
        try:
            reply = {"result": handler(request["event"], context)}
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            reply = {"error": type(error).__name__}
        try:
            payload = json.dumps(reply)
        except (TypeError, ValueError):  # Lambda serializes the result as JSON too
            payload = json.dumps({"error": "Runtime.MarshalError"})
        channel.send_bytes(payload.encode())
