"""DESIGN §2: two racing requests, exactly one wins (one conditional UpdateItem each).

Twenty threads start together behind a barrier, each acting as its own warm
Lambda container: its own SessionStore and token signer with their own
boto3 clients, calling the same use cases the handlers call (a handler adds
only parsing, and a container serves one request at a time, so threads
sharing one Powertools resolver would test the harness, not the service).
Outcomes are mapped to HTTP by the handlers' own ``error_response``.

moto applies a conditional write as read-check-write in Python with no lock:
probing 30 runs of 20 different-user scans without one gave two or three
winners in 9 runs.  DynamoDB applies each write atomically, so here each
boto3 API call runs under one lock (``OneCallAtATime``) - the call layer only;
the service logic between calls (read, sign, write) still interleaves freely.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from qrlogin import errors, service
from qrlogin.config import Settings
from qrlogin.http import error_response
from qrlogin.sessions import PhoneUser
from qrlogin.signing import TokenSigner, signer_for
from qrlogin.store import MAX_CONNECTIONS, SessionStore
from tests.unit.conftest import TABLE_NAME

THREADS = 20
ALICE = PhoneUser("alice", "Alice")
_AWS_CALLS = threading.Lock()  # one for all clients: moto's backend is one


class OneCallAtATime:
    """A boto3 client whose API calls run one at a time, as DynamoDB applies each write atomically."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with _AWS_CALLS:
                return attribute(*args, **kwargs)

        return call


@dataclass
class Container:
    store: SessionStore
    signer: TokenSigner
    settings: Settings


@pytest.fixture(scope="module")
def warm_clients() -> list[tuple[OneCallAtATime, OneCallAtATime]]:
    """A DynamoDB and a KMS client per container, made once (client creation is slow and not thread-safe).

    moto intercepts every client made after it is imported, so these serve
    each test's own mock_aws; they carry their own test credentials.
    """
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="us-east-1")
    return [(OneCallAtATime(session.client("dynamodb")), OneCallAtATime(session.client("kms")))
            for _ in range(THREADS)]


@pytest.fixture
def containers(aws, settings_env, warm_clients) -> list[Container]:
    """One warm container per thread, each with its own clients."""
    settings = Settings.from_env()
    containers = []
    for dynamodb, kms in warm_clients:
        store = SessionStore(TABLE_NAME, client=dynamodb)
        containers.append(Container(store, signer_for(settings, store, client=kms), settings))
    return containers


def race(containers: list[Container], call: Callable[[int, Container], Any]) -> list[tuple[int, Any]]:
    """Runs ``call(i, container)`` on every container at once; returns (HTTP status, body) per thread."""
    barrier = threading.Barrier(len(containers))

    def run(i: int) -> tuple[int, Any]:
        barrier.wait()
        try:
            return 200, call(i, containers[i])
        except errors.DomainError as error:
            response = error_response(error)
            return response.status_code, error.code

    with ThreadPoolExecutor(max_workers=len(containers)) as pool:
        return list(pool.map(run, range(len(containers))))


def test_twenty_users_scanning_at_once_one_wins(flow, containers, read_item):
    # Given a pending session
    login = flow.issue()

    # When twenty different users scan it at the same moment
    results = race(containers, lambda i, c: service.scan(
        c.store, login.session_id, PhoneUser(f"user{i}"), source_ip="198.51.100.9", now=time.time()))

    # Then exactly one gets 200, the other nineteen 409, and one transition was written
    assert Counter(status for status, _ in results) == {200: 1, 409: THREADS - 1}
    (winner,) = [i for i, (status, _) in enumerate(results) if status == 200]
    item = read_item(login.session_id)
    assert item["user_sub"] == {"S": f"user{winner}"}
    assert item["version"] == {"N": "2"}


def test_the_same_user_scanning_twenty_times_at_once_writes_once(flow, containers, read_item):
    # Given a pending session
    login = flow.issue()

    # When Alice's scan arrives twenty times at once (retries)
    results = race(containers, lambda i, c: service.scan(
        c.store, login.session_id, ALICE, source_ip="198.51.100.9", now=time.time()))

    # Then all get 200 with the same body, and the version moved once
    assert [status for status, _ in results] == [200] * THREADS
    assert len({repr(body) for _, body in results}) == 1
    assert read_item(login.session_id)["version"] == {"N": "2"}


