"""Load, fault and hostile-input tier: the local stack (``python -m localcloud``) on loopback.

Stacks are started once per distinct set of parameters (and purpose) and
shared by the tests that ask for the same; each logs at the template's level
(LogLevel=INFO, not the local default WARN), and when it stops its stdout and
stderr are searched for every browser token, phone token and id_token any
client saw (``stackclient.SECRETS``): one found fails the run.  Waits are
bounded; nothing asserts on how long something took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
from stackclient import NO_RATE_LIMIT, SECRETS, Clients

from bench.load import leaked
from localcloud.process import StackProcess

T = TypeVar("T")
# The template's default level (a test's own LogLevel parameter, given later, wins).
LOG_LEVEL = "LogLevel=INFO"


class Stacks:
    def __init__(self) -> None:
        self.running: dict[tuple[str, ...], StackProcess] = {}

    def get(self, *params: str, purpose: str = "shared", env: dict[str, str] | None = None) -> StackProcess:
        key = (purpose, *params)
        if key not in self.running:
            self.running[key] = StackProcess(LOG_LEVEL, *params, env=env).start()
        return self.running[key]

    def stop_all(self) -> list[str]:
        """Stop every stack; the secrets found in their logs."""
        found = []
        for key, stack in self.running.items():
            stack.stop()
            found += [f"{key}: {secret}" for secret in leaked(SECRETS, "\n".join(stack.output()), stack.stderr())]
        self.running.clear()
        return found


# The in-process property tests use the unit tier's moto AWS and settings, not a copy of them.
from tests.unit.conftest import aws, idp, settings_env, signing_mode  # noqa: E402, F401


@pytest.fixture(scope="session")
def stacks() -> Iterator[Stacks]:
    pool = Stacks()
    yield pool
    found = pool.stop_all()
    assert not found, f"secrets in the local stack's logs: {found}"


@pytest.fixture(scope="session")
def stack(stacks: Stacks) -> StackProcess:
    """The shared stack: template defaults, no issue rate limit."""
    return stacks.get(NO_RATE_LIMIT)


@pytest.fixture
def clients(stack: StackProcess) -> Callable[[], Clients]:
    """``async with clients() as api: ...`` against the shared stack."""
    return lambda: Clients(stack.base_url)


@pytest.fixture
def run() -> Callable[[Awaitable[T]], T]:
    """Runs a test's async scenario to completion (bounded)."""

    def run_bounded(scenario: Awaitable[T]) -> T:
        return asyncio.run(asyncio.wait_for(scenario, timeout=120))  # type: ignore[arg-type]

    return run_bounded
