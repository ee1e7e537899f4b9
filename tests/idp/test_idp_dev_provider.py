"""The local stack's own side of phone tokens: the development identity provider (``POST /dev/phone-token``)
keeps the contract's body limit (DESIGN §3), and the template's Rules stop a stack that would skip a check."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from localcloud.process import StackFailed, StackProcess

pytestmark = pytest.mark.idp
# Loopback calls never go through a proxy the environment may name.
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

LIMIT = 16 * 1024


def post(base_url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base_url}/dev/phone-token", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with NO_PROXY.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            assert error.headers["Content-Type"].startswith("application/json")
            return error.code, json.loads(error.read())


def sized(size: int) -> bytes:
    body = json.dumps({"sub": "alice", "name": ""}).encode()
    return json.dumps({"sub": "alice", "name": "A" * (size - len(body))}).encode()


def test_a_body_of_16_kib_gets_a_token_and_one_byte_more_is_413(stacks):
    stack = stacks["oidc-jwt"]
    assert len(sized(LIMIT)) == LIMIT
    status, answer = post(stack.base_url, sized(LIMIT))
    assert status == 200 and answer["access_token"], "a demo user cannot get a phone token with a 16 KiB request"
    status, answer = post(stack.base_url, sized(LIMIT + 1))
    assert (status, answer["error"]) == (413, "payload_too_large"), (
        f"the development IdP takes a body over 16 KiB, which every other route refuses: {answer}")
    assert set(answer) == {"error", "message"}


@pytest.mark.parametrize(("params", "named"), [
    (("PhoneJwtIssuer=",), "PhoneJwtIssuer"),
    (("PhoneJwtAudience=",), "PhoneJwtAudience or PhoneJwtClientId"),
    (("PhoneAuthMode=introspection", "IntrospectionUrl=https://idp.example/introspect"), "IntrospectionSecretName"),
])
def test_make_dev_with_a_phone_setup_that_skips_a_check_does_not_start(params, named):
    # When a developer starts the stack without an issuer, or without whom tokens are for (as a deploy would be)
    with pytest.raises(StackFailed) as failed:
        StackProcess(*params, startup_timeout_s=60).start()

    # Then it stops before serving anything, and says which parameter to set
    assert named in str(failed.value), f"make dev fails without saying what to set: {failed.value}"
