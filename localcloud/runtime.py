"""The template's functions run as Lambda runs them: in containers, warm after their cold start.

- Environment: what the template gives each function (Globals merged), with
  intrinsics resolved to local values, plus fake credentials, the region and
  ``AWS_ENDPOINT_URL_*`` pointing at moto, so the handlers run unchanged.
  ``function_environment`` insists that every function gets the same
  variables (true of this template, where all of them come from Globals):
  the containers share the fork server's environment.
- Containers: each is a child process (container.py) that runs one handler
  and takes one event at a time, so nothing a handler keeps at module
  level (Powertools' resolver puts the current event on a class attribute,
  its Metrics share one dict, its Logger one set of keys, the batch
  processor its records) is ever seen by two invocations at once, and
  different functions share nothing, as on Lambda.  Containers are forked
  from a fork server that imported every handler once (a new container costs
  milliseconds, so scaling out does not stall a test).  A function scales
  out like Lambda: an event goes to an idle warm container, else a new one is
  started while the function has fewer than ``max_containers`` (its
  concurrency limit), else it queues.  Each function starts with one.  The
  stream poller invokes one batch at a time, so the notifier uses one
  container and keeps the shard's order.
- Timeouts are enforced: a container that overruns its function's Timeout is
  killed and the invocation is a function error, as Lambda does it.
- Logging is Lambda's: the template's LoggingConfig becomes
  ``AWS_LAMBDA_LOG_FORMAT`` / ``AWS_LAMBDA_LOG_LEVEL`` (advanced logging
  controls), and the fork server imports ``localcloud.bootstrap`` first, which
  puts the runtime's handler on the root logger (container.py).  Function log
  lines go to stdout, between the stack's own lines.
- One log line per invocation on stdout: function, route, status, milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from localcloud import container as container_main
from localcloud.cloud import FAKE_CREDENTIALS, Resources
from localcloud.events import REGION
from localcloud.resolve import Resolver, localize_url
from localcloud.template import ROOT, functions

# EMF metrics would drown the one-line-per-invocation output; this is the local
# default, and the caller's environment wins.  (Log lines follow the LogLevel
# parameter, whose local default is WARN: stack.py.)
QUIET_POWERTOOLS = {"POWERTOOLS_METRICS_DISABLED": "true"}
# Sockets a handler opens to the local stack must not go through a proxy.
LOOPBACK = "127.0.0.1,localhost"


class InvocationError(RuntimeError):
    """Lambda's "function error": the handler raised, its container died, or it timed out (details on stderr)."""

    def __init__(self, function_name: str, kind: str) -> None:
        super().__init__(f"{function_name} failed: {kind}")
        self.kind = kind


def function_environment(template: dict[str, Any], resolver: Resolver, base_url: str) -> dict[str, str]:
    """The one environment every function gets, from the template; refuses differing ones."""
    environments = {
        name: {**{key: localize_url(str(resolver.resolve(value)), base_url)
                  for key, value in props["Environment"]["Variables"].items()},
               **logging_environment(props.get("LoggingConfig", {}), resolver)}
        for name, props in functions(template).items()
    }
    (first_name, first), *others = environments.items()
    for name, environment in others:
        if environment != first:
            differing = sorted(k for k in set(first) | set(environment) if first.get(k) != environment.get(k))
            raise RuntimeError(
                f"{name} and {first_name} differ in {', '.join(differing)}: the local stack runs every "
                "function from one fork server with one environment"
            )
    return first


