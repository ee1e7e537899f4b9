"""The notifier's FilterCriteria against the real stream records of real flows.

Each step of a login runs through the handlers; the DynamoDB stream records
it wrote are read back through the DynamoDB Streams API and put to the
template's own filter with localcloud.filters.record_matches, as Lambda would.
Status changes of subscribed sessions (scanned, confirmed, denied, cancelled)
pass; inserts, rate counters, connection attach/detach, redeem and status
changes of unsubscribed sessions do not.

moto's Streams API answers "Not yet implemented" under mock_aws (a routing
gap in decorator mode), so this module runs moto as a server on 127.0.0.1
(a free port) and points the handlers at it with AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from localcloud.events import stream_record
from localcloud.filters import record_matches
from localcloud.template import load_template, resources_of_type, signing_key_definition, table_definition
from qrlogin import deps
from tests.unit.conftest import Api, Login

pytestmark = pytest.mark.template

TEMPLATE = load_template()
(MAPPING,) = resources_of_type(TEMPLATE, "AWS::Lambda::EventSourceMapping").values()
FILTER_CRITERIA = MAPPING["Properties"]["FilterCriteria"]
REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


class StreamReader:
    """Reads a table's stream through the Streams API, each call returning only the records since the last."""

    def __init__(self, endpoint: str, stream_arn: str) -> None:
        self.client = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=endpoint)
        self.stream_arn = stream_arn
        (shard,) = self.client.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        self.iterator = self.client.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def new_records(self) -> list[dict[str, Any]]:
        """The records written since the last call, shaped as Lambda hands them to a function."""
        records: list[dict[str, Any]] = []
        for _ in range(100):  # bounded: each page is at most 1000 records, a step writes a handful
            page = self.client.get_records(ShardIterator=self.iterator)
            self.iterator = page["NextShardIterator"]
            if not page["Records"]:
                return records
            records += [stream_record(raw, self.stream_arn) for raw in page["Records"]]
        raise AssertionError("the stream did not run dry")


@pytest.fixture
def stack(settings_env, moto_endpoint, monkeypatch) -> dict[str, Any]:
    """The template's table and key in moto server; the handlers talk to it through AWS_ENDPOINT_URL."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    table_name = f"qrlogin-filter-{uuid.uuid4().hex[:8]}"  # the server lives for the module: no shared table
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint)
    table = dynamodb.create_table(**table_definition(TEMPLATE, table_name))["TableDescription"]
    kms = boto3.client("kms", region_name=REGION, endpoint_url=moto_endpoint)
    key = kms.create_key(**signing_key_definition(TEMPLATE))["KeyMetadata"]
    monkeypatch.setenv("TABLE_NAME", table_name)
    monkeypatch.setenv("SIGNING_KEY_ID", key["Arn"])
    deps.reset()
    yield {"stream": StreamReader(moto_endpoint, table["LatestStreamArn"])}
    deps.reset()


class Flow:
    """One login's steps through the handlers, each returning which of its stream records the filter lets through."""

    def __init__(self, stream: StreamReader, idp: Any) -> None:
        self.api = Api()
        self.stream = stream
        self.alice = idp.mint("alice", "Alice")
        self.passed: list[dict[str, Any]] = []

    def _verdicts(self) -> list[bool]:
        verdicts = []
        for record in self.stream.new_records():
            verdict = record_matches(FILTER_CRITERIA, record)
            verdicts.append(verdict)
            if verdict:
                self.passed.append(record)
        return verdicts

    def issue(self) -> tuple[Login, list[bool]]:
        result = self.api.http("POST", "/sessions")
        assert result.status == 201, result.body
        return Login(result.body["session_id"], result.body["browser_token"], result.body), self._verdicts()

    def subscribe(self, login: Login, connection_id: str) -> list[bool]:
        body = {"action": "subscribe", "session_id": login.session_id, "browser_token": login.browser_token}
        assert '"type":"status"' in self.api.ws("subscribe", connection_id=connection_id, body=body)["body"]
        return self._verdicts()

    def phone(self, login: Login, step: str) -> list[bool]:
        result = self.api.http("POST", f"/sessions/{login.session_id}/{step}", token=self.alice)
        assert result.status == 200, result.body
        return self._verdicts()

    def redeem(self, login: Login) -> list[bool]:
        assert self.api.http("POST", f"/sessions/{login.session_id}/token", token=login.browser_token).status == 200
        return self._verdicts()

    def cancel(self, login: Login) -> list[bool]:
        assert self.api.http("DELETE", f"/sessions/{login.session_id}", token=login.browser_token).status == 204
        return self._verdicts()

    def detach(self, login: Login, connection_id: str) -> list[bool]:
        # What the notifier does when API Gateway answers 410 Gone for the connection.
        deps.store().detach_connection(login.session_id, connection_id)
        return self._verdicts()


