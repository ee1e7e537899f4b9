"""Log lines: what a reader needs, nothing the log group already says (ingestion is billed per byte)."""

import json

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
    assert line["correlation_id"] and line["function_request_id"]
    assert not {"function_name", "function_arn", "function_memory_size", "location"} & set(line)