def logging_environment(logging_config: dict[str, Any], resolver: Resolver) -> dict[str, str]:
    """The variables Lambda sets from a function's LoggingConfig; the runtime and Powertools read them."""
    if str(resolver.resolve(logging_config.get("LogFormat", "Text"))).upper() != "JSON":
        return {"AWS_LAMBDA_LOG_FORMAT": "Text"}  # application log levels need the JSON format
    level = resolver.resolve(logging_config.get("ApplicationLogLevel", "INFO"))
    return {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": str(level).upper()}


def local_environment(resources: Resources) -> dict[str, str]:
    """What the Lambda service and our account would provide: credentials, region, endpoints."""
    environment = {
        **FAKE_CREDENTIALS,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": resources.endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": resources.endpoint,
        "AWS_ENDPOINT_URL_KMS": resources.endpoint,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": resources.endpoint,
        "NO_PROXY": ",".join(filter(None, [os.environ.get("NO_PROXY"), LOOPBACK])),
    }
    for name, default in QUIET_POWERTOOLS.items():
        environment[name] = os.environ.get(name, default)
    return environment


# Most containers one function runs at once (its concurrency); 0 < this.
DEFAULT_MAX_CONTAINERS = 4
# How long a cold start (interpreter, imports) may take before the container is given up.
COLD_START_TIMEOUT_S = 60.0


# One fork server for the process: the stack runs one runtime.
FORK_SERVER = multiprocessing.get_context("forkserver")


class Container:
    """One child process running one function's handler (container.py)."""

    def __init__(self, function: Function) -> None:
        self.function = function
        self.channel, theirs = FORK_SERVER.Pipe()
        self.process = FORK_SERVER.Process(target=container_main.serve, name=function.name, daemon=True,
                                           args=(function.code_root, function.handler, theirs))
        self.process.start()
        theirs.close()
        if not self.channel.poll(COLD_START_TIMEOUT_S) or not self._ready():
            self.stop()
            raise InvocationError(function.name, "Runtime.InitError")

    def _ready(self) -> bool:
        try:
            return bool(json.loads(self.channel.recv_bytes()).get("ready"))
        except (EOFError, OSError):
            return False

    def invoke(self, event: Any) -> Any:
        """The handler's result; InvocationError if it raised, crashed or timed out."""
        function = self.function
        context = {"function_name": function.name, "memory_mb": function.memory_mb, "timeout_s": function.timeout_s}
        try:
            self.channel.send_bytes(json.dumps({"event": event, "context": context}).encode())
            if not self.channel.poll(function.timeout_s):
                self.stop()
                print(f"{function.name}: Task timed out after {function.timeout_s:.2f} seconds",
                      file=sys.stderr, flush=True)
                raise InvocationError(function.name, "Task.TimedOut")
            reply = json.loads(self.channel.recv_bytes())
        except (EOFError, OSError):
            self.stop()
            raise InvocationError(function.name, "Runtime.ExitError") from None
        if "error" in reply:
            raise InvocationError(function.name, str(reply["error"]))
        return reply["result"]

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> None:
        self.channel.close()  # end of input: the container returns
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


@dataclass
class Function:
    name: str
    handler: str  # module.attribute
    code_root: str
    timeout_s: float
    memory_mb: int
    max_containers: int
    idle: list[Container] = field(default_factory=list)
    running: int = 0  # containers alive, idle or busy
    changed: threading.Condition = field(default_factory=threading.Condition)
    # Threads that wait for a container: one per container the function may have.
    callers: ThreadPoolExecutor | None = None

    def acquire(self) -> Container:
        """A warm idle container, else a new one within the limit, else wait for one."""
        with self.changed:
            while not self.idle and self.running >= self.max_containers:
                self.changed.wait()
            if self.idle:
                return self.idle.pop()  # the most recently used: the warmest
            self.running += 1
        try:
            return Container(self)
        except BaseException:
            self.release(None)
            raise

    def release(self, container: Container | None) -> None:
        with self.changed:
            if container is not None and container.alive:
                self.idle.append(container)
            else:
                self.running -= 1
            self.changed.notify()

    def stop(self) -> None:
        with self.changed:
            idle, self.idle = self.idle, []
            self.running -= len(idle)
        for container in idle:
            container.stop()


class Runtime:
    def __init__(self, template: dict[str, Any], max_containers: int = DEFAULT_MAX_CONTAINERS) -> None:
        if max_containers < 1:
            raise ValueError("a function needs at least one container")
        self.template = template
        self.max_containers = max_containers
        self.functions: dict[str, Function] = {}
        self.after_invocation: list[Callable[[], None]] = []
        self._output = threading.Lock()

    def start(self, environment: dict[str, str]) -> None:
        """Set the environment, then start one container per function (the fork server imports every handler)."""
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(name, None)  # a real profile must never win over the fake credentials
        os.environ.update(environment)
        os.environ["PYTHONUNBUFFERED"] = "1"  # containers' log lines reach the stack's stdout as they are written
        for name, props in functions(self.template).items():
            code_root = str((ROOT / props["CodeUri"]).resolve())
            if code_root not in sys.path:
                sys.path.insert(0, code_root)  # the fork server gets this sys.path to import the handlers
            self.functions[name] = Function(
                name, props["Handler"], code_root, float(props.get("Timeout", 3)), int(props.get("MemorySize", 128)),
                self.max_containers,
                callers=ThreadPoolExecutor(max_workers=self.max_containers, thread_name_prefix=name),
            )
        # The runtime's root logger first (bootstrap), then the handlers, as Lambda imports them.
        FORK_SERVER.set_forkserver_preload(["localcloud.bootstrap", "localcloud.container",
                                            *sorted({f.handler.rsplit(".", 1)[0] for f in self.functions.values()})])
        with ThreadPoolExecutor(max_workers=len(self.functions)) as starting:
            warm = list(starting.map(lambda f: (f, f.acquire()), self.functions.values()))
        for function, container in warm:
            function.release(container)

    def stop(self) -> None:
        for function in self.functions.values():
            if function.callers is not None:
                function.callers.shutdown(wait=True, cancel_futures=True)
            function.stop()

    def recycle(self, function_name: str) -> None:
        """Stop the function's idle containers: its next events meet a cold start."""
        self.functions[function_name].stop()

    async def invoke(self, function_name: str, event: Any, label: str) -> Any:
        callers = self.functions[function_name].callers
        return await asyncio.get_running_loop().run_in_executor(callers, self.invoke_sync, function_name, event, label)

    def invoke_sync(self, function_name: str, event: Any, label: str) -> Any:
        function = self.functions[function_name]
        container = function.acquire()
        started = time.perf_counter()
        try:
            result = container.invoke(event)
        except InvocationError as error:
            self._log(function.name, label, f"error {error.kind}", started)
            raise
        finally:
            function.release(container)
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
