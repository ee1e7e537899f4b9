"""Faults: failing pushes, stale connections, DynamoDB throttles, KMS failures, a restarted notifier.

Each runs against a stack of its own purpose (faults arm the whole stack) through
the local-only hooks: ``/dev/faults`` (Management API per connection, AWS per
operation, gateway per route), ``/dev/stream`` (pause, restart).  Introspection failures are in
test_introspection.py.
"""

from __future__ import annotations

import re

import jwt
import pytest
from stackclient import NO_RATE_LIMIT, Api, Clients, Login, next_status, wait_until

pytestmark = pytest.mark.load

# The handlers' botocore clients retry throttles and 5xx (qrlogin/aws.py): arm more than they try.
EXHAUSTING = 10
GONE_ARMED = 100


@pytest.fixture(scope="module")
def fault_stack(stacks):
    return stacks.get(NO_RATE_LIMIT, purpose="faults")


@pytest.fixture
def api_for(fault_stack, run):
    """``run(api_for(scenario))``: the scenario gets an Api on the fault stack; faults are cleared after."""

    async def with_api(scenario):
        async with Clients(fault_stack.base_url) as api:
            try:
                return await scenario(api)
            finally:
                await api.clear_faults()
                await api.stream(paused=False)

    return with_api


async def subscribed_socket(api: Api, login: Login):
    socket = await api.socket()
    snapshot = await api.subscribe(socket, login)
    assert snapshot["status"] == "pending", snapshot
    return socket


def new_lines(stack, since: int) -> list[str]:
    return stack.output()[since:]


# -- the notifier ---------------------------------------------------------------


def test_pushes_failing_for_several_connections_are_retried_from_the_partial_batch_and_all_delivered(
        api_for, fault_stack, run):
    async def scenario(api: Api):
        # Given four sessions, each watched by two sockets, and pushes to one socket of the
        # first and of the third session failing (enough times to beat the client's own retries)
        logins = [await api.create() for _ in range(4)]
        sockets = {login.session_id: [await subscribed_socket(api, login) for _ in range(2)] for login in logins}
        failing = []
        for login in (logins[0], logins[2]):
            connection = sorted(await api.connections_of(login))[0]
            await api.fault(connection_id=connection, status=500, times=4)
            failing.append(connection)
        since = len(fault_stack.output())

        # When all four change while the poller holds the stream, so one batch carries them all
        await api.stream(paused=True)
        for i, login in enumerate(logins):
            assert (await api.phone("scan", login, await api.phone_token(f"multi-{i}", f"Multi {i}"))).status == 200
        await api.stream(paused=False)

        # Then every socket of every session gets its push (the failed records were retried)
        for i, login in enumerate(logins):
            for socket in sockets[login.session_id]:
                message = await next_status(socket, login, "scanned")
                assert (message["version"], message["user"]) == (2, f"Multi {i}")
        # And the retries came from the notifier's partial batch response
        faults = await api.faults()
        assert [faults[c]["remaining"] for c in failing] == [0, 0]
        partial = re.compile(r"^NotifierFunction stream \d records? 200 batchItemFailures=[12] \d+ms$")

        async def partial_failure_logged() -> bool:
            return any(partial.match(line) for line in new_lines(fault_stack, since))

        await wait_until(partial_failure_logged, lambda: "\n".join(new_lines(fault_stack, since)))
        assert not any(line.startswith("NotifierFunction dropped") for line in new_lines(fault_stack, since))

    run(api_for(scenario))


def test_a_connection_answering_gone_is_dropped_after_one_call_without_retries_or_errors(api_for, fault_stack, run):
    async def scenario(api: Api):
        # Given a session watched by two sockets, one of which API Gateway says is gone (410)
        login = await api.create()
        live = await subscribed_socket(api, login)
        (live_id,) = await api.connections_of(login)
        await subscribed_socket(api, login)
        (gone_id,) = await api.connections_of(login) - {live_id}
        await api.fault(connection_id=gone_id, status=410, times=GONE_ARMED)
        since, stderr_before = len(fault_stack.output()), len(fault_stack.stderr())

        # When the session changes twice
        token = await api.phone_token("gwen", "Gwen")
        scan = await api.phone("scan", login, token)
        await next_status(live, login, "scanned")

        async def gone_dropped() -> bool:
            return await api.connections_of(login) == {live_id}

        await wait_until(gone_dropped)
        confirm = await api.phone("confirm", login, token)
        await next_status(live, login, "confirmed")

        # Then nobody saw an error: the phone's calls succeeded, the notifier reported no failure
        assert (scan.status, confirm.status) == (200, 200)
        lines = new_lines(fault_stack, since)
        notifier = [line for line in lines if line.startswith("NotifierFunction")]
        assert notifier and all(re.match(r"^NotifierFunction stream \d+ records? 200 \d+ms$", n) for n in notifier)
        assert "Traceback" not in fault_stack.stderr()[stderr_before:]
        # And the gone connection was called exactly once: no retry storm, and not again after the drop
        assert (await api.faults())[gone_id]["remaining"] == GONE_ARMED - 1

    run(api_for(scenario))


