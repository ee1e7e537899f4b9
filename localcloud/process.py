"""The local stack as a child process, for tests, benchmarks and scripts.

    with StackProcess("SessionTtlSeconds=3") as stack:
        stack.base_url       # http://127.0.0.1:<free port>
        stack.output()       # its stdout lines so far (one per invocation)

It runs ``python -m localcloud --port 0`` exactly as a developer would, waits
for the ``ready`` line, keeps draining stdout (so a chatty stack never blocks
on a full pipe) and stops it with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from types import TracebackType
from typing import IO

from localcloud.template import ROOT

READY_PREFIX = "ready "


class StackFailed(RuntimeError):
    pass


class StackProcess:
    def __init__(self, *params: str, host: str = "127.0.0.1", startup_timeout_s: float = 60.0,
                 env: dict[str, str] | None = None) -> None:
        self.command = [sys.executable, "-m", "localcloud", "--host", host, "--port", "0"]
        for param in params:
            self.command += ["--param", param]
        self.env = {**os.environ, **(env or {})}
        self.startup_timeout_s = startup_timeout_s
        self.base_url = ""
        self._lines: list[str] = []
        self._ready = threading.Event()
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None

    def start(self) -> StackProcess:
        # A file, not a pipe: nobody has to drain it, and it is there to read when startup fails.
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed in __exit__)
        self._process = subprocess.Popen(self.command, cwd=ROOT, env=self.env,  # noqa: S603 (our own command)
                                         stdout=subprocess.PIPE, stderr=self._stderr, text=True, bufsize=1)
        threading.Thread(target=self._drain, name="localcloud-stdout", daemon=True).start()
        if not self._ready.wait(self.startup_timeout_s) or not self.base_url:
            self.stop()
            raise StackFailed(f"localcloud did not get ready:\n{self.stderr()[-4000:]}")
        return self

    def _drain(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            line = line.rstrip("\n")
            if not self.base_url and line.startswith(READY_PREFIX):
                self.base_url = line[len(READY_PREFIX):]
                self._ready.set()
            else:
                self._lines.append(line)
        self._ready.set()  # exited: stop waiting

    def output(self) -> list[str]:
        return list(self._lines)

    def stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self, timeout_s: float = 15.0) -> int | None:
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        return self._process.returncode

    def __enter__(self) -> StackProcess:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
