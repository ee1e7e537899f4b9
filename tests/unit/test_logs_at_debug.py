"""DESIGN §7 in-process: the Lambda runtime's root logger at DEBUG, a whole login, no secret logged.

The root logger is set up as the Lambda Python runtime sets it for
``LogLevel=DEBUG`` (``localcloud.container.setup_runtime_logging``: a JSON
handler on ROOT at DEBUG), where botocore would log each KMS request and
response.  A login in each signing mode must leave no token and no key
material in anything written; and with the wire loggers' cap lifted, the
same scan must find the key material, so the scan (and the cap) is what
holds.  The same for the introspection mode's client secret (read from
Secrets Manager).  The local stack's version of this is
tests/integration/test_logs_hold_no_secret.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest

from localcloud.container import setup_runtime_logging
from qrlogin import deps
from qrlogin.observability import WIRE_LOGGERS
from tests.integration.logscan import Secrets, signing_keys
from tests.unit.conftest import TABLE_NAME


@pytest.fixture
def root_at_debug(all_output) -> Iterator[None]:
    """The runtime's root handler at DEBUG for one test (after all_output, which sets the root to INFO)."""
    root, level, converter = logging.getLogger(), logging.getLogger().level, logging.Formatter.converter
    handler = setup_runtime_logging({"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    yield
    root.removeHandler(handler)
    root.setLevel(level)
    logging.Formatter.converter = converter


@contextmanager
def wire_loggers_uncapped() -> Iterator[None]:
    """The cap lifted (what observability prevents), for the negative control only."""
    levels = {name: logging.getLogger(name).level for name in WIRE_LOGGERS}
    try:
        for name in WIRE_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def login_secrets(flow, aws, secrets: Secrets) -> None:
    login = flow.issue()
    secrets.token("browser token", login.browser_token)
    secrets.text("session id", login.session_id)
    assert flow.scan(login).status == 200 and flow.confirm(login).status == 200
    redeemed = flow.redeem(login)
    assert redeemed.status == 200, redeemed.body
    secrets.token("id_token", redeemed.body["id_token"])
    secrets.kms_signing("id_token", redeemed.body["id_token"])
    for who, token in flow.tokens.items():
        secrets.token(f"{who}'s phone token", token)
    for number, pkcs8 in enumerate(signing_keys(aws["dynamodb"], aws["kms"], TABLE_NAME)):
        secrets.private_key(f"signing key {number}", pkcs8)


@pytest.mark.parametrize("signing_mode", ["envelope", "kms"])
def test_a_login_under_a_debug_root_logger_logs_no_secret_and_the_cap_is_why(
        flow, aws, all_output, root_at_debug, signing_mode):
    # Given the runtime's root logger at DEBUG, When a whole login runs
    secrets = Secrets()
    login_secrets(flow, aws, secrets)

    # Then nothing of it is in what was written
    written = all_output()
    assert '"level":"DEBUG"' in written.replace(" ", "")  # the capture did capture DEBUG
    assert secrets.found_in(written) == []

    # And with the wire loggers' cap lifted, a new container's login logs its key material (the scan can fail)
    with wire_loggers_uncapped():
        deps.reset()  # a cold container: envelope mode decrypts its key again, kms mode signs each token anyway
        uncapped = Secrets()
        login_secrets(flow, aws, uncapped)
        leaked = uncapped.found_in(all_output())
    expected = "signing key 0 (PKCS#8)" if signing_mode == "envelope" else "id_token: KMS Sign message"
    assert any(found.startswith(expected) for found in leaked), leaked


SECRET_NAME = "qrlogin/introspection"
CLIENT_SECRET = "introspection client secret 0123456789"
PHONE_APP = "phone-app"


@pytest.fixture
def introspection_mode(aws, tmp_path, monkeypatch) -> None:
    """PhoneAuthMode=introspection: credentials in (moto's) Secrets Manager, the server's answer a file:// URL."""
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=SECRET_NAME, SecretString=json.dumps({"client_id": "qrlogin", "client_secret": CLIENT_SECRET}))
    answer = tmp_path / "introspection.json"
    answer.write_text(json.dumps({"active": True, "sub": "alice", "name": "Alice", "client_id": PHONE_APP,
                                  "token_type": "Bearer"}))
    for name, value in {"PHONE_AUTH_MODE": "introspection", "INTROSPECTION_URL": answer.as_uri(),
                        "INTROSPECTION_SECRET_NAME": SECRET_NAME, "PHONE_JWT_CLIENT_ID": PHONE_APP,
                        "PHONE_JWT_AUDIENCE": ""}.items():
        monkeypatch.setenv(name, value)
    deps.reset()


def test_introspection_mode_under_a_debug_root_logger_logs_neither_its_client_secret_nor_phone_tokens(
        flow, all_output, root_at_debug, introspection_mode):
    # Given the runtime's root logger at DEBUG and a phone token only the introspection endpoint can vouch for
    secrets = Secrets()
    secrets.text("introspection client secret", CLIENT_SECRET)
    phone_token = "opaque-phone-token-0123456789abcdef"
    secrets.token("phone token", phone_token)

    # When a phone scans (the stack reads its credentials from Secrets Manager, then introspects)
    login = flow.issue()
    assert flow.api.http("POST", f"/sessions/{login.session_id}/scan", token=phone_token).status == 200

    # Then neither the client secret nor the phone token was logged
    assert secrets.found_in(all_output()) == []

    # And with the cap lifted, a cold container's scan logs the client secret (botocore's GetSecretValue body)
    with wire_loggers_uncapped():
        deps.reset()
        other = flow.issue()
        assert flow.api.http("POST", f"/sessions/{other.session_id}/scan", token=phone_token).status == 200
        leaked = secrets.found_in(all_output())
    assert "introspection client secret: whole" in leaked, leaked