# -- DynamoDB throttles -----------------------------------------------------------

THROTTLE = {"error": "ProvisionedThroughputExceededException", "status": 400}


async def pending(api: Api) -> tuple[Login, str]:
    return await api.create(), await api.phone_token("tess", "Tess")


async def scanned(api: Api) -> tuple[Login, str]:
    login, token = await pending(api)
    assert (await api.phone("scan", login, token)).status == 200
    return login, token


async def confirmed(api: Api) -> tuple[Login, str]:
    login, token = await scanned(api)
    assert (await api.phone("confirm", login, token)).status == 200
    return login, token


# (given, the call, the operation throttled, the status a success answers)
TRANSITIONS = {
    "scan": (pending, lambda api, login, token: api.phone("scan", login, token), "UpdateItem", 200),
    "confirm": (scanned, lambda api, login, token: api.phone("confirm", login, token), "UpdateItem", 200),
    "deny": (scanned, lambda api, login, token: api.phone("deny", login, token), "UpdateItem", 200),
    "cancel": (pending, lambda api, login, token: api.cancel(login), "UpdateItem", 204),
    "redeem (read)": (confirmed, lambda api, login, token: api.redeem(login), "GetItem", 200),
    "redeem (write)": (confirmed, lambda api, login, token: api.redeem(login), "UpdateItem", 200),
}


@pytest.mark.parametrize("name", list(TRANSITIONS))
def test_a_throttled_transition_is_a_503_with_retry_after_and_changes_nothing(api_for, run, name):
    given, call, operation, success = TRANSITIONS[name]

    async def scenario(api: Api):
        # Given a session ready for the transition, and DynamoDB throttling that operation
        login, token = await given(api)
        before = await api.item(login)
        await api.fault(operation=f"dynamodb:{operation}", times=EXHAUSTING, **THROTTLE)

        # When the client calls
        reply = await call(api, login, token)

        # Then it is told to retry later, not a false success
        assert reply.status == 503, reply.body
        assert reply.body["error"] == "temporarily_unavailable"
        assert int(reply.headers["retry-after"]) >= 1
        # And the throttle really was met (the client's retries ran into it too)
        assert (await api.faults())[f"DynamoDB_20120810.{operation}"]["remaining"] < EXHAUSTING - 1
        # And nothing was half-applied: the item is exactly as it was
        await api.clear_faults()
        assert await api.item(login) == before

        # And once the throttling stops, the same call succeeds and changes the session once
        again = await call(api, login, token)
        assert again.status == success, again.body
        assert int((await api.item(login))["version"]["N"]) == int(before["version"]["N"]) + 1

    run(api_for(scenario))


def test_a_throttled_issue_creates_no_session_and_says_retry(api_for, run):
    async def scenario(api: Api):
        await api.fault(operation="dynamodb:PutItem", times=EXHAUSTING, **THROTTLE)
        reply = await api.call("POST", "/sessions", body={})
        assert reply.status == 503 and reply.body["error"] == "temporarily_unavailable"
        assert int(reply.headers["retry-after"]) >= 1
        assert "browser_token" not in reply.body and "session_id" not in reply.body

    run(api_for(scenario))


def test_a_throttled_status_read_is_a_503_not_a_wrong_answer(api_for, run):
    async def scenario(api: Api):
        login = await api.create()
        await api.fault(operation="dynamodb:GetItem", times=EXHAUSTING, **THROTTLE)
        reply = await api.call("GET", f"/sessions/{login.session_id}", token=login.browser_token)
        assert (reply.status, reply.body["error"]) == (503, "temporarily_unavailable")

    run(api_for(scenario))


# -- route faults (the gateways) ----------------------------------------------------

TOKEN_ROUTE = "POST /sessions/{session_id}/token"


def test_a_route_fault_answers_its_next_requests_then_the_function_does(api_for, run):
    async def scenario(api: Api):
        # Given a pending session, and its token route armed: once as a failed function, then once with a reply
        login = await api.create()
        refused = await api.call("POST", "/dev/faults", body={"route": "POST /nowhere", "times": 1})
        assert (refused.status, refused.body["error"]) == (400, "invalid_request")
        await api.fault(route=TOKEN_ROUTE, times=1)
        assert (await api.redeem(login)).body == {"message": "Internal Server Error"}
        await api.fault(route=TOKEN_ROUTE, times=2, status=418, body={"played": True})
        assert (await api.redeem(login)).status == 418
        assert (await api.faults())[TOKEN_ROUTE] == {"status": 418, "remaining": 1}

        # When the faults are cleared, the function answers again
        await api.clear_faults()
        reply = await api.redeem(login)
        assert (reply.status, reply.body["error"]) == (400, "authorization_pending")

    run(api_for(scenario))


# -- KMS --------------------------------------------------------------------------