def blocked(verdicts: list[bool]) -> bool:
    """The step wrote to the stream and the filter let none of it through.

    (How many records a step writes is moto's business: an UpdateItem that
    creates an item shows up as two INSERTs there, one in DynamoDB.)
    """
    return bool(verdicts) and not any(verdicts)


def passed_once(verdicts: list[bool]) -> bool:
    return verdicts == [True]


def test_only_status_changes_of_subscribed_sessions_pass(stack, idp):
    flow = Flow(stack["stream"], idp)
    connection = "L0SM9cOFvHcCIhw="

    # Given a session issued (a rate counter write, then the session's insert)
    login, issued = flow.issue()
    assert blocked(issued)
    # When the browser subscribes (attach), the phone scans and confirms, the browser redeems, the socket goes
    assert blocked(flow.subscribe(login, connection))
    assert passed_once(flow.phone(login, "scan"))
    assert passed_once(flow.phone(login, "confirm"))
    assert blocked(flow.redeem(login))
    assert blocked(flow.detach(login, connection))

    # And a second session from the same address (the rate counter is updated), subscribed, then denied
    denied, issued = flow.issue()
    assert blocked(issued)
    assert blocked(flow.subscribe(denied, "b1SM9cOFvHcCIhw="))
    assert passed_once(flow.phone(denied, "deny"))

    # And a third, subscribed, cancelled by its browser
    cancelled, _ = flow.issue()
    assert blocked(flow.subscribe(cancelled, "c2SM9cOFvHcCIhw="))
    assert passed_once(flow.cancel(cancelled))

    # Then exactly those four status changes passed, with the statuses the notifier pushes
    assert [r["dynamodb"]["NewImage"]["status"]["S"] for r in flow.passed] == [
        "scanned", "confirmed", "denied", "cancelled"]
    assert {r["eventName"] for r in flow.passed} == {"MODIFY"}


def test_status_changes_of_unsubscribed_sessions_do_not_pass(stack, idp):
    flow = Flow(stack["stream"], idp)

    # Given sessions nobody subscribed to (a browser polling GET /sessions/{id} instead)
    scanned, _ = flow.issue()
    cancelled, _ = flow.issue()
    # When their status changes: scanned, denied after a scan, cancelled
    # Then each is on the stream and none of them invokes the notifier
    assert blocked(flow.phone(scanned, "scan"))
    assert blocked(flow.phone(scanned, "deny"))
    assert blocked(flow.cancel(cancelled))
    assert flow.passed == []


def test_the_filter_is_what_the_notifier_expects():
    # The notifier skips anything but status writes; the filter must not let through what it would skip.
    (pattern,) = FILTER_CRITERIA["Filters"]
    record = {"eventName": "MODIFY", "dynamodb": {"NewImage": {
        "last_write": {"S": "connection"}, "subscribed": {"BOOL": True}, "status": {"S": "scanned"}}}}
    assert "last_write" in pattern["Pattern"] and not record_matches(FILTER_CRITERIA, record)
