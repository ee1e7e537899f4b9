"""A stack started with ``--param`` overrides: short sessions, a strict origin allow-list."""

from __future__ import annotations

import aiohttp
import jwt
import pytest

from localcloud.process import StackProcess

pytestmark = pytest.mark.integration

ALLOWED = "https://app.example.com"


@pytest.fixture(scope="module")
def strict_stack():
    with StackProcess("SessionTtlSeconds=3", f"AllowedOrigins={ALLOWED}", "IssueRateLimitPerMinute=1000") as stack:
        yield stack


def test_a_session_expires_by_time(strict_stack, clients_for, run):
    async def scenario():
        async with clients_for(strict_stack.base_url) as api:
            # Given a session with a 3 s lifetime
            login = await api.create()
            assert login.body["expires_in"] <= 3

            # When its lifetime passes
            async def expired() -> bool:
                reply = await api.request("GET", f"/sessions/{login.session_id}", token=login.browser_token)
                return reply.body["status"] == "expired"

            await api.wait_until(expired)

            # Then the phone cannot scan it, the browser cannot redeem it, and a subscribe shows it expired
            scan = await api.phone("scan", login, await api.phone_token())
            assert (scan.status, scan.body["error"]) == (410, "expired")
            redeem = await api.redeem(login)
            assert (redeem.status, redeem.body["error"]) == (400, "expired_token")
            socket = await api.socket(origin=ALLOWED)
            assert (await api.subscribe(socket, login))["status"] == "expired"

    run(scenario())


def test_the_origin_allow_list_guards_the_websocket_and_cors(strict_stack, clients_for, run):
    async def scenario():
        async with clients_for(strict_stack.base_url) as api:
            # When a page from another origin opens the WebSocket
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await api.socket(origin="https://evil.example")
            # Then $connect refuses the handshake
            assert refused.value.status == 403

            # And CORS answers the allowed origin only, by name
            allowed = await api.request("POST", "/sessions", body={}, headers={"Origin": ALLOWED})
            other = await api.request("POST", "/sessions", body={}, headers={"Origin": "https://evil.example"})
            assert allowed.headers["access-control-allow-origin"] == ALLOWED
            assert "access-control-allow-origin" not in other.headers
            # While the allowed origin's socket works
            socket = await api.socket(origin=ALLOWED)
            await socket.send_str('{"action":"ping"}')
            assert await api.next_message(socket) == {"type": "pong"}

    run(scenario())


def test_the_stack_refuses_unknown_parameters_and_stops_cleanly_on_sigterm():
    # Given a parameter the template does not declare
    with pytest.raises(Exception, match="unknown parameter"):
        StackProcess("NoSuchParameter=1", startup_timeout_s=30).start()
    # When a good stack is told to stop
    stack = StackProcess(startup_timeout_s=60).start()
    # Then it exits with status 0
    assert stack.stop() == 0


@pytest.fixture(scope="module")
def kms_stack():
    with StackProcess("SigningKeyMode=kms") as stack:
        yield stack


def test_signing_key_mode_kms_signs_every_token_with_the_kms_key(kms_stack, clients_for, run):
    async def scenario():
        async with clients_for(kms_stack.base_url) as api:
            # Given a stack whose KMS key is an ECC signing key, and a confirmed login
            login = await api.create()
            token = await api.phone_token()
            assert (await api.phone("scan", login, token)).status == 200
            assert (await api.phone("confirm", login, token)).status == 200

            # When the browser redeems, and a backend fetches the JWKS
            redeemed = await api.redeem(login)
            jwks = await api.request("GET", "/.well-known/jwks.json")

            # Then the token verifies against the KMS key's public half, named by the KMS key id
            assert redeemed.status == 200, redeemed.body
            (jwk,) = [k for k in jwks.body["keys"] if k["alg"] == "ES256"]
            key_arn = (await api.stack_info())["key_arn"]
            assert jwk["kid"] == key_arn.rsplit("/", 1)[-1]
            id_token = redeemed.body["id_token"]
            assert jwt.get_unverified_header(id_token)["kid"] == jwk["kid"]
            claims = jwt.decode(id_token, jwt.PyJWK(jwk).key, algorithms=["ES256"], options={"verify_aud": False})
            assert claims["sub"] == "alice"

    run(scenario())