def test_confirm_racing_deny_exactly_one_transition_wins(flow, containers, read_item):
    # Given a session Alice scanned
    login = flow.drive("scan:alice")

    # When ten confirms and ten denies from her phone arrive at once
    def call(i: int, c: Container) -> Any:
        action = service.confirm if i % 2 else service.deny
        return action(c.store, login.session_id, ALICE, now=time.time())

    results = race(containers, call)

    # Then one kind all succeed (one write plus repeats), the other kind all get 409, version 3
    item = read_item(login.session_id)
    final = item["status"]["S"]
    assert final in ("confirmed", "denied")
    winners = {i for i, (status, _) in enumerate(results) if status == 200}
    assert winners == {i for i in range(THREADS) if (i % 2 == 1) == (final == "confirmed")}
    assert all(body == "conflict" for i, (status, body) in enumerate(results) if i not in winners)
    assert item["version"] == {"N": "3"}


def test_cancel_racing_confirm_exactly_one_transition_wins(flow, containers, read_item):
    # Given a session Alice scanned
    login = flow.drive("scan:alice")

    # When the browser cancels ten times while her phone confirms ten times
    def call(i: int, c: Container) -> Any:
        if i % 2:
            return service.confirm(c.store, login.session_id, ALICE, now=time.time())
        return service.cancel(c.store, login.session_id, login.browser_token, now=time.time())

    results = race(containers, call)

    # Then the session is either cancelled or confirmed, after exactly one transition
    item = read_item(login.session_id)
    assert item["version"] == {"N": "3"}
    cancels = Counter(status for i, (status, _) in enumerate(results) if i % 2 == 0)
    confirms = Counter(status for i, (status, _) in enumerate(results) if i % 2 == 1)
    if item["status"]["S"] == "cancelled":
        # a cancel is not idempotent: exactly one of the ten was the write
        assert cancels == {200: 1, 409: 9} and confirms == {409: 10}
    else:
        assert item["status"]["S"] == "confirmed"
        assert confirms == {200: 10} and cancels == {409: 10}


@pytest.mark.parametrize("signing_mode", ["envelope", "kms"])
def test_twenty_redeems_at_once_yield_exactly_one_id_token(flow, containers, read_item, signing_mode):
    # (envelope mode: the twenty containers also race to create the stack's signing key)
    # Given a confirmed session
    login = flow.drive("scan:alice", "confirm:alice")

    # When its browser redeems from twenty containers at once
    results = race(containers, lambda i, c: service.redeem(
        c.store, c.signer, login.session_id, login.browser_token, now=time.time()))

    # Then exactly one gets an id_token and nineteen get invalid_grant; redeemed once
    assert Counter(status for status, _ in results) == {200: 1, 400: THREADS - 1}
    assert {body for status, body in results if status == 400} == {"invalid_grant"}
    (token,) = [body["id_token"] for status, body in results if status == 200]
    assert token.count(".") == 2
    item = read_item(login.session_id)
    assert (item["status"], item["version"]) == ({"S": "redeemed"}, {"N": "4"})


def test_twenty_issues_at_once_respect_the_rate_limit(aws, containers, monkeypatch):
    # Given a limit of 5 sessions per IP per minute
    monkeypatch.setenv("ISSUE_RATE_LIMIT_PER_MINUTE", "5")
    settings = Settings.from_env()
    now = float(int(time.time()) // 60 * 60 + 1)  # one minute for every thread

    # When one IP asks twenty times at once
    results = race(containers, lambda i, c: service.issue_session(
        c.store, settings, source_ip="203.0.113.9", user_agent="ua", now=now))

    # Then exactly five sessions are issued and fifteen are rate limited
    assert Counter(status for status, _ in results) == {200: 5, 429: 15}
    items = aws["dynamodb"].scan(TableName=TABLE_NAME, ConsistentRead=True)["Items"]
    assert len([i for i in items if i["pk"]["S"].startswith("session#")]) == 5


def test_twenty_subscriptions_at_once_all_get_the_snapshot_and_stay_within_the_connection_limit(
        flow, containers, read_item):
    # Given a pending session
    login = flow.issue()
    message = {"action": "subscribe", "session_id": login.session_id, "browser_token": login.browser_token}

    # When twenty connections subscribe to it at once
    results = race(containers, lambda i, c: service.subscribe(c.store, message, f"conn{i:02d}=", now=time.time()))

    # Then every one gets the snapshot (a full set is replaced by the newest, issue 14) and the item never holds more
    assert Counter(status for status, _ in results) == {200: THREADS}
    item = read_item(login.session_id)
    assert 1 <= len(item["connections"]["SS"]) <= MAX_CONNECTIONS
    assert item["version"] == {"N": "1"}  # subscribing is not a transition
