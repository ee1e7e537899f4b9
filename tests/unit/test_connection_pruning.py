"""Issue 14: reconnects never reach the connection cap (the newest connection evicts the older ones).

``$disconnect`` keeps no record (docs/design.md, departure 2), so every
reconnect of one browser leaves a dead id on its session.  A subscribe to a
full session replaces the set with the subscribing connection instead of
being refused; the notifier then pushes to that one connection only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from localcloud.events import LambdaContext
from qrlogin import deps
from qrlogin.store import MAX_CONNECTIONS
from tests.unit.conftest import TABLE_NAME, handler_for
from tests.unit.helpers import StreamReader


def subscribe(api, login, connection_id: str, token: str | None = None) -> dict[str, Any]:
    body = {"action": "subscribe", "session_id": login.session_id, "browser_token": token or login.browser_token}
    reply = api.ws("subscribe", connection_id=connection_id, body=body)
    assert reply["statusCode"] == 200
    message: dict[str, Any] = json.loads(reply["body"])
    return message


def connections_of(read_item, login) -> set[str]:
    return set(read_item(login.session_id).get("connections", {}).get("SS", []))


@pytest.fixture
def management_api() -> Iterator[Stubber]:
    with Stubber(deps.connections()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_twelve_reconnects_of_one_code_are_all_subscribed(api, issue, read_item):
    # Given a pending code whose browser reconnects twelve times (each socket a new connection id)
    login = issue()
    connections = [api.new_connection() for _ in range(12)]

    # When each new connection subscribes
    replies = [subscribe(api, login, connection) for connection in connections]

    # Then every subscribe gets the snapshot, none is refused by the cap,
    # and the session holds the newest connection and never more than the cap
    assert [reply["type"] for reply in replies] == ["status"] * 12
    held = connections_of(read_item, login)
    assert connections[-1] in held
    assert len(held) <= MAX_CONNECTIONS
    assert connections[0] not in held  # the oldest, dead ids were evicted


def test_the_eleventh_connection_evicts_the_ten_older_ones(api, issue, read_item):
    # Given a session holding the cap of connections
    login = issue()
    older = [api.new_connection() for _ in range(MAX_CONNECTIONS)]
    for connection in older:
        assert subscribe(api, login, connection)["type"] == "status"
    assert connections_of(read_item, login) == set(older)
    version = read_item(login.session_id)["version"]

    # When one more connection subscribes
    newest = api.new_connection()
    reply = subscribe(api, login, newest)

    # Then it gets the snapshot, the session holds it alone, and no transition happened
    assert (reply["type"], reply["status"], reply["version"]) == ("status", "pending", 1)
    item = read_item(login.session_id)
    assert item["connections"] == {"SS": [newest]}
    assert item["version"] == version
    assert item["last_write"] == {"S": "connection"}  # the stream's filter keeps this away from the notifier


def test_a_repeat_subscribe_of_a_held_connection_evicts_nothing(api, issue, read_item):
    # Given a session holding the cap of connections
    login = issue()
    held = [api.new_connection() for _ in range(MAX_CONNECTIONS)]
    for connection in held:
        subscribe(api, login, connection)

    # When one of them subscribes again
    assert subscribe(api, login, held[3])["type"] == "status"

    # Then the set is unchanged
    assert connections_of(read_item, login) == set(held)


def test_a_wrong_token_on_a_full_session_is_not_found_and_evicts_nothing(api, issue, read_item):
    # Given a session holding the cap of connections
    login = issue()
    held = [api.new_connection() for _ in range(MAX_CONNECTIONS)]
    for connection in held:
        subscribe(api, login, connection)

    # When somebody without its browser token subscribes
    reply = subscribe(api, login, api.new_connection(), token="A" * 43)

    # Then it is not_found, as for an unknown session, and the connections stay
    assert (reply["type"], reply["error"]) == ("error", "not_found")
    assert connections_of(read_item, login) == set(held)


def test_after_an_eviction_the_push_goes_to_the_newest_connection_only(
        api, flow, read_item, management_api, aws, clock):
    # Given a session whose eleventh connection evicted the ten older ones
    stream = StreamReader(aws["dynamodb"].describe_table(TableName=TABLE_NAME)["Table"]["LatestStreamArn"])
    login = flow.issue()
    for _ in range(MAX_CONNECTIONS):
        subscribe(api, login, api.new_connection())
    newest = api.new_connection()
    subscribe(api, login, newest)

    # When the phone scans and the stream delivers the change
    assert flow.scan(login).status == 200
    (record,) = stream.delivered()
    management_api.add_response("post_to_connection", {}, {"ConnectionId": newest, "Data": ANY})
    result = handler_for("NotifierFunction")(json.loads(json.dumps({"Records": [record]})),
                                            LambdaContext("NotifierFunction"))

    # Then one post went to the newest connection (the Stubber would fail on any other) and none failed
    assert result == {"batchItemFailures": []}
