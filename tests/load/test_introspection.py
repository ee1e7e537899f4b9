"""The introspection service down, slow or failing: 503 auth_unavailable, never a confirm.

A real RFC 7662 endpoint on 127.0.0.1 (``http.server``) that requires the
stack's client credentials (client_secret_basic, DESIGN §6), and a stack started
with ``PhoneAuthMode=introspection`` pointing at it, the credentials in its
Secrets Manager (moto).  Its tokens say what it
does with them: answer at once, answer only after the test lets it (far past
the verifier's 2 s timeout), fail with 500, or call the token inactive.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from stackclient import NO_RATE_LIMIT, SECRETS, Api, Clients

pytestmark = pytest.mark.load

# Longest the slow answer is held back: far past the verifier's timeout, bounded all the same.
HOLD_S = 60.0
# The stack's credentials at the introspection endpoint, and the phone app whose tokens it accepts.
CREDENTIALS = {"client_id": "qrlogin-stack", "client_secret": secrets.token_urlsafe(24)}
PHONE_APP = "phone-app"
SECRET_NAME = "qrlogin/introspection"


class Introspection:
    def __init__(self) -> None:
        self.tokens: dict[str, tuple[str, str]] = {}  # token -> (behaviour, sub)
        self.release = threading.Event()
        self.slow_started = threading.Event()
        self.slow_answered = threading.Event()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    def token(self, behaviour: str, sub: str) -> str:
        token = f"{behaviour}-{secrets.token_urlsafe(16)}"
        self.tokens[token] = (behaviour, sub)
        SECRETS.append(token)
        return token

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/introspect"

    def start(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                expected = base64.b64encode(f"{CREDENTIALS['client_id']}:{CREDENTIALS['client_secret']}".encode())
                if self.headers.get("Authorization") != f"Basic {expected.decode()}":
                    self._answer(401, {"error": "invalid_client"})
                    return
                behaviour, sub = service.tokens.get(form.get("token", [""])[0], ("inactive", ""))
                if behaviour == "broken":
                    self._answer(500, {"error": "server_error"})
                    return
                if behaviour == "slow":
                    service.slow_started.set()
                    service.release.wait(HOLD_S)
                answer: dict[str, Any] = {"active": behaviour != "inactive"}
                if answer["active"]:
                    answer.update(sub=sub, name=sub.title(), client_id=PHONE_APP, token_type="Bearer")
                try:
                    self._answer(200, answer)
                finally:
                    if behaviour == "slow":
                        service.slow_answered.set()

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="introspection", daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @contextmanager
    def down(self) -> Iterator[None]:
        """Nothing listens on the port for a while (connection refused), then the service is back."""
        self.stop()
        try:
            yield
        finally:
            self.release.clear()
            self.start()


@pytest.fixture(scope="module")
def introspection() -> Iterator[Introspection]:
    service = Introspection()
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def introspecting_stack(stacks, introspection):
    stack = stacks.get(NO_RATE_LIMIT, "PhoneAuthMode=introspection", f"IntrospectionUrl={introspection.url}",
                       f"IntrospectionSecretName={SECRET_NAME}", f"PhoneJwtClientId={PHONE_APP}", "PhoneJwtAudience=",
                       purpose="introspection")
    request = urllib.request.Request(f"{stack.base_url}/dev/secrets/{SECRET_NAME}", method="PUT",
                                     data=json.dumps(CREDENTIALS).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204
    SECRETS.append(CREDENTIALS["client_secret"])
    return stack


async def scanned_by(api: Api, introspection: Introspection, sub: str):
    login = await api.create()
    reply = await api.phone("scan", login, introspection.token("fast", sub))
    assert reply.status == 200, reply.body
    return login


def test_a_slow_introspection_service_is_auth_unavailable_before_it_answers_and_nothing_is_confirmed(
        introspecting_stack, introspection, run):
    async def scenario():
        async with Clients(introspecting_stack.base_url) as api:
            # Given a session scanned by alice (the service answering at once)
            login = await scanned_by(api, introspection, "alice")

            # When alice confirms and the service takes far longer than the verifier waits
            reply = await api.phone("confirm", login, introspection.token("slow", "alice"))

            # Then the phone is told the identity provider is unavailable, while the service is still busy
            assert (reply.status, reply.body["error"]) == (503, "auth_unavailable")
            assert introspection.slow_started.is_set() and not introspection.slow_answered.is_set()
            # And the late "active" answer changes nothing: the session is still only scanned
            introspection.release.set()
            assert introspection.slow_answered.wait(HOLD_S)
            assert await api.state(login) == ("scanned", 2)

    run(scenario())


def test_an_introspection_service_that_is_down_is_auth_unavailable_and_changes_nothing(
        introspecting_stack, introspection, run):
    async def scenario():
        async with Clients(introspecting_stack.base_url) as api:
            login = await api.create()
            token = introspection.token("fast", "bob")
            with introspection.down():
                reply = await api.phone("scan", login, token)
            assert (reply.status, reply.body["error"]) == (503, "auth_unavailable")
            assert await api.state(login) == ("pending", 1)
            # And once it is back, the same token scans
            assert (await api.phone("scan", login, token)).status == 200

    run(scenario())


def test_an_introspection_service_failing_with_500_is_auth_unavailable(introspecting_stack, introspection, run):
    async def scenario():
        async with Clients(introspecting_stack.base_url) as api:
            login = await scanned_by(api, introspection, "carol")
            reply = await api.phone("confirm", login, introspection.token("broken", "carol"))
            assert (reply.status, reply.body["error"]) == (503, "auth_unavailable")
            assert await api.state(login) == ("scanned", 2)

    run(scenario())


def test_an_inactive_token_is_unauthorized(introspecting_stack, introspection, run):
    async def scenario():
        async with Clients(introspecting_stack.base_url) as api:
            login = await api.create()
            reply = await api.phone("scan", login, introspection.token("inactive", "dave"))
            assert (reply.status, reply.body["error"]) == (401, "unauthorized")
            assert await api.state(login) == ("pending", 1)

    run(scenario())
