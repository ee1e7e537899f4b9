"""The stream poller: Lambda's DynamoDB event source mapping, run locally.

It reads the table's stream through the DynamoDB Streams API (moto's server),
shapes records as Lambda hands them to a function, drops those the mapping's
FilterCriteria reject, and invokes the function with up to BatchSize records,
shard by shard and in order, as Lambda does:

- ``batchItemFailures`` (ReportBatchItemFailures): the batch is retried from
  the failed record with the lowest sequence number; records before it count
  as processed.
- A function error: the batch is split in two and each half retried
  (BisectBatchOnFunctionError), or retried whole.
- After MaximumRetryAttempts retries, or once a record is older than
  MaximumRecordAgeInSeconds, the records are dropped with a log line (Lambda
  would send them to the on-failure destination).
- Checkpoints: per shard, the sequence number of the last record done with
  (delivered, dropped, or rejected by the filter).  ``restart()`` (a test
  hook, ``POST /dev/stream {"restart": true}``) abandons what is in flight
  and resumes AFTER each checkpoint, or where the shard was first read when
  nothing is checkpointed yet: never from LATEST, so nothing written in the
  meantime is skipped.  What was in flight is delivered again (at least
  once, as Lambda does; browsers drop duplicates by version).

Latency: the poller sleeps between polls, briefly while there is traffic and
longer when idle; ``wake()`` (called by the runtime after every invocation,
which is what writes to the table locally) makes it poll at once.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.events import stream_record
from localcloud.filters import record_matches
from localcloud.runtime import InvocationError
from localcloud.template import resources_of_type

ACTIVE_INTERVAL_S = 0.02
IDLE_INTERVAL_S = 0.5
# How long after the last record or wake-up the poller stays on the short interval.
ACTIVE_FOR_S = 3.0
RETRY_BACKOFF_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.0)
GET_RECORDS_LIMIT = 1000

Record = dict[str, Any]
Invoke = Callable[[dict[str, Any], str], Any]


@dataclass(frozen=True)
class StreamMapping:
    """The template's event source mapping for the table's stream."""

    function_name: str
    batch_size: int
    starting_position: str
    max_retries: int  # -1: until the record expires
    bisect_on_error: bool
    report_item_failures: bool
    max_record_age_s: int  # -1: no limit
    filter_criteria: dict[str, Any] | None


def stream_mapping(template: dict[str, Any], table_logical_id: str) -> StreamMapping:
    for props in (r["Properties"] for r in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values()):
        if props["EventSourceArn"] == {"Fn::GetAtt": [table_logical_id, "StreamArn"]}:
            return StreamMapping(
                function_name=props["FunctionName"]["Ref"],
                batch_size=int(props.get("BatchSize", 100)),
                starting_position=props.get("StartingPosition", "LATEST"),
                max_retries=int(props.get("MaximumRetryAttempts", -1)),
                bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                report_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                max_record_age_s=int(props.get("MaximumRecordAgeInSeconds", -1)),
                filter_criteria=props.get("FilterCriteria"),
            )
    raise LookupError(f"no event source mapping reads the stream of {table_logical_id}")


class StreamPoller:
    def __init__(self, streams: Any, stream_arn: str, mapping: StreamMapping, invoke: Invoke) -> None:
        self.streams = streams
        self.stream_arn = stream_arn
        self.mapping = mapping
        self.invoke = invoke
        self.paused = threading.Event()  # a test hook: hold records back to batch them
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterators: dict[str, str | None] = {}
        self._first_iterators: dict[str, str] = {}  # where each shard was first read from
        self.checkpoints: dict[str, str] = {}  # shard -> last sequence number done with
        self.restarts = 0
        self._active_until = 0.0

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Take the starting position now (LATEST: records written from here on), then poll."""
        self._discover_shards(self.mapping.starting_position)
        self._start_thread()

    def _start_thread(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def restart(self, while_stopped: Callable[[], None] = lambda: None) -> None:
        """Stop polling (abandoning a batch in flight), then resume after the checkpoints."""
        self.stop(timeout=None)  # an invocation in flight ends within the function's timeout
        while_stopped()
        for shard_id in self._iterators:
            checkpoint = self.checkpoints.get(shard_id)
            self._iterators[shard_id] = self._first_iterators[shard_id] if checkpoint is None else \
                self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id,
                                                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                                SequenceNumber=checkpoint)["ShardIterator"]
        self.restarts += 1
        self._start_thread()

    def wake(self) -> None:
        self._wake.set()

    # -- polling -----------------------------------------------------------

    def _discover_shards(self, position: str) -> None:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            if shard["ShardId"] not in self._iterators:
                iterator = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType=position,
                )["ShardIterator"]
                self._iterators[shard["ShardId"]] = self._first_iterators[shard["ShardId"]] = iterator

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            interval = ACTIVE_INTERVAL_S if now < self._active_until else IDLE_INTERVAL_S
            if self._wake.wait(interval):
                self._wake.clear()
                self._active_until = time.monotonic() + ACTIVE_FOR_S
            if self._stop.is_set() or self.paused.is_set():
                continue
            try:
                if self.poll_once():
                    self._active_until = time.monotonic() + ACTIVE_FOR_S
            except Exception as error:  # keep polling, as Lambda's poller does through errors
                print(f"stream poller: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
                self._stop.wait(IDLE_INTERVAL_S)

    def poll_once(self) -> int:
        """Read every shard once and deliver what passes the filter; returns records read."""
        read = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue  # a closed shard, fully read
            response = self.streams.get_records(ShardIterator=iterator, Limit=GET_RECORDS_LIMIT)
            self._iterators[shard_id] = response.get("NextShardIterator")
            records = [stream_record(raw, self.stream_arn) for raw in response["Records"]]
            read += len(records)
            passing = [r for r in records if record_matches(self.mapping.filter_criteria, r)]
            for start in range(0, len(passing), self.mapping.batch_size):
                batch = passing[start:start + self.mapping.batch_size]
                if not self.deliver(batch):
                    return read  # abandoned by a restart: the checkpoint stays before this batch
                self.checkpoints[shard_id] = batch[-1]["dynamodb"]["SequenceNumber"]
            if records:
                self.checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]  # filtered ones too
            if self._iterators[shard_id] is None:
                self._discover_shards("TRIM_HORIZON")  # the shard closed: its children start at their beginning
        return read

    # -- delivery ----------------------------------------------------------

    def deliver(self, batch: list[Record], attempt: int = 0) -> bool:
        """Invoke until the batch is processed, retries run out, or its records expire.

        False when a restart stopped it first: the batch is neither processed nor dropped.
        """
        while batch:
            if self._stop.is_set():
                return False
            batch = self._drop_expired(batch)
            if not batch:
                return True
            label = f"stream {len(batch)} record{'s' if len(batch) != 1 else ''}"
            try:
                result = self.invoke({"Records": batch}, label)
            except InvocationError:
                if self.mapping.bisect_on_error and len(batch) > 1:
                    half = len(batch) // 2
                    return self.deliver(batch[:half], attempt + 1) and self.deliver(batch[half:], attempt + 1)
            else:
                batch = self._unprocessed(batch, result)
                if not batch:
                    return True
            attempt += 1
            if 0 <= self.mapping.max_retries < attempt:
                self._drop(batch, f"after {self.mapping.max_retries} retries")
                return True
            self._stop.wait(RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S)) - 1])
        return True

    def _unprocessed(self, batch: list[Record], result: Any) -> list[Record]:
        """The records to retry: from the lowest failed sequence number on."""
        if not self.mapping.report_item_failures or not isinstance(result, dict):
            return []
        failures = result.get("batchItemFailures") or []
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        failed = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in sequence_numbers:
                return batch  # Lambda treats an empty or unknown identifier as the whole batch failing
            failed.append(sequence_numbers.index(identifier))
        return batch[min(failed):] if failed else []

    def _drop_expired(self, batch: list[Record]) -> list[Record]:
        if self.mapping.max_record_age_s < 0:
            return batch
        oldest_allowed = time.time() - self.mapping.max_record_age_s
        expired = [r for r in batch if r["dynamodb"]["ApproximateCreationDateTime"] < oldest_allowed]
        if expired:
            self._drop(expired, f"older than {self.mapping.max_record_age_s} s")
        return [r for r in batch if r not in expired]

    def _drop(self, records: list[Record], why: str) -> None:
        first, last = records[0]["dynamodb"]["SequenceNumber"], records[-1]["dynamodb"]["SequenceNumber"]
        print(f"{self.mapping.function_name} dropped {len(records)} stream record(s) {first}..{last} {why} "
              "(on AWS: sent to the on-failure destination)", flush=True)
