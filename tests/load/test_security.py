"""Security checks: identifiers and secrets from ``secrets`` with the contract's entropy,
the CORS and WebSocket Origin allow-list, the per-IP issue rate limit, and secrets kept
out of the logs even at DEBUG.

(Every stack of this tier is also searched for secrets when it stops: conftest.py.)
"""

from __future__ import annotations

import asyncio
import base64
import re
import time

import aiohttp
import pytest
from stackclient import NO_RATE_LIMIT, SECRETS, Clients, Login

from bench.load import leaked
from qrlogin import ids

pytestmark = pytest.mark.load

SAMPLES = 1000
BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
APP = "https://app.example.com"
EVIL = "https://evil.example"


def decoded(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# -- identifiers ---------------------------------------------------------------------


@pytest.mark.parametrize(("make", "length", "random_bytes"), [
    (ids.new_session_id, 22, 16),
    (ids.new_browser_token, 43, 32),
], ids=["session id (128 bits)", "browser token (256 bits)"])
def test_identifiers_are_distinct_base64url_and_look_uniformly_random(make, length, random_bytes):
    values = [make() for _ in range(SAMPLES)]

    # All distinct, of the contract's length, in the base64url alphabet, carrying the contract's bits
    assert len(set(values)) == SAMPLES
    assert {len(v) for v in values} == {length}
    assert all(BASE64URL.match(v) for v in values)
    raw = [decoded(v) for v in values]
    assert {len(r) for r in raw} == {random_bytes}
    # Every bit position is set about half the time (1000 samples: sd 1.6 %, bounds at 6 sd)
    for bit in range(random_bytes * 8):
        ones = sum((r[bit // 8] >> (bit % 8)) & 1 for r in raw)
        assert 0.4 * SAMPLES < ones < 0.6 * SAMPLES, f"bit {bit}: {ones}/{SAMPLES}"


def test_identifiers_are_drawn_from_the_secrets_module(monkeypatch):
    drawn = []

    def token_urlsafe(nbytes: int) -> str:
        drawn.append(nbytes)
        return "drawn-from-secrets"

    monkeypatch.setattr(ids.secrets, "token_urlsafe", token_urlsafe)
    assert (ids.new_session_id(), ids.new_browser_token()) == ("drawn-from-secrets", "drawn-from-secrets")
    assert drawn == [16, 32]


def test_sessions_issued_by_the_stack_carry_distinct_well_formed_secrets(clients, run):
    async def scenario():
        async with clients() as api:
            logins = await asyncio.gather(*(api.create() for _ in range(100)))
            assert len({login.session_id for login in logins}) == len({login.browser_token for login in logins}) == 100
            assert all(ids.is_session_id(login.session_id) and ids.is_browser_token(login.browser_token)
                       for login in logins)
            # And the table keeps only a hash of the browser token
            item = await api.item(logins[0])
            assert logins[0].browser_token not in str(item)
            assert item["browser_token_hash"]["S"] == ids.hash_token(logins[0].browser_token)

    run(scenario())


# -- CORS and the WebSocket Origin --------------------------------------------------------


@pytest.fixture(scope="module")
def app_only_stack(stacks):
    return stacks.get(NO_RATE_LIMIT, f"AllowedOrigins={APP}", purpose="origins")


def test_cors_answers_only_the_allowed_origin(app_only_stack, run):
    async def scenario():
        async with Clients(app_only_stack.base_url) as api:
            preflight = {"Access-Control-Request-Method": "POST",
                         "Access-Control-Request-Headers": "authorization,content-type"}
            # The allowed origin gets its preflight and its response headers
            allowed = await api.call("OPTIONS", "/sessions", headers={"Origin": APP, **preflight})
            assert allowed.headers["access-control-allow-origin"] == APP
            assert "POST" in allowed.headers["access-control-allow-methods"]
            assert "authorization" in allowed.headers["access-control-allow-headers"]
            created = await api.call("POST", "/sessions", body={}, headers={"Origin": APP})
            SECRETS.append(created.body["browser_token"])
            assert created.headers["access-control-allow-origin"] == APP
            assert "retry-after" in created.headers["access-control-expose-headers"]
            # Another origin gets no CORS header at all, preflight or not, so a browser keeps it out
            for origin in (EVIL, "null", APP + ".evil.example", "http://app.example.com"):
                refused = await api.call("OPTIONS", "/sessions", headers={"Origin": origin, **preflight})
                assert "access-control-allow-origin" not in refused.headers, origin
                read = await api.call("GET", f"/sessions/{created.body['session_id']}", headers={"Origin": origin},
                                      token=created.body["browser_token"])
                assert read.status == 200 and "access-control-allow-origin" not in read.headers, origin

    run(scenario())


def test_the_websocket_accepts_only_the_allowed_origin(app_only_stack, run):
    async def scenario():
        async with Clients(app_only_stack.base_url) as api:
            login = await api.create()
            socket = await api.socket(origin=APP)
            assert (await api.subscribe(socket, login))["status"] == "pending"
            for origin in (EVIL, None, "null", APP + ".evil.example"):
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await api.socket(origin=origin)
                assert refused.value.status == 403, origin

    run(scenario())


# -- the issue rate limit -------------------------------------------------------------------

LIMIT = 5


def test_the_issue_rate_limit_answers_429_after_the_configured_count_per_ip_per_minute(stacks, run):
    limited = stacks.get(f"IssueRateLimitPerMinute={LIMIT}", purpose="rate-limit")

    async def burst(api) -> list:
        return [await api.call("POST", "/sessions", body={}) for _ in range(LIMIT + 2)]

    async def scenario():
        async with Clients(limited.base_url) as api:
            # A burst that straddles a minute boundary is repeated: the limit is per calendar minute
            for _ in range(3):
                minute = int(time.time()) // 60
                replies = await burst(api)
                if int(time.time()) // 60 == minute:
                    break
            SECRETS.extend(r.body["browser_token"] for r in replies if r.status == 201)
            # Then the first LIMIT are created and the rest refused with Retry-After
            assert [r.status for r in replies] == [201] * LIMIT + [429, 429]
            for refused in replies[LIMIT:]:
                assert refused.body["error"] == "rate_limited" and "session_id" not in refused.body
                assert 1 <= int(refused.headers["retry-after"]) <= 60
        # And another source address still gets its own sessions (127.0.0.2 is loopback too)
        async with Clients(limited.base_url, local_addr=("127.0.0.2", 0)) as other:
            reply = await other.call("POST", "/sessions", body={})
            assert reply.status == 201, reply.body
            SECRETS.append(reply.body["browser_token"])
            item = await other.item(Login(reply.body["session_id"], reply.body["browser_token"]))
            assert item["request_ip"]["S"] == "127.0.0.2"

    run(scenario())


# -- logs ---------------------------------------------------------------------------------


def test_no_secret_reaches_the_logs_even_at_debug_level(stacks, run):
    debug = stacks.get(NO_RATE_LIMIT, "LogLevel=DEBUG", purpose="debug-logs")
    seen: list[str] = []

    async def scenario():
        async with Clients(debug.base_url) as api:
            # Every route, the happy path and the refusals, over HTTP and the WebSocket
            login, token = await api.confirmed("dana")
            seen.extend([login.browser_token, token])
            socket = await api.socket()
            await api.subscribe(socket, login)
            await socket.send_str('{"action": "subscribe", "session_id": "x", "browser_token": "' + token + '"}')
            redeemed = await api.redeem(login)
            seen.append(redeemed.body["id_token"])
            await api.redeem(login)
            other = await api.create()
            seen.append(other.browser_token)
            for path, method, auth in ((f"/sessions/{other.session_id}", "GET", login.browser_token),
                                       (f"/sessions/{other.session_id}/scan", "POST", login.browser_token),
                                       (f"/sessions/{other.session_id}/scan", "POST", token + "x"),
                                       (f"/sessions/{other.session_id}/token", "POST", token),
                                       (f"/sessions/{other.session_id}", "DELETE", token)):
                await api.call(method, path, token=auth)
            await api.call("GET", f"/sessions/{other.session_id}", headers={"Authorization": "Bearer " + "a" * 9000})

    run(scenario())
    SECRETS.extend(seen)
    debug.stop()
    output, errors = "\n".join(debug.output()), debug.stderr()
    assert '"level":"DEBUG"' in output or '"level":"INFO"' in output  # the logs were there to search
    assert leaked(seen, output, errors) == []
