"""DESIGN §7 in-process: the Lambda runtime's root logger at DEBUG, a whole login, no secret logged.

The root logger is set up as the Lambda Python runtime sets it for
``LogLevel=DEBUG`` (``localcloud.container.setup_runtime_logging``: a JSON
handler on ROOT at DEBUG), where botocore would log each KMS request and
response.  A login in each signing mode must leave no token and no key
material in anything written; and with the wire loggers' cap lifted, the
same scan must find the key material, so the scan (and the cap) is what
holds.  The local stack's version of this is
tests/integration/test_logs_hold_no_secret.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

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
    levels = {name: logging.getLogger(name).level for name in WIRE_LOGGERS}
    try:
        for name in WIRE_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
        deps.reset()  # a cold container: envelope mode decrypts its key again, kms mode signs each token anyway
        uncapped = Secrets()
        login_secrets(flow, aws, uncapped)
        leaked = uncapped.found_in(all_output())
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    expected = "signing key 0 (PKCS#8)" if signing_mode == "envelope" else "id_token: KMS Sign message"
    assert any(found.startswith(expected) for found in leaked), leaked
