"""The local gateway behaves as API Gateway does where clients can tell."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


def test_a_404_the_gateway_answers_itself_is_the_contracts_json_error(clients, stack, run):
    async def scenario():
        async with clients() as api:
            # When a path or a method has no route in the template, with or without an encoded CR/LF
            replies = [await api.request(method, path) for method, path in (
                ("GET", "/nothing/here"), ("PUT", "/sessions"), ("GET", "/sessions%0D%0A"),
                ("POST", "/%0a"), ("GET", "/sessions/x%0D%0Ay"))]

            # Then each is the contract's not_found, as JSON (DESIGN §3; docs/design.md)
            for reply in replies:
                assert reply.status == 404 and reply.headers["content-type"].startswith("application/json")
                assert set(reply.body) == {"error", "message"} and reply.body["error"] == "not_found"

            # And a CR/LF inside a session id reaches the function (as on API Gateway), which answers the same
            since = len(stack.output())
            scanned = await api.request("POST", "/sessions/x%0D%0Ay/scan", token=await api.phone_token())
            assert (scanned.status, scanned.body["error"]) == (404, "not_found")
            assert any(line.startswith("ConfirmFunction POST /sessions/{session_id}/scan 404")
                       for line in stack.output()[since:])

    run(scenario())


def test_cors_preflight_and_response_headers_follow_the_template(clients, run):
    async def scenario():
        async with clients() as api:
            # When a browser on another origin preflights and then calls (AllowedOrigins is * locally)
            origin = {"Origin": "http://localhost:8080"}
            preflight = await api.request("OPTIONS", "/sessions",
                                          headers={**origin, "Access-Control-Request-Method": "POST"})
            created = await api.request("POST", "/sessions", body={}, headers=origin)

            # Then the gateway answers the preflight itself with the template's CorsConfiguration
            assert preflight.status == 204
            assert preflight.headers["access-control-allow-origin"] == "*"
            assert set(preflight.headers["access-control-allow-methods"].split(",")) == {
                "GET", "POST", "DELETE", "OPTIONS"}
            assert preflight.headers["access-control-allow-headers"] == "authorization,content-type"
            assert preflight.headers["access-control-max-age"] == "600"
            # And the real response carries the CORS headers too
            assert created.status == 201
            assert created.headers["access-control-allow-origin"] == "*"
            assert created.headers["access-control-expose-headers"] == "retry-after"

    run(scenario())


def test_websocket_routes_answer_on_the_socket_and_errors_keep_it_open(clients, run):
    async def scenario():
        async with clients() as api:
            socket = await api.socket()

            # When the client sends a ping, non-JSON, an unknown action and a bad subscribe
            await socket.send_str('{"action":"ping"}')
            pong = await api.next_message(socket)
            await socket.send_str("not json")
            not_json = await api.next_message(socket)
            await socket.send_json({"action": "dance"})
            unknown = await api.next_message(socket)
            await socket.send_json({"action": "subscribe", "session_id": "AAAAAAAAAAAAAAAAAAAAAA",
                                    "browser_token": "A" * 43})
            not_found = await api.next_message(socket)

            # Then each gets its route's reply (ping, $default, $default, subscribe) and the socket stays open
            assert pong == {"type": "pong"}
            assert not_json["error"] == unknown["error"] == "invalid_request"
            assert not_found["error"] == "not_found"
            await socket.send_str('{"action":"ping"}')
            assert await api.next_message(socket) == {"type": "pong"}

    run(scenario())


def test_the_demo_pages_and_the_websocket_url_are_served(clients, run):
    async def scenario():
        async with clients() as api:
            # When the demo pages are fetched and a session is created
            login_page = await api.request("GET", "/")
            phone_page = await api.request("GET", "/phone")
            login = await api.create()

            # Then both pages are HTML from web/, and the session names the local WebSocket
            for page in (login_page, phone_page):
                assert page.status == 200 and page.headers["content-type"].startswith("text/html")
            assert login.body["websocket_url"] == (await api.stack_info())["websocket_url"]
            assert login.body["websocket_url"].startswith(("ws://127.0.0.1:", "ws://localhost:"))

    run(scenario())


def test_every_invocation_gets_one_readable_log_line(clients, run, stack):
    async def scenario():
        async with clients() as api:
            # When a session is read with a wrong token
            login = await api.create()
            await api.request("GET", f"/sessions/{login.session_id}", token="x" * 43)

            # Then the stack logged function, route, status and milliseconds, and no secret
            line = re.compile(r"^StatusFunction GET /sessions/\{session_id\} 404 \d+ms$")

            async def logged() -> bool:
                return any(line.match(entry) for entry in stack.output())

            await api.wait_until(logged, lambda: "\n".join(stack.output()[-5:]))
            assert not any(login.browser_token in entry for entry in stack.output())

    run(scenario())
