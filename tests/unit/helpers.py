"""Assertions and readers shared by the unit tier's tests."""

from __future__ import annotations

import copy
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodbstreams.models import dynamodbstreams_backends

from localcloud.events import stream_record
from localcloud.filters import record_matches
from localcloud.template import load_template, resources_of_type

(_MAPPING,) = resources_of_type(load_template(), "AWS::Lambda::EventSourceMapping").values()
# The notifier's event source mapping filter, as template.yaml states it.
FILTER_CRITERIA = _MAPPING["Properties"]["FilterCriteria"]

ERROR_STATUSES = {
    "invalid_request": 400, "authorization_pending": 400, "access_denied": 400, "expired_token": 400,
    "invalid_grant": 400, "unauthorized": 401, "not_found": 404, "conflict": 409, "expired": 410,
    "payload_too_large": 413, "rate_limited": 429, "auth_unavailable": 503,
}


def assert_error(result: Any, status: int, code: str) -> None:
    """The contract's error envelope: exact status, JSON ``{"error", "message"}`` and nothing else."""
    assert (result.status, (result.body or {}).get("error")) == (status, code), result.body
    assert result.headers["content-type"] == "application/json"
    assert set(result.body) == {"error", "message"}
    assert isinstance(result.body["message"], str) and result.body["message"]
    assert "Traceback" not in result.body["message"]


def assert_json(result: Any, status: int) -> None:
    assert result.status == status, result.body
    assert result.headers["content-type"] == "application/json"


class StreamReader:
    """The table's stream, read through moto's Streams backend; each call returns the records since the last.

    These are the Streams API's DescribeStream, GetShardIterator and GetRecords
    run in-process: under mock_aws the Streams API itself answers "Not yet
    implemented".  Records are shaped as Lambda hands them to a function.
    """

    def __init__(self, stream_arn: str) -> None:
        self.backend = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        self.stream_arn = stream_arn
        (shard,) = self.backend.describe_stream(stream_arn)["Shards"]
        self.iterator = self.backend.get_shard_iterator(stream_arn, shard["ShardId"], "TRIM_HORIZON").arn

    def new_records(self) -> list[dict[str, Any]]:
        page = self.backend.get_records(self.iterator, 1000)
        self.iterator = page["NextShardIterator"]
        return [stream_record(copy.deepcopy(raw), self.stream_arn) for raw in page["Records"]]

    def delivered(self) -> list[dict[str, Any]]:
        """The new records the event source mapping's FilterCriteria let through to the notifier."""
        return [r for r in self.new_records() if record_matches(FILTER_CRITERIA, r)]
