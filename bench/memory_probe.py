"""Peak memory of one function, run as a fresh process by ``bench.memory`` (not imported by anything).

``python -S -P bench/memory_probe.py NAME HANDLER EVENTS_JSON``: imports the
handler, invokes it with each event in order (the first invocation of a new
container, then warm ones) against the AWS endpoints in the environment, and
prints the process's peak resident set size (VmHWM) in MB.  NAME ``baseline`` only
imports boto3 and creates one DynamoDB client.
"""

import importlib
import json
import sys


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
    responses = []
    if name == "baseline":
        import boto3

        boto3.client("dynamodb")
    else:
        with open(events_file, encoding="utf-8") as handle:
            events = json.load(handle)
        module_name, attribute = handler_path.rsplit(".", 1)
        function = getattr(importlib.import_module(module_name), attribute)
        responses = [function(event, Context(name)) for event in events]
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
    with open("/proc/self/status", encoding="ascii") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    peak_mb = peak_kb / 1024
    print(json.dumps({"peak_rss_mb": round(peak_mb, 1), "responses": responses}))


main()
