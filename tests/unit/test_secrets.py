"""DESIGN §3: browser tokens, phone tokens and id_tokens never appear in logs or error messages.

Everything written during a whole login, failures included, is captured:
the Powertools logger's own stream (it writes JSON lines to stdout through a
handler made at import), every other logger at the production level (INFO),
and stdout/stderr (EMF metrics are printed).  Then each secret is looked for
in all of it, whole and by its signature part.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives.asymmetric import ec

from localcloud.events import LambdaContext
from qrlogin import deps
from qrlogin.observability import session_ref
from tests.unit.conftest import TABLE_NAME, handler_for
from tests.unit.helpers import StreamReader


def secret_forms(token: str) -> list[str]:
    """The token, and for a JWT its signature part (a log line may hold a token split or cut)."""
    parts = token.split(".")
    return [token, parts[-1]] if len(parts) == 3 and parts[-1] else [token]


def test_a_whole_login_with_failures_logs_no_secret(api, aws, flow, idp, clock, all_output):
    responses: list[tuple[str, Any]] = []

    def keep(label: str, result: Any) -> Any:
        responses.append((label, result.body if hasattr(result, "body") else result))
        return result

    stream = StreamReader(aws["dynamodb"].describe_table(TableName=TABLE_NAME)["Table"]["LatestStreamArn"])
    forged = idp.mint("alice", "Alice", key=ec.generate_private_key(ec.SECP256R1()))
    alice, bob = flow.tokens["alice"], flow.tokens["bob"]

    # Given a browser that gets a session and subscribes over the WebSocket
    login = flow.issue()
    connection = api.new_connection()
    subscribe = {"action": "subscribe", "session_id": login.session_id, "browser_token": login.browser_token}
    keep("subscribe", json.loads(api.ws("subscribe", connection_id=connection, body=subscribe)["body"]))
    keep("subscribe-wrong", json.loads(api.ws("subscribe", connection_id=connection,
                                              body={**subscribe, "browser_token": "X" * 43})["body"]))

    # When phones scan (a forged token, another user, the right one), confirm, and the change is pushed
    keep("scan-forged", api.http("POST", f"/sessions/{login.session_id}/scan", token=forged))
    keep("confirm-early", flow.confirm(login))
    keep("scan", flow.scan(login))
    keep("scan-bob", flow.scan(login, "bob"))
    keep("confirm-bob", flow.confirm(login, "bob"))
    keep("confirm", flow.confirm(login))
    with Stubber(deps.connections()) as management_api:
        management_api.add_client_error("post_to_connection", service_error_code="GoneException",
                                        http_status_code=410)
        (record,) = stream.delivered()[-1:]
        keep("notify", handler_for("NotifierFunction")({"Records": [record]}, LambdaContext("NotifierFunction")))

    # And the browser polls with a wrong token, redeems twice, and cancels too late
    keep("status-wrong", api.http("GET", f"/sessions/{login.session_id}", token="Y" * 43))
    keep("status", flow.status(login))
    redeemed = keep("redeem", flow.redeem(login))
    keep("redeem-again", flow.redeem(login))
    keep("cancel-late", flow.cancel(login))
    keep("redeem-no-token", api.http("POST", f"/sessions/{login.session_id}/token"))

    # Then the login really happened, with its failures
    assert redeemed.status == 200
    id_token = redeemed.body["id_token"]
    statuses = {label: (body or {}).get("error") for label, body in responses if isinstance(body, dict)}
    assert statuses["scan-forged"] == "unauthorized" and statuses["scan-bob"] == "conflict"
    assert statuses["redeem-again"] == "invalid_grant" and statuses["subscribe-wrong"] == "not_found"

    # And no secret appears anywhere in what was logged or printed
    output = all_output()
    assert "session issued" in output and session_ref(login.session_id) in output  # the capture did capture
    assert login.session_id not in output  # DESIGN §3: session ids are not logged, their hashes are
    secrets = {
        "browser token": login.browser_token,
        "alice's phone token": alice, "bob's phone token": bob, "forged phone token": forged,
        "id_token": id_token,
    }
    for name, secret in secrets.items():
        for form in secret_forms(secret):
            assert form not in output, f"the {name} was logged"

    # And no error message (nor any error body) carries one either
    errors = [body for label, body in responses if isinstance(body, dict) and "error" in body]
    assert len(errors) >= 7
    for body in errors:
        text = json.dumps(body)
        for name, secret in secrets.items():
            for form in secret_forms(secret):
                assert form not in text, f"the {name} is in an error: {body}"



@pytest.mark.parametrize(("signing_mode", "first_kms_call"), [("kms", "get_public_key"), ("envelope", "encrypt")])
def test_a_signing_failure_during_redeem_logs_no_secret_and_leaves_the_session_redeemable(
        flow, read_item, all_output, signing_mode, first_kms_call):
    # Given a confirmed session, and KMS failing the redeem's first KMS call (on a stack that has not
    # signed yet: in kms mode, GetPublicKey to record the KMS key in the keyring; in envelope mode,
    # Encrypt of the stack's new key). moto cannot fail, so a Stubber does.
    login = flow.drive("scan:alice", "confirm:alice")
    before = read_item(login.session_id)

    # When the browser redeems
    with Stubber(deps.signer().client) as kms:
        kms.add_client_error(first_kms_call, service_error_code="KMSInternalException", http_status_code=500)
        failed = flow.redeem(login)
        kms.assert_no_pending_responses()  # the intended KMS call is the one that failed

    # Then it is a 503 that carries no token, nothing was written, and nothing secret was logged
    assert failed.status == 503 and failed.body["error"] == "temporarily_unavailable"
    assert failed.headers.get("retry-after") == "1"
    assert read_item(login.session_id) == before
    output = all_output()
    for secret in (login.browser_token, flow.tokens["alice"]):
        assert secret not in output and secret not in json.dumps(failed.body)

    # And once KMS signs again, the same redeem succeeds
    redeemed = flow.redeem(login)
    assert redeemed.status == 200
    for form in secret_forms(redeemed.body["id_token"]):
        assert form not in all_output()


def test_the_log_event_switch_cannot_make_a_handler_log_its_event(flow, all_output, monkeypatch):
    # Given an operator who turns on Powertools' event logging by environment variable
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    login = flow.issue()

    # When the phone scans and the browser polls (events carrying both tokens)
    flow.scan(login)
    flow.status(login)

    # Then neither token was logged: every handler passes log_event=False itself
    output = all_output()
    assert "session scanned" in output  # the capture did capture
    for secret in (login.browser_token, flow.tokens["alice"]):
        assert secret not in output
