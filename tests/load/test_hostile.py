"""Hostile input against the running local stack: bad phone tokens, other sessions' tokens,
oversized and non-JSON bodies, odd unicode, huge headers, path traversal.

Nothing here may get a 5xx, a success it should not, or change a session.
Phone tokens come from an identity provider of the test's own (its JWKS on a
loopback server), so expired, wrong-audience and wrong-issuer tokens can be
signed with the trusted key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from stackclient import NO_RATE_LIMIT, SECRETS, Clients

from localcloud.devidp import DevIdentityProvider

pytestmark = pytest.mark.load

MAX_BODY = 16 * 1024  # DESIGN §3


# -- an identity provider of the test's own ---------------------------------------


@pytest.fixture(scope="module")
def idp() -> DevIdentityProvider:
    return DevIdentityProvider(issuer="https://idp.test.example", audience="qrlogin-hostile-test")


@pytest.fixture(scope="module")
def jwks_url(idp) -> Iterator[str]:
    document = json.dumps(idp.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="jwks", daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def idp_stack(stacks, idp, jwks_url):
    return stacks.get(NO_RATE_LIMIT, f"PhoneJwksUrl={jwks_url}", f"PhoneJwtIssuer={idp.issuer}",
                      f"PhoneJwtAudience={idp.audience}", purpose="own-idp")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key(idp: DevIdentityProvider) -> str:
    """The classic algorithm confusion: HMAC keyed with the issuer's public key."""
    public = idp.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = ".".join(b64url(json.dumps(part).encode()) for part in (
        {"alg": "HS256", "typ": "JWT", "kid": idp.kid}, idp.claims("mallory", "Mallory")))
    return f"{signing_input}.{b64url(hmac.new(public, signing_input.encode(), hashlib.sha256).digest())}"


def bad_phone_tokens(idp: DevIdentityProvider) -> dict[str, str]:
    now = int(time.time())
    stranger = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "expired": idp.mint("mallory", "Mallory", iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "not yet valid": idp.mint("mallory", "Mallory", nbf=now + 3600),
        "wrong audience": idp.mint("mallory", "Mallory", aud="another-app"),
        "wrong issuer": idp.mint("mallory", "Mallory", iss="https://evil.example"),
        "alg none": idp.forge_alg_none("mallory", "Mallory"),
        "forged (another key, the issuer's kid)": idp.mint("mallory", "Mallory", key=stranger),
        "unknown kid": idp.mint("mallory", "Mallory", key=stranger, kid="not-a-known-kid"),
        "RS256 by another key, the issuer's kid": idp.mint("mallory", "Mallory", key=rsa_key, algorithm="RS256"),
        "HS256 keyed with the public key": hs256_with_public_key(idp),
        "no subject": idp.mint(None, "Mallory"),  # type: ignore[arg-type]
        "no expiry": idp.mint("mallory", "Mallory", exp=None),
        "subject not a string": idp.mint(12345, "Mallory"),  # type: ignore[arg-type]
        "subject with a lone surrogate": idp.mint("mal\ud800lory", "Mallory"),
        "payload tampered": _tampered(idp.mint("alice", "Alice")),
        "not a JWT": "not-a-jwt",
        "three empty parts": "..",
        "garbage parts": "a.b.c",
        "huge": "a" * 7000,
    }


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "mallory"
    return f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"


def test_bad_phone_tokens_are_401_and_change_nothing(idp, idp_stack, run):
    tokens = bad_phone_tokens(idp)
    SECRETS.extend(tokens.values())

    async def scenario():
        async with Clients(idp_stack.base_url) as api:
            # Given a pending session, and (control) a good token of the same provider that works
            login, control = await api.create(), await api.create()
            good = idp.mint("alice", "Alice")
            SECRETS.append(good)
            assert (await api.phone("scan", control, good)).status == 200

            # When each bad token tries to scan, confirm or deny it
            for name, token in tokens.items():
                for action in ("scan", "confirm", "deny"):
                    reply = await api.phone(action, login, token)
                    # Then each is refused as unauthorized, and the session is untouched
                    assert (reply.status, reply.body.get("error")) == (401, "unauthorized"), (name, action, reply)
            for header in ("Basic bWFsbG9yeTpwdw==", "Bearer", "Bearer ", "bearer", "Token abc", ""):
                reply = await api.call("POST", f"/sessions/{login.session_id}/scan", headers={"Authorization": header})
                assert (reply.status, reply.body.get("error")) == (401, "unauthorized"), header
            assert await api.state(login) == ("pending", 1)

    run(scenario())


