"""DESIGN §3, delivery: the stream notifier pushes each status change to the session's connections.

The records are the real ones: every step runs through the handlers, and the
stream records moto wrote for it are read back from moto's DynamoDB Streams
backend (DescribeStream, GetShardIterator, GetRecords in-process: under
mock_aws the Streams API answers "Not yet implemented"), shaped as Lambda
hands them over (``localcloud.events.stream_record``) and passed through the
template's own FilterCriteria, as the event source mapping would.

API Gateway's Management API is moto-less here: botocore's Stubber on the
notifier's own client (``deps.connections()``) answers each post with exactly
the success, 410 Gone or other failure the test needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.stub import Stubber

from localcloud.events import LambdaContext
from localcloud.filters import record_matches
from qrlogin import deps
from tests.unit.conftest import TABLE_NAME, handler_for
from tests.unit.helpers import FILTER_CRITERIA, StreamReader


@pytest.fixture
def stream(aws, clock) -> StreamReader:
    arn = aws["dynamodb"].describe_table(TableName=TABLE_NAME)["Table"]["LatestStreamArn"]
    return StreamReader(arn)


@pytest.fixture
def management_api() -> Iterator[Stubber]:
    """The notifier's Management API client, answering only what the test queued."""
    with Stubber(deps.connections()) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


class JsonOf:
    """Equal to bytes that are the JSON of ``expected`` (key order aside)."""

    def __init__(self, expected: dict[str, Any]) -> None:
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        return isinstance(other, bytes) and json.loads(other) == self.expected

    def __repr__(self) -> str:
        return f"JsonOf({self.expected!r})"


def notify(records: list[dict[str, Any]]) -> dict[str, Any]:
    event = json.loads(json.dumps({"Records": records}))  # what Lambda delivers is JSON
    return handler_for("NotifierFunction")(event, LambdaContext("NotifierFunction"))


def subscribe(api, login, connection_id: str) -> None:
    reply = api.ws("subscribe", connection_id=connection_id,
                   body={"action": "subscribe", "session_id": login.session_id, "browser_token": login.browser_token})
    assert json.loads(reply["body"])["type"] == "status"


def status_message(login, status: str, version: int, expires_at: int, user: str | None = "Alice") -> JsonOf:
    expected = {"type": "status", "session_id": login.session_id, "status": status, "version": version,
                "expires_at": expires_at}
    if user:
        expected["user"] = user
    return JsonOf(expected)


def sequence_number(record: dict[str, Any]) -> str:
    return record["dynamodb"]["SequenceNumber"]


@pytest.mark.parametrize(("steps", "status", "version", "user"), [
    (("scan:alice",), "scanned", 2, "Alice"),
    (("scan:alice", "confirm:alice"), "confirmed", 3, "Alice"),
    (("deny:alice",), "denied", 2, "Alice"),
    (("cancel",), "cancelled", 2, None),
])
def test_a_status_change_is_pushed_to_every_connection_of_the_session(
        api, flow, stream, management_api, read_item, steps, status, version, user):
    # Given a session its browser subscribed to from two tabs
    login = flow.issue()
    connections = sorted([api.new_connection(), api.new_connection()])
    for connection in connections:
        subscribe(api, login, connection)

    # When the session changes status, and the stream delivers the change
    for step in steps:
        assert flow.act(step, login).status in (200, 204)
    record = stream.delivered()[-1]
    item = read_item(login.session_id)
    for connection in connections:
        management_api.add_response("post_to_connection", {}, {
            "ConnectionId": connection,
            "Data": status_message(login, status, version, int(item["expires_at"]["N"]), user)})
    result = notify([record])

    # Then each connection was sent the status message and the batch reports no failure
    assert result == {"batchItemFailures": []}


def test_only_status_changes_of_subscribed_sessions_reach_the_notifier(api, flow, stream):
    # Given a session that was issued, subscribed, scanned, confirmed and redeemed, and one never subscribed
    login = flow.issue()
    subscribe(api, login, api.new_connection())
    for step in ("scan:alice", "confirm:alice", "redeem"):
        assert flow.act(step, login).status == 200
    unwatched = flow.drive("scan:alice")

    # When the stream's records are put to the template's filter
    records = stream.new_records()
    delivered = [r for r in records if record_matches(FILTER_CRITERIA, r)]

    # Then only the scan and confirm of the subscribed session pass (not the insert, attach, redeem, or the other)
    assert [r["dynamodb"]["NewImage"]["status"]["S"] for r in delivered] == ["scanned", "confirmed"]
    assert {r["dynamodb"]["Keys"]["pk"]["S"] for r in delivered} == {f"session#{login.session_id}"}
    assert any(r["dynamodb"]["Keys"]["pk"]["S"] == f"session#{unwatched.session_id}" for r in records)


