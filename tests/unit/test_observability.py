"""Log lines: what a reader needs, nothing the log group already says (ingestion is billed per byte)."""

import json
import logging

from qrlogin.observability import session_ref


def test_a_transition_line_names_the_request_and_session_but_not_the_function(flow, all_output):
    # When a phone scans a session
    login = flow.issue()
    flow.scan(login)

    # Then its log line carries the correlation id, session ref, status and user, and no function identity
    (line,) = [json.loads(text) for text in all_output().splitlines()
               if text.startswith("{") and '"session scanned"' in text]
    assert line["session_ref"] == session_ref(login.session_id) and line["status"] == "scanned"
    assert line["user_sub"] == "alice" and login.session_id not in json.dumps(line)
    assert line["correlation_id"]
    assert not {"function_name", "function_arn", "function_memory_size", "location", "timestamp", "service",
                "cold_start", "function_request_id"} & set(line)


def test_the_wire_loggers_stay_at_warning_under_a_debug_root_logger():
    # Given the Lambda runtime's root logger at DEBUG (LogLevel=DEBUG)
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.DEBUG)
    try:
        # Then the loggers that write request and response bodies or request lines let only problems through
        for name in ("botocore.endpoint", "botocore.parsers", "botocore.hooks", "boto3.resources.action",
                     "urllib3.connectionpool", "aws_lambda_powertools.event_handler.api_gateway"):
            assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
        # And our own loggers follow the root
        assert logging.getLogger("qrlogin.anything").getEffectiveLevel() <= logging.INFO
    finally:
        root.setLevel(before)


def test_a_session_ref_follows_a_session_without_naming_it():
    first, second = "A" * 22, "B" * 22
    assert session_ref(first) == session_ref(first) != session_ref(second)
    assert len(session_ref(first)) == 12 and first not in session_ref(first)