# Whatever the signing mode calls: kms signs with Sign; envelope decrypts (or first encrypts) its key with KMS.
KMS_OPERATIONS = ("Sign", "Decrypt", "Encrypt", "GenerateDataKeyPair", "GetPublicKey")


@pytest.mark.parametrize(("error", "status"), [("KMSInternalException", 500), ("DisabledException", 400)])
def test_kms_failing_at_redeem_is_an_error_and_the_login_stays_redeemable(stacks, run, error, status):
    # A stack of its own, where no container has used the signing key yet (envelope mode keeps it once decrypted)
    kms_stack = stacks.get(NO_RATE_LIMIT, purpose=f"kms-{error}")

    async def scenario():
        async with Clients(kms_stack.base_url) as api:
            # Given a confirmed session, and KMS failing
            login, _ = await confirmed(api)
            for operation in KMS_OPERATIONS:
                await api.fault(operation=f"kms:{operation}", error=error, status=status, times=EXHAUSTING)

            # When the browser redeems
            reply = await api.redeem(login)

            # Then it gets an error that says retry, and the session is still confirmed (the login is not lost)
            assert (reply.status, reply.body["error"]) == (503, "temporarily_unavailable"), reply.body
            assert "id_token" not in reply.body
            assert await api.state(login) == ("confirmed", 3)

            # And once KMS is back, the same redeem succeeds, with a token the published key verifies
            await api.clear_faults()
            again = await api.redeem(login)
            assert again.status == 200, again.body
            jwks = (await api.call("GET", "/.well-known/jwks.json")).body
            key = jwt.PyJWK(jwks["keys"][0])
            claims = jwt.decode(again.body["id_token"], key.key, algorithms=["ES256"], options={"verify_aud": False})
            assert claims["sub"] == "tess"
            # And exactly once
            assert (await api.redeem(login)).body["error"] == "invalid_grant"

    run(scenario())


# -- the notifier restarted mid-stream ---------------------------------------------


def test_records_written_while_the_notifier_restarts_are_not_skipped(api_for, run):
    async def scenario(api: Api):
        # Given five watched sessions whose changes wait in the stream
        logins = [await api.create() for _ in range(5)]
        sockets = [await subscribed_socket(api, login) for login in logins]
        restarts = (await api.call("GET", "/dev/stream")).body["restarts"]
        await api.stream(paused=True)
        for i, login in enumerate(logins):
            assert (await api.phone("scan", login, await api.phone_token(f"wait-{i}", f"Wait {i}"))).status == 200

        # When the poller and the notifier restart, then go on
        state = await api.stream(restart=True)
        assert state["restarts"] == restarts + 1
        await api.stream(paused=False)

        # Then every change written before the restart is still delivered
        for i, (login, socket) in enumerate(zip(logins, sockets, strict=True)):
            assert (await next_status(socket, login, "scanned"))["user"] == f"Wait {i}"

    run(api_for(scenario))


def test_a_batch_in_flight_when_the_notifier_restarts_is_delivered_after_the_restart(api_for, fault_stack, run):
    async def scenario(api: Api):
        # Given a session whose pushes fail for now, its change already being retried by the notifier
        stuck = await api.create()
        stuck_socket = await subscribed_socket(api, stuck)
        (connection,) = await api.connections_of(stuck)
        await api.fault(connection_id=connection, status=500, times=10_000)
        since = len(fault_stack.output())
        assert (await api.phone("scan", stuck, await api.phone_token("ivan", "Ivan"))).status == 200

        # A batch of one that fails whole is a function error (Powertools): retried all the same.
        async def retrying() -> bool:
            return any(line.startswith("NotifierFunction stream 1 record error")
                       for line in new_lines(fault_stack, since))

        await wait_until(retrying, lambda: "\n".join(new_lines(fault_stack, since)))
        before = (await api.call("GET", "/dev/stream")).body["checkpoints"]

        # When the notifier restarts mid-retry (held), a later change arrives, and the pushes work again
        await api.stream(paused=True, restart=True)
        later = await api.create()
        later_socket = await subscribed_socket(api, later)
        assert (await api.phone("scan", later, await api.phone_token("jane", "Jane"))).status == 200
        await api.clear_faults()
        await api.stream(paused=False)

        # Then the change that was in flight is delivered after the restart, and so is the later one
        assert (await next_status(stuck_socket, stuck, "scanned"))["user"] == "Ivan"
        assert (await next_status(later_socket, later, "scanned"))["user"] == "Jane"
        assert not any(line.startswith("NotifierFunction dropped") for line in new_lines(fault_stack, since))
        # And the checkpoint moves on past them (it is taken once the notifier has returned)
        async def checkpoint_moved() -> bool:
            after = (await api.call("GET", "/dev/stream")).body["checkpoints"]
            return bool(after) and all(int(seq) > int(before.get(shard, 0)) for shard, seq in after.items())

        await wait_until(checkpoint_moved)

    run(api_for(scenario))
