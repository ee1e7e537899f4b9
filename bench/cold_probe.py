"""One cold start, run as a fresh process by ``bench.cold_start`` (not imported by anything).

``python -S -P bench/cold_probe.py NAME HANDLER EVENTS_JSON``: imports the handler
and invokes it with the events, as the first invocation of a new container
would, and exits the moment the first AWS request is about to go out (the
process's wall time is then "cold start up to the first AWS call").  NAME
``baseline`` only imports boto3 and creates one DynamoDB client.

Exit status: 0 reached the point measured; 3 the handler made no AWS call.
"""

import os
import sys

import botocore.endpoint


def _first_aws_call(*args: object, **kwargs: object) -> None:
    os._exit(0)  # skip teardown: the measurement ends here


botocore.endpoint.Endpoint._send = _first_aws_call  # type: ignore[method-assign,unused-ignore]


class Context:
    """What the Lambda runtime passes as ``context`` (the parts Powertools reads)."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def main() -> None:
    name, handler_path, events_file = sys.argv[1:4]
    if name == "baseline":
        import boto3

        boto3.client("dynamodb")
        os._exit(0)
    import importlib
    import json

    with open(events_file, encoding="utf-8") as handle:
        events = json.load(handle)
    module_name, attribute = handler_path.rsplit(".", 1)
    function = getattr(importlib.import_module(module_name), attribute)
    for event in events:
        function(event, Context(name))
    os._exit(3)


main()
