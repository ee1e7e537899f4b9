"""DESIGN §3, WebSocket: $connect's Origin check, subscribe's snapshot, ping, $default.

Events are API Gateway WebSocket events (the builder checked against
tests/events, and the recorded $connect itself); replies are the integration
response the route response hands back to the client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.events import LambdaContext
from localcloud.template import resources_of_type
from qrlogin import deps
from status.websocket import ROUTES
from tests.unit.conftest import TEMPLATE, handler_for

EVENTS = Path(__file__).resolve().parent.parent / "events"


def message(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["statusCode"] == 200  # an error is a message; the connection stays open
    return json.loads(reply["body"])


def subscribe(api, login, connection_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    body = {"action": "subscribe", "session_id": login.session_id, "browser_token": login.browser_token, **overrides}
    return message(api.ws("subscribe", connection_id=connection_id or api.new_connection(), body=body))


def use_origins(monkeypatch, origins: str) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", origins)
    deps.reset()


# -- $connect ----------------------------------------------------------------------


def test_the_recorded_connect_event_from_an_allowed_origin_is_accepted(aws):
    # Given API Gateway's $connect event from https://app.example.com (in ALLOWED_ORIGINS)
    event = json.loads((EVENTS / "websocket_connect.json").read_text())

    # When the handler runs, Then the connection is accepted
    assert handler_for("WebSocketFunction")(event, LambdaContext("WebSocketFunction"))["statusCode"] == 200


@pytest.mark.parametrize(("headers", "status"), [
    ({"Origin": "https://app.example.com"}, 200),
    ({"origin": "https://app.example.com"}, 200),              # header names are case-insensitive
    ({"Origin": "https://evil.example.com"}, 403),
    ({"Origin": "https://app.example.com.evil.net"}, 403),     # a prefix is not a match
    ({"Origin": "http://app.example.com"}, 403),               # nor another scheme
    ({"Origin": "null"}, 403),
    ({}, 403),                                                 # no Origin while the list is not *
])
def test_connect_checks_the_origin_against_the_allow_list(api, headers, status):
    # When a browser opens the WebSocket with this Origin
    reply = api.ws("$connect", connection_id=api.new_connection(), headers=headers)

    # Then it is accepted or refused with 403
    assert reply["statusCode"] == status


def test_a_wildcard_allow_list_accepts_any_or_no_origin(api, monkeypatch):
    # Given ALLOWED_ORIGINS=*
    use_origins(monkeypatch, "*")

    # Then a missing and a foreign Origin are both accepted
    assert api.ws("$connect", connection_id=api.new_connection(), headers={})["statusCode"] == 200
    assert api.ws("$connect", connection_id=api.new_connection(),
                  headers={"Origin": "https://anything.example"})["statusCode"] == 200


def test_a_list_of_origins_accepts_each_of_them(api, monkeypatch):
    # Given two allowed origins, with spaces after the comma
    use_origins(monkeypatch, "https://a.example.com, https://b.example.com")

    # Then each is accepted and a third is not
    statuses = [api.ws("$connect", connection_id=api.new_connection(), headers={"Origin": origin})["statusCode"]
                for origin in ("https://a.example.com", "https://b.example.com", "https://c.example.com")]
    assert statuses == [200, 200, 403]


def test_disconnect_is_accepted(api):
    assert api.ws("$disconnect", connection_id=api.new_connection())["statusCode"] == 200


def test_every_websocket_route_of_the_template_has_a_handler():
    # Given the template's WebSocket routes
    keys = {r["Properties"]["RouteKey"] for r in resources_of_type(TEMPLATE, "AWS::ApiGatewayV2::Route").values()}

    # Then the WebSocket function answers each of them
    # (no $disconnect route: the function would do nothing with it; docs/design.md, departure P1)
    assert keys == {"$connect", "subscribe", "ping", "$default"}
    assert keys <= set(ROUTES)


# -- subscribe -----------------------------------------------------------------------


def test_subscribe_answers_the_snapshot_at_once(api, issue, read_item):
    # Given a new session
    login = issue()
    connection = api.new_connection()

    # When its browser subscribes
    snapshot = subscribe(api, login, connection)

    # Then it gets the status message right away, and the item now names the connection
    assert snapshot == {"type": "status", "session_id": login.session_id, "status": "pending", "version": 1,
                        "expires_at": login.body["expires_at"]}
    item = read_item(login.session_id)
    assert item["connections"] == {"SS": [connection]}
    assert item["subscribed"] == {"BOOL": True}
    assert item["version"] == {"N": "1"}  # subscribing is not a transition


def test_a_change_before_subscribe_is_not_lost(api, flow):
    # Given a session Alice scanned before the browser's socket subscribed
    login = flow.drive("scan:alice")

    # When the browser subscribes, Then the snapshot already says scanned, by Alice
    snapshot = subscribe(api, login)
    assert (snapshot["status"], snapshot["version"], snapshot["user"]) == ("scanned", 2, "Alice")


def test_one_connection_may_subscribe_to_several_sessions(api, issue, read_item):
    # Given two sessions (a QR rotated on the same page)
    first, second = issue(), issue()
    connection = api.new_connection()

    # When one connection subscribes to both
    subscribe(api, first, connection)
    subscribe(api, second, connection)

    # Then both items name it
    assert read_item(first.session_id)["connections"] == {"SS": [connection]}
    assert read_item(second.session_id)["connections"] == {"SS": [connection]}


@pytest.mark.parametrize("overrides", [
    {"browser_token": "W" * 43},                 # wrong token
    {"session_id": "U" * 22},                    # unknown session
    {"session_id": "short"},                     # not an id
    {"browser_token": "short"},                  # not a token
])
def test_subscribe_with_a_wrong_token_or_session_is_not_found(api, issue, read_item, overrides):
    # Given a session
    login = issue()
    before = read_item(login.session_id)

    # When someone subscribes with a wrong token or session
    reply = subscribe(api, login, **overrides)

    # Then the answer is an error message not_found, and nothing was attached
    assert (reply["type"], reply["error"]) == ("error", "not_found")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize("body", [
    {"action": "subscribe"},
    {"action": "subscribe", "session_id": "x"},
    {"action": "subscribe", "browser_token": "x"},
    {"action": "subscribe", "session_id": 12345, "browser_token": "x"},
    {"action": "subscribe", "session_id": ["a"], "browser_token": {"b": 1}},
    {"action": "subscribe", "session_id": None, "browser_token": None},
])
def test_subscribe_with_missing_or_ill_typed_fields_is_invalid_request(api, aws, body):
    reply = message(api.ws("subscribe", connection_id=api.new_connection(), body=body))
    assert (reply["type"], reply["error"]) == ("error", "invalid_request")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"subscribe"', "", "{"])
def test_subscribe_whose_body_is_not_a_json_object_is_invalid_request(api, aws, text):
    reply = message(api.ws("subscribe", connection_id=api.new_connection(), body=text))
    assert (reply["type"], reply["error"]) == ("error", "invalid_request")


def test_subscribe_over_16_kib_is_refused(api, issue):
    login = issue()
    reply = subscribe(api, login, padding="x" * (16 * 1024))
    assert (reply["type"], reply["error"]) == ("error", "payload_too_large")


# -- ping, $default ----------------------------------------------------------------------


def test_ping_gets_pong(api, aws):
    assert message(api.ws("ping", connection_id=api.new_connection(), body={"action": "ping"})) == {"type": "pong"}


@pytest.mark.parametrize(("route_key", "body"), [
    ("$default", "this is not json"),
    ("$default", {"action": "launch"}),
    ("$default", {"no": "action"}),
    ("$default", ""),
    ("unknown-route", {"action": "unknown-route"}),
])
def test_anything_else_is_invalid_request_and_the_connection_stays(api, aws, route_key, body):
    # When a message reaches $default (not JSON, no action, or an unknown one)
    reply = api.ws(route_key, connection_id=api.new_connection(), body=body)

    # Then it is answered with an error message, status 200: the connection stays open
    assert message(reply)["type"] == "error"
    assert message(reply)["error"] == "invalid_request"
