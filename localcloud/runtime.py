"""The template's functions run in this process, the way Lambda runs them.

- Environment: what the template gives each function (Globals merged), with
  intrinsics resolved to local values, plus fake credentials, the region and
  ``AWS_ENDPOINT_URL_*`` pointing at moto, so the handlers run unchanged.
  All functions share one process and so one ``os.environ``: that works
  because the template gives every function the same variables (all of them
  come from Globals).  ``function_environment`` checks it and refuses to start
  otherwise, rather than run a function with another function's settings.
- One warm container per function: a single worker thread each, so
  invocations of one function queue and never overlap (Powertools' resolver
  and batch processor keep per-invocation state on module-level objects, as
  Lambda's one-event-at-a-time model allows), while different functions run
  in parallel, all off the event loop.
- One log line per invocation on stdout: function, route, status, milliseconds.
  Function timeouts are reported through the context but not enforced.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from localcloud.cloud import FAKE_CREDENTIALS, Resources
from localcloud.events import REGION, LambdaContext
from localcloud.resolve import Resolver, localize_url
from localcloud.template import ROOT, functions

# Powertools' JSON logs and EMF metrics would drown the one-line-per-invocation
# output; these are the local defaults, and the caller's environment wins.
QUIET_POWERTOOLS = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
# Sockets a handler opens to the local stack must not go through a proxy.
LOOPBACK = "127.0.0.1,localhost"


class InvocationError(RuntimeError):
    """The function raised: Lambda's "function error" (the traceback went to stderr)."""


def function_environment(template: dict[str, Any], resolver: Resolver, base_url: str) -> dict[str, str]:
    """The one environment every function gets, from the template; refuses differing ones."""
    environments = {
        name: {key: localize_url(str(resolver.resolve(value)), base_url)
               for key, value in props["Environment"]["Variables"].items()}
        for name, props in functions(template).items()
    }
    (first_name, first), *others = environments.items()
    for name, environment in others:
        if environment != first:
            differing = sorted(k for k in set(first) | set(environment) if first.get(k) != environment.get(k))
            raise RuntimeError(
                f"{name} and {first_name} differ in {', '.join(differing)}: the local stack runs every "
                "function in one process with one environment"
            )
    return first


def local_environment(resources: Resources) -> dict[str, str]:
    """What the Lambda service and our account would provide: credentials, region, endpoints."""
    environment = {
        **FAKE_CREDENTIALS,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": resources.endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": resources.endpoint,
        "AWS_ENDPOINT_URL_KMS": resources.endpoint,
        "NO_PROXY": ",".join(filter(None, [os.environ.get("NO_PROXY"), LOOPBACK])),
    }
    for name, default in QUIET_POWERTOOLS.items():
        environment[name] = os.environ.get(name, default)
    return environment


@dataclass
class Function:
    name: str
    handler: Callable[[Any, Any], Any]
    timeout_s: float
    memory_mb: int
    worker: ThreadPoolExecutor
    # Also held by callers that invoke from their own thread (the stream poller).
    busy: threading.Lock = field(default_factory=threading.Lock)


class Runtime:
    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.functions: dict[str, Function] = {}
        self.after_invocation: list[Callable[[], None]] = []
        self._output = threading.Lock()

    def start(self, environment: dict[str, str]) -> None:
        """Set the environment, then import every handler (a cold start for all of them)."""
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(name, None)  # a real profile must never win over the fake credentials
        os.environ.update(environment)
        for name, props in functions(self.template).items():
            code_root = str((ROOT / props["CodeUri"]).resolve())
            if code_root not in sys.path:
                sys.path.insert(0, code_root)  # what /var/task is on Lambda
            module_name, attribute = props["Handler"].rsplit(".", 1)
            handler = getattr(importlib.import_module(module_name), attribute)
            self.functions[name] = Function(name, handler, float(props.get("Timeout", 3)),
                                            int(props.get("MemorySize", 128)),
                                            ThreadPoolExecutor(max_workers=1, thread_name_prefix=name))
        from qrlogin import deps

        deps.reset()

    def stop(self) -> None:
        for function in self.functions.values():
            function.worker.shutdown(wait=True, cancel_futures=True)

    async def invoke(self, function_name: str, event: Any, label: str) -> Any:
        worker = self.functions[function_name].worker
        return await asyncio.get_running_loop().run_in_executor(worker, self.invoke_sync, function_name, event, label)

    def invoke_sync(self, function_name: str, event: Any, label: str) -> Any:
        function = self.functions[function_name]
        with function.busy:
            started = time.perf_counter()
            try:
                result = function.handler(event, LambdaContext(function.name, function.memory_mb, function.timeout_s))
            except Exception as error:
                traceback.print_exc(file=sys.stderr)
                self._log(function.name, label, f"error {type(error).__name__}", started)
                raise InvocationError(f"{function_name} failed") from error
            finally:
                for callback in self.after_invocation:
                    callback()
        self._log(function.name, label, outcome(result), started)
        return result

    def _log(self, function_name: str, label: str, status: str, started: float) -> None:
        milliseconds = (time.perf_counter() - started) * 1000
        with self._output:
            sys.stdout.write(f"{function_name} {label} {status} {milliseconds:.0f}ms\n")
            sys.stdout.flush()


def outcome(result: Any) -> str:
    """The status part of the log line: the status code, and a partial batch failure if any."""
    if not isinstance(result, dict):
        return "200"
    status = str(result.get("statusCode", 200))
    failures = result.get("batchItemFailures")
    return f"{status} batchItemFailures={len(failures)}" if failures else status
