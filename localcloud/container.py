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
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from multiprocessing.connection import Connection

from localcloud.events import LambdaContext


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