def test_a_forged_token_cannot_confirm_what_the_real_user_scanned(idp, idp_stack, run):
    async def scenario():
        async with Clients(idp_stack.base_url) as api:
            login, alice = await api.create(), idp.mint("alice", "Alice")
            SECRETS.append(alice)
            assert (await api.phone("scan", login, alice)).status == 200
            forged = idp.mint("alice", "Alice", key=ec.generate_private_key(ec.SECP256R1()))
            SECRETS.append(forged)
            assert (await api.phone("confirm", login, forged)).status == 401
            assert (await api.phone("confirm", login, idp.forge_alg_none("alice", "Alice"))).status == 401
            assert await api.state(login) == ("scanned", 2)

    run(scenario())


# -- another session's browser token ------------------------------------------------


def test_session_a_browser_token_opens_nothing_of_session_b(clients, run):
    async def scenario():
        async with clients() as api:
            # Given two sessions, B confirmed and ready to redeem
            a = await api.create()
            b, _ = await api.confirmed("bianca")
            stolen = type(b)(b.session_id, a.browser_token)

            # When A's browser token is used on B every way there is
            read = await api.call("GET", f"/sessions/{b.session_id}", token=a.browser_token)
            redeem = await api.redeem(stolen)
            cancel = await api.cancel(stolen)
            socket = await api.socket()
            subscribe = await api.subscribe(socket, stolen)

            # Then B looks like it does not exist, and it is unchanged and still B's to redeem
            for reply in (read, redeem, cancel):
                assert (reply.status, reply.body["error"]) == (404, "not_found")
            assert subscribe == {"type": "error", "error": "not_found", "message": "No such session."}
            assert await api.state(b) == ("confirmed", 3)
            assert await api.connections_of(b) == set()
            assert (await api.redeem(b)).status == 200

    run(scenario())


# -- bodies -------------------------------------------------------------------------

NOT_JSON_OBJECTS = ["not json", "{", '{"a":', "[1, 2]", "null", '"a string"', "42", "true", "{'a': 1}",
                    "NaN", '{"a": 1} trailing']


@pytest.mark.parametrize("body", NOT_JSON_OBJECTS)
def test_bodies_that_are_not_json_objects_are_invalid_request(clients, run, body):
    async def scenario():
        async with clients() as api:
            login, token = await api.create(), await api.phone_token("nina", "Nina")
            for path, auth in (("/sessions", None), (f"/sessions/{login.session_id}/scan", token)):
                for content_type in ("application/json", "text/plain"):
                    reply = await api.call("POST", path, token=auth, data=body.encode("utf-8"),
                                           headers={"Content-Type": content_type})
                    assert (reply.status, reply.body["error"]) == (400, "invalid_request"), (path, reply)
            assert await api.state(login) == ("pending", 1)

    run(scenario())


def test_bytes_that_are_not_utf8_are_invalid_request(clients, run):
    async def scenario():
        async with clients() as api:
            for data in (b"\xff\xfe\x00\x01", b'{"a": "\xc3\x28"}', bytes(range(256))):
                reply = await api.call("POST", "/sessions", data=data, headers={"Content-Type": "application/json"})
                assert reply.status == 400, reply.body

    run(scenario())


def test_bodies_over_16_kib_are_refused_and_16_kib_is_not(clients, run):
    def padded(size: int) -> bytes:
        body = json.dumps({"pad": ""}).encode()
        return json.dumps({"pad": "x" * (size - len(body))}).encode()

    async def scenario():
        async with clients() as api:
            login, token = await api.confirmed("olga")
            # A body of exactly the limit is accepted (unknown fields are ignored)
            assert (await api.call("POST", "/sessions", data=padded(MAX_BODY))).status == 201
            # One byte more is refused on every route that takes a body, and nothing changes
            for path, auth in (("/sessions", None), (f"/sessions/{login.session_id}/scan", token),
                               (f"/sessions/{login.session_id}/confirm", token),
                               (f"/sessions/{login.session_id}/deny", token),
                               (f"/sessions/{login.session_id}/token", login.browser_token)):
                reply = await api.call("POST", path, token=auth, data=padded(MAX_BODY + 1))
                assert (reply.status, reply.body["error"]) == (413, "payload_too_large"), path
            assert await api.state(login) == ("confirmed", 3)
            # Past the HTTP API's own payload limit (10 MB) the gateway refuses before any function runs
            huge = await api.call("POST", "/sessions", data=b"x" * (10 * 1024 * 1024 + 1))
            assert huge.status == 413
            assert (await api.redeem(login)).status == 200

    run(scenario())


# -- odd unicode ----------------------------------------------------------------------

ODD_IDS = [
    "\uff21" * 22, "\u202eAAAAAAAAAAAAAAAAAAAAAA", "A\u200bAAAAAAAAAAAAAAAAAAAAA", "😀" * 22, "e\u0301" * 11,
    "AAAAAAAAAAAAAAAAAAAAA\u0000", "%00", "%ff%fe", "%C0%AF", "\ufffd" * 22, "A" * 21 + "=", "A" * 23, "A" * 5000,
    "' OR '1'='1", "<script>alert(1)</script>", "${jndi:ldap://x}",
]


