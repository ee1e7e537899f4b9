"""The stream notifier: pushes each status change to the session's connections.

Invoked by the DynamoDB stream (FilterCriteria let through only status
changes of subscribed sessions).  410 Gone means the browser left: the
connection is dropped from the session and not retried.  Any other failure
marks that record failed, so Lambda retries it (partial batch response);
browsers drop duplicates by ``version``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from qrlogin import deps
from qrlogin.observability import count, logger, metrics, session_ref
from qrlogin.store import LAST_WRITE_STATUS, session_from_item

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def push_status(record: DynamoDBRecord) -> None:
    image = record.raw_event.get("dynamodb", {}).get("NewImage") or {}
    if image.get("last_write", {}).get("S") != LAST_WRITE_STATUS or "session_id" not in image:
        return  # not a status change (the template's filter normally keeps these away)
    session = session_from_item(image)
    data = json.dumps(session.status_message(time.time()), separators=(",", ":")).encode()
    failed = False
    for connection_id in sorted(session.connections):
        try:
            # No per-push count: each push follows a transition its metric filter counts already, and an
            # EMF document per push would be most of a login's log bytes (docs/performance.md). What can
            # go wrong is counted: ConnectionGone below, failed batches in the notifier's failure queue.
            deps.connections().post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "GoneException":
                deps.store().detach_connection(session.session_id, connection_id)
                count("ConnectionGone")
                continue
            failed = True
            logger.warning("push failed", extra={"session_ref": session_ref(session.session_id),
                                                  "error": error.response.get("Error", {}).get("Code")})
    if failed:
        raise RuntimeError(f"push failed for session {session_ref(session.session_id)}")
    # The transition was logged where it happened; a push is detail (failures are warnings).
    logger.debug("status pushed", extra={"session_ref": session_ref(session.session_id), "status": session.status.value,
                                         "version": session.version, "connections": len(session.connections)})


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=push_status, processor=processor, context=context))