def test_records_that_are_not_status_changes_are_ignored_if_they_arrive(api, flow, stream, management_api):
    # Given the records of an issue (rate counter, session insert) and a subscribe (the filter keeps them away)
    login = flow.issue()
    subscribe(api, login, api.new_connection())
    records = stream.new_records()
    kinds = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"].split("#")[0]) for r in records]
    assert sorted(set(kinds)) == [("INSERT", "rate"), ("INSERT", "session"), ("MODIFY", "session")]
    assert not any(record_matches(FILTER_CRITERIA, r) for r in records)

    # When they reach the notifier anyway, Then nothing is posted (the Stubber has nothing queued) and none fail
    assert notify(records) == {"batchItemFailures": []}


def test_a_gone_connection_is_dropped_from_the_session_and_not_retried(api, flow, stream, management_api, read_item):
    # Given a session subscribed by a tab that has since closed, and by one still open
    login = flow.issue()
    gone, alive = sorted([api.new_connection(), api.new_connection()])
    subscribe(api, login, gone)
    subscribe(api, login, alive)

    # When Alice scans and the Management API answers 410 Gone for the closed tab
    assert flow.scan(login).status == 200
    (record,) = stream.delivered()
    management_api.add_client_error("post_to_connection", service_error_code="GoneException", http_status_code=410,
                                    expected_params={"ConnectionId": gone, "Data": status_message(
                                        login, "scanned", 2, login.body["expires_at"])})
    management_api.add_response("post_to_connection", {}, {"ConnectionId": alive, "Data": status_message(
        login, "scanned", 2, login.body["expires_at"])})
    result = notify([record])

    # Then no failure is reported, the closed tab is forgotten, the open one kept, and the version is unchanged
    assert result == {"batchItemFailures": []}
    item = read_item(login.session_id)
    assert item["connections"] == {"SS": [alive]}
    assert item["version"] == {"N": "2"}
    # And forgetting it is not a status change: nothing new reaches the notifier
    assert stream.delivered() == []


def test_another_failure_fails_only_that_record_of_the_batch(api, flow, stream, management_api, read_item):
    # Given two subscribed sessions, both scanned, delivered in one batch
    first, second = flow.issue(), flow.issue()
    first_connection, second_connection = api.new_connection(), api.new_connection()
    subscribe(api, first, first_connection)
    subscribe(api, second, second_connection)
    assert flow.scan(first).status == 200 and flow.scan(second).status == 200
    records = stream.delivered()
    assert len(records) == 2

    # When the push for the first fails with a throttling error and the second goes through
    management_api.add_client_error("post_to_connection", service_error_code="LimitExceededException",
                                    http_status_code=429, expected_params={"ConnectionId": first_connection,
                                                                           "Data": status_message(
                                                                               first, "scanned", 2,
                                                                               first.body["expires_at"])})
    management_api.add_response("post_to_connection", {}, {"ConnectionId": second_connection, "Data": status_message(
        second, "scanned", 2, second.body["expires_at"])})
    result = notify(records)

    # Then only the first record is reported failed (Lambda retries it), and its connection is kept
    assert result == {"batchItemFailures": [{"itemIdentifier": sequence_number(records[0])}]}
    assert read_item(first.session_id)["connections"] == {"SS": [first_connection]}


def test_a_batch_whose_every_record_fails_is_failed_whole(api, flow, stream, management_api):
    # Given one subscribed session, scanned
    login = flow.issue()
    connection = api.new_connection()
    subscribe(api, login, connection)
    assert flow.scan(login).status == 200
    (record,) = stream.delivered()

    # When its only push fails with a server error
    management_api.add_client_error("post_to_connection", service_error_code="InternalServerError",
                                    http_status_code=500)

    # Then the invocation fails, so Lambda retries the batch (with bisect, per the template)
    with pytest.raises(BatchProcessingError):
        notify([record])