@pytest.mark.parametrize("session_id", ODD_IDS)
def test_odd_session_ids_are_not_found_on_every_route(clients, run, session_id):
    async def scenario():
        async with clients() as api:
            token, browser = await api.phone_token("uma", "Uma"), (await api.create()).browser_token
            for method, suffix, auth in (("GET", "", browser), ("DELETE", "", browser), ("POST", "/token", browser),
                                         ("POST", "/scan", token), ("POST", "/confirm", token),
                                         ("POST", "/deny", token)):
                reply = await api.call(method, f"/sessions/{session_id}{suffix}", token=auth,
                                       encoded=session_id.startswith("%"))
                assert reply.status in (400, 404), (method, suffix, reply)
                assert isinstance(reply.body, dict), reply.body

    run(scenario())


def test_odd_unicode_in_names_bodies_and_user_agents_is_carried_not_choked_on(clients, run):
    async def scenario():
        async with clients() as api:
            login = await api.create()
            # A display name of right-to-left overrides, emoji, combining marks and a lone surrogate escape
            odd = "\u202eevil\u202c 😀 e\u0301 \u0000 \ud800"
            minted = await api.call("POST", "/dev/phone-token", body={"sub": "ursula", "name": odd})
            SECRETS.append(minted.body["access_token"])
            body = {"note": "😀\u202e\ud800\udfff", "nested": {"a": ["\u0000"]}}
            scan = await api.call("POST", f"/sessions/{login.session_id}/scan", token=minted.body["access_token"],
                                  body=body, headers={"User-Agent": "qr\u00e9\u00ff"})
            assert scan.status == 200, scan.body
            # Then the name is shown as sent, but for the lone surrogate (no valid UTF-8: DynamoDB refuses it)
            read = await api.call("GET", f"/sessions/{login.session_id}", token=login.browser_token)
            assert read.status == 200
            assert read.body["user"] == "\u202eevil\u202c 😀 e\u0301 \u0000 ?"
            issued = await api.call("POST", "/sessions", body=body, headers={"User-Agent": "\u00e9" * 300})
            assert issued.status == 201, issued.body
            SECRETS.append(issued.body["browser_token"])

    run(scenario())


# -- headers ----------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"X-Big": "a" * 65536},
    {"Authorization": "Bearer " + "a" * 65536},
    {"Cookie": "c=" + "b" * 65536},
    {f"X-Many-{i}": "v" for i in range(500)},
], ids=["64 KB header", "64 KB authorization", "64 KB cookie", "500 headers"])
def test_huge_headers_are_answered_and_the_gateway_keeps_serving(clients, run, headers):
    async def scenario():
        async with clients() as api:
            login = await api.create()
            reply = await api.call("GET", f"/sessions/{login.session_id}", headers=headers)
            assert 400 <= reply.status < 500, reply.status
            assert (await api.call("GET", f"/sessions/{login.session_id}", token=login.browser_token)).status == 200

    run(scenario())


# -- paths --------------------------------------------------------------------------------

TRAVERSALS = [
    "/sessions/..%2F..%2Ftemplate.yaml", "/sessions/%2e%2e%2f%2e%2e%2ftemplate.yaml", "/sessions/../../template.yaml",
    "/sessions/..", "/sessions/%2e%2e/token", "/sessions/....//....//template.yaml", "/../template.yaml",
    "/%2e%2e/template.yaml", "/..%2ftemplate.yaml", "/..%5c..%5ctemplate.yaml", "/phone/../../template.yaml",
    "/sessions/..%252f..%252ftemplate.yaml", "/sessions/%c0%ae%c0%ae%c0%aftemplate.yaml",
    "/sessions/..;/template.yaml", "/.well-known/../../template.yaml", "/sessions/x/../../../etc/passwd",
    "//etc/passwd", "/sessions/%00/token", "/web/../localcloud/stack.py", "/..%2f..%2f..%2fetc%2fpasswd",
]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_path_traversal_reaches_no_file_and_no_session(clients, run, method):
    async def scenario():
        async with clients() as api:
            browser = (await api.create()).browser_token
            for path in TRAVERSALS:
                reply = await api.call(method, path, token=browser, encoded=True)
                assert reply.status in (400, 404), (path, reply.status)
                text = json.dumps(reply.body) if isinstance(reply.body, dict) else reply.body
                for leaked in ("AWSTemplateFormatVersion", "root:x:0:0", "import ", "Traceback"):
                    assert leaked not in text, (path, text[:200])

    run(scenario())


def test_hostile_requests_left_the_stack_serving(clients, run):
    async def scenario():
        async with clients() as api:
            login, _ = await api.confirmed("zoe")
            assert (await api.redeem(login)).status == 200

    run(scenario())
