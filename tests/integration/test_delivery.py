"""Push delivery: the Management API, stale connections, and the notifier's retries."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from botocore.exceptions import ClientError

from localcloud.cloud import client
from localcloud.template import load_template

pytestmark = pytest.mark.integration


async def management_client(api):
    """The handlers' own kind of client: boto3 apigatewaymanagementapi at CONNECTIONS_URL."""
    return client("apigatewaymanagementapi", (await api.stack_info())["connections_url"])


async def connection_of(api, login) -> str:
    (connection_id,) = await api.connections_of(login)
    return connection_id


def test_management_api_reaches_the_socket_and_answers_gone_as_botocore_expects(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a subscribed socket, whose connection id the session item holds
            login = await api.create()
            socket = await api.socket()
            await api.subscribe(socket, login)
            connection_id = await connection_of(api, login)
            management = await management_client(api)

            # When the Management API posts to it, the socket receives the data
            await asyncio.to_thread(management.post_to_connection, ConnectionId=connection_id, Data=b'{"hello":1}')
            assert await api.next_message(socket) == {"hello": 1}
            described = await asyncio.to_thread(management.get_connection, ConnectionId=connection_id)
            assert described["Identity"]["SourceIp"] == "127.0.0.1"
            assert described["Identity"]["UserAgent"].startswith("Mozilla/5.0")

            # Then an unknown connection is GoneException (410) to botocore
            with pytest.raises(ClientError) as gone:
                await asyncio.to_thread(management.post_to_connection, ConnectionId="bm90LWEtY29ubmVjdGlvbg=",
                                        Data=b"{}")
            assert gone.value.response["Error"]["Code"] == "GoneException"
            assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410

            # And deleting the connection closes the socket
            await asyncio.to_thread(management.delete_connection, ConnectionId=connection_id)
            closing = await socket.receive(timeout=15)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    run(scenario())


def test_a_stale_connection_is_dropped_from_the_session_and_others_still_get_the_push(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a session subscribed on two sockets, the first of which has gone away
            login = await api.create()
            stale, live = await api.socket(), await api.socket()
            await api.subscribe(stale, login)
            stale_id = await connection_of(api, login)
            await api.subscribe(live, login)
            (live_id,) = await api.connections_of(login) - {stale_id}
            await stale.close()
            management = await management_client(api)
            with pytest.raises(ClientError, match="GoneException"):
                await asyncio.to_thread(management.get_connection, ConnectionId=stale_id)
            assert await api.connections_of(login) == {stale_id, live_id}  # $disconnect forgets lazily

            # When the session changes
            await api.phone("scan", login, await api.phone_token("frank", "Frank"))

            # Then the live socket gets the push and the stale connection is removed from the item
            assert (await api.next_status(live, login, "scanned"))["user"] == "Frank"

            async def only_live_left() -> bool:
                return await api.connections_of(login) == {live_id}

            await api.wait_until(only_live_left)

    run(scenario())


def test_a_failed_push_is_reported_as_a_partial_batch_failure_and_retried(clients, run, stack):
    async def scenario():
        async with clients() as api:
            # Given two sessions on two sockets, and the next pushes to the first socket failing with 500:
            # four in a row, because the handlers' botocore client (qrlogin/aws.py, max_attempts 3 counts
            # retries) makes one attempt and three retries before the notifier sees the error
            first, second = await api.create(), await api.create()
            first_socket, second_socket = await api.socket(), await api.socket()
            await api.subscribe(first_socket, first)
            await api.subscribe(second_socket, second)
            failing = await connection_of(api, first)
            armed = await api.request("POST", "/dev/faults", body={"connection_id": failing, "status": 500, "times": 4})
            assert armed.status == 204

            # When both sessions change and the notifier gets both records in one batch
            assert (await api.request("POST", "/dev/stream", body={"paused": True})).status == 200
            try:
                await api.phone("scan", first, await api.phone_token("gina", "Gina"))
                await api.phone("scan", second, await api.phone_token("hugo", "Hugo"))
            finally:
                assert (await api.request("POST", "/dev/stream", body={"paused": False})).status == 200

            # Then both browsers get their push: the failed record was retried
            assert (await api.next_status(second_socket, second, "scanned"))["user"] == "Hugo"
            assert (await api.next_status(first_socket, first, "scanned"))["user"] == "Gina"
            # And the retry came from the notifier's partial batch response, not a lucky client retry
            faults = (await api.request("GET", "/dev/faults")).body
            assert faults[failing]["remaining"] == 0
            partial = re.compile(r"^NotifierFunction stream 2 records 200 batchItemFailures=1 \d+ms$")

            async def partial_failure_logged() -> bool:  # the line follows the invocation, the pushes come within
                return any(partial.match(line) for line in stack.output())

            await api.wait_until(partial_failure_logged, lambda: "\n".join(stack.output()[-12:]))

    run(scenario())


def test_a_push_that_keeps_failing_is_dropped_after_the_templates_retries_and_the_stream_moves_on(
        clients, run, stack):
    mapping = load_template()["Resources"]["NotifierStreamMapping"]["Properties"]

    async def scenario():
        async with clients() as api:
            # Given a subscribed socket whose pushes always fail with 500
            stuck = await api.create()
            stuck_socket = await api.socket()
            await api.subscribe(stuck_socket, stuck)
            failing = await connection_of(api, stuck)
            await api.request("POST", "/dev/faults", body={"connection_id": failing, "status": 500, "times": 10_000})
            already = len(stack.output())

            # When its session changes
            await api.phone("scan", stuck, await api.phone_token("ines", "Ines"))

            # Then the notifier is invoked once plus MaximumRetryAttempts times, and the record is dropped
            def since_start() -> list[str]:
                return stack.output()[already:]

            async def dropped() -> bool:
                return any(line.startswith("NotifierFunction dropped 1 stream record(s)") for line in since_start())

            await api.wait_until(dropped, lambda: "\n".join(since_start()))
            failed = [line for line in since_start() if line.startswith("NotifierFunction stream 1 record error")]
            assert len(failed) == 1 + mapping["MaximumRetryAttempts"]

            # And the stream is not stuck: the next change of another session is pushed
            other = await api.create()
            other_socket = await api.socket()
            await api.subscribe(other_socket, other)
            await api.phone("scan", other, await api.phone_token("jack", "Jack"))
            assert (await api.next_status(other_socket, other, "scanned"))["user"] == "Jack"

    run(scenario())
