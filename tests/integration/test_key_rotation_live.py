"""The operator's key rotation (scripts/signing_keys.py) against a running local stack.

The command runs as an operator runs it, in its own process, with the stack's
base URL (``--local``); logins go on over real HTTP throughout.  It runs on the
tier's shared stack: a rotation is something a live stack must take in its
stride, and every other test picks the key a token's kid names.
"""

from __future__ import annotations

import os
import subprocess
import sys

import jwt
import pytest

from localcloud.template import ROOT

pytestmark = pytest.mark.integration


def signing_keys(base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT)])}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "signing_keys.py"), "--local", base_url, *args],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def verifies(token: str, jwks: dict) -> bool:
    kid = jwt.get_unverified_header(token)["kid"]
    found = [k for k in jwks["keys"] if k["kid"] == kid]
    return bool(found) and jwt.decode(token, jwt.PyJWK(found[0]).key, algorithms=["ES256"],
                                      options={"verify_aud": False})["sub"] == "alice"


def test_a_rotation_on_a_running_stack_fails_no_redeem_and_every_token_verifies(stack, clients_for, run):
    async def login(api) -> str:
        session = await api.create()
        token = await api.phone_token()
        assert (await api.phone("scan", session, token)).status == 200
        assert (await api.phone("confirm", session, token)).status == 200
        redeemed = await api.redeem(session)
        assert redeemed.status == 200, redeemed.body
        return str(redeemed.body["id_token"])

    async def jwks(api) -> dict:
        reply = await api.request("GET", "/.well-known/jwks.json")
        assert reply.status == 200
        return dict(reply.body)

    async def scenario():
        async with clients_for(stack.base_url) as api:
            # Given a stack that has signed a token
            before = await login(api)
            old_kid = jwt.get_unverified_header(before)["kid"]

            # When the operator rotates every algorithm, switching at once
            rotated = signing_keys(stack.base_url, "rotate", "--activate-in", "0")
            assert rotated.returncode == 0, rotated.stderr
            new_kids = {line.split("new key ", 1)[1].split(",", 1)[0] for line in rotated.stdout.splitlines()}
            assert len(new_kids) == 2

            # Then logins go on (whichever key a warm container holds until its refresh), the JWKS
            # publishes old and new keys, and every token verifies against it
            after = [await login(api) for _ in range(3)]
            document = await jwks(api)
            published = {k["kid"] for k in document["keys"]}
            assert {old_kid} | new_kids <= published
            assert all(verifies(token, document) for token in [before, *after])

            # And the list command shows the new ES256 key current and the old one retired, still published
            listed = signing_keys(stack.base_url, "list")
            assert listed.returncode == 0, listed.stderr
            states = {line.split()[1]: line for line in listed.stdout.splitlines() if line.startswith("ES256")}
            assert states[old_kid].split()[-1] != "current" and "retired: published until" in states[old_kid]
            assert [kid for kid, line in states.items() if line.endswith("current")] == list(new_kids & set(states))

    run(scenario())
