"""DESIGN §7: no secret in any log at any level, with the Lambda runtime's root logger at DEBUG.

Each signing mode gets a stack started with ``LogLevel=DEBUG`` (so the
template's ``ApplicationLogLevel`` is DEBUG, and the local runtime puts the
Lambda runtime's JSON handler on the ROOT logger at DEBUG, where botocore
would log whole KMS and DynamoDB bodies) and with metrics on, as deployed.
Full logins run through it (``FLOWS``: add a flow of yours to have its
secrets searched too), then everything the stack wrote, stdout and stderr,
is searched (``logscan.Secrets``) for every token the clients saw and for
the key material behind them, read from moto: the PKCS#8 signing key
(decrypted from its item with moto's KMS) in envelope mode; the KMS Sign
request's message and its DER signature in kms mode.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from localcloud.cloud import client
from localcloud.process import StackProcess
from tests.integration.conftest import Client, Clients
from tests.integration.device_flow import device_login
from tests.integration.logscan import Secrets, signing_keys
from tests.integration.oidc_flow import oidc_login

pytestmark = pytest.mark.integration

def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def qr_login(api: Client, secrets: Secrets) -> None:
    """A QR login watched over the WebSocket, with the refusals a browser and a phone can meet."""
    login = await api.create()
    secrets.token("browser token", login.browser_token)
    secrets.text("session id", login.session_id)  # not a secret, but never logged either (DESIGN §3)
    phone = await api.phone_token("dora", "Dora")
    secrets.token("phone token", phone)
    socket = await api.socket()
    assert (await api.subscribe(socket, login))["status"] == "pending"
    assert (await api.phone("scan", login, phone + "x")).status == 401
    assert (await api.phone("scan", login, phone)).status == 200
    assert (await api.phone("confirm", login, phone)).status == 200
    await api.next_status(socket, login, "confirmed")  # the notifier pushed it (its DEBUG line)
    wrong = await api.request("POST", f"/sessions/{login.session_id}/token", token=phone)
    assert wrong.status == 404, wrong.body
    redeemed = await api.redeem(login)
    assert redeemed.status == 200, redeemed.body
    id_token = redeemed.body["id_token"]
    secrets.token("id_token", id_token)
    assert (await api.redeem(login)).status == 400
    header, payload, signature = id_token.split(".")
    # kms mode signs "header.payload" in KMS (MessageType RAW); KMS answers a DER signature.
    secrets.binary("KMS Sign message", f"{header}.{payload}".encode("ascii"))
    raw = b64url_decode(signature)
    secrets.binary("KMS Sign signature (DER)", encode_dss_signature(int.from_bytes(raw[:32], "big"),
                                                                    int.from_bytes(raw[32:], "big")))
    assert (await api.request("GET", "/.well-known/jwks.json")).status == 200


# Every flow whose secrets the logs must not hold; each adds what it saw to the Secrets.
FLOWS: list[Callable[[Client, Secrets], Awaitable[None]]] = [qr_login, oidc_login, device_login]


@pytest.fixture(scope="module", params=["envelope", "kms"])
def debug_logs(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, str, Secrets]]:
    """(signing mode, stdout, stderr, secrets) of a LogLevel=DEBUG stack after every flow ran."""
    mode = request.param
    secrets = Secrets()
    stack = StackProcess(f"SigningKeyMode={mode}", "LogLevel=DEBUG", env={"POWERTOOLS_METRICS_DISABLED": "false"})
    with stack:
        async def run_flows() -> dict[str, Any]:
            async with Clients(stack.base_url) as api:
                for flow in FLOWS:
                    await flow(api, secrets)
                return await api.stack_info()

        info = asyncio.run(asyncio.wait_for(run_flows(), timeout=120))
        endpoint = info["aws_endpoint"]
        keys = signing_keys(client("dynamodb", endpoint), client("kms", endpoint), info["table_name"])
        stack.stop()  # every line written and drained
        stdout, stderr = "\n".join(stack.output()), stack.stderr()
    if mode == "envelope":
        assert keys, "no signing-key item could be decrypted: the key's forms would not be searched"
    for number, pkcs8 in enumerate(keys):
        secrets.private_key(f"signing key {number}", pkcs8)
    yield mode, stdout, stderr, secrets


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def test_debug_was_really_on_in_the_functions_and_the_runtimes_root_logger(debug_logs):
    mode, stdout, _, _ = debug_logs
    lines = json_lines(stdout)
    # Our own DEBUG line (Powertools, at the level Lambda's advanced logging controls set)
    assert any(line.get("level") == "DEBUG" and line.get("message") == "status pushed" for line in lines), mode
    # And a DEBUG record through the runtime's root handler (its JSON names the logger), at cold start
    root = [line for line in lines if "logger" in line and "requestId" in line]
    assert any(line["level"] == "DEBUG" and line["logger"] == "qrlogin.observability" for line in root), mode
    # And each Powertools line is written once: the runtime's handler existed when Powertools' Logger was made,
    # so Logger's filter keeps its records out of the root handler (as on Lambda)
    assert not [line for line in root if line["logger"] == "qrlogin"], mode


def test_a_debug_stack_logs_no_secret_through_full_logins(debug_logs):
    mode, stdout, stderr, secrets = debug_logs
    assert len(secrets) >= 5  # browser token, phone token, id_token, KMS message and signature (+ the key)
    found = secrets.found_in(stdout, stderr)
    assert not found, f"secrets in the {mode} stack's logs: {found}"


def test_the_scanner_finds_each_form_it_looks_for():
    # Given secrets of each kind
    secrets = Secrets()
    secrets.token("id_token", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXBhcnQtb2YtYS1qd3Q")
    key = bytes(range(200, 240))
    secrets.binary("key", key)
    # Then a log holds each as botocore (repr of a JSON body), JSON (escaped "/") or a cut token would show it
    assert secrets.found_in("nothing here") == []
    assert secrets.found_in("token=c2lnbmF0dXJlLXBhcnQtb2YtYS1qd3Q;") == ["id_token: JWT signature"]
    body = json.dumps({"Plaintext": base64.b64encode(key).decode()}).replace("/", "\\/")
    assert "key: base64" in secrets.found_in(f"Response body: {body.encode()!r}")
    assert "key: raw (repr)" in secrets.found_in(json.dumps({"message": repr(key)}))
