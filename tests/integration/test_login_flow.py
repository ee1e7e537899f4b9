"""Logins end to end on the local stack: HTTP, WebSocket pushes, the signed id_token."""

from __future__ import annotations

import jwt
import pytest

from localcloud.template import load_template

pytestmark = pytest.mark.integration

PARAMETERS = load_template()["Parameters"]


def test_full_login_pushes_each_step_and_redeems_a_verifiable_token_once(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a session the browser subscribed to
            login = await api.create()
            socket = await api.socket()
            snapshot = await api.subscribe(socket, login)
            assert snapshot == {"type": "status", "session_id": login.session_id, "status": "pending",
                                "version": 1, "expires_at": login.body["expires_at"]}
            phone = await api.phone_token("alice", "Alice")

            # When the phone scans, the browser is told who is asking
            scan = await api.phone("scan", login, phone)
            assert scan.status == 200 and scan.body["status"] == "scanned"
            assert scan.body["request"]["user_agent"].startswith("Mozilla/5.0")
            assert scan.body["proximity"] == {"same_network": True}
            scanned = await api.next_status(socket, login, "scanned")
            assert scanned["user"] == "Alice" and scanned["version"] == 2

            # When the phone confirms, the browser is told at once
            assert (await api.phone("confirm", login, phone)).status == 200
            confirmed = await api.next_status(socket, login, "confirmed")
            assert confirmed["version"] == 3 and confirmed["user"] == "Alice"

            # Then the browser redeems an id_token any JOSE library verifies with the JWKS
            redeemed = await api.redeem(login)
            assert redeemed.status == 200 and redeemed.body["token_type"] == "Bearer"
            jwks = (await api.request("GET", "/.well-known/jwks.json")).body
            header = jwt.get_unverified_header(redeemed.body["id_token"])
            (key,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
            claims = jwt.decode(redeemed.body["id_token"], key=jwt.PyJWK(key).key, algorithms=["ES256"],
                                audience=PARAMETERS["TokenAudience"]["Default"],
                                issuer=PARAMETERS["TokenIssuer"]["Default"])
            assert claims["sub"] == "alice" and claims["name"] == "Alice" and claims["amr"] == ["qr"]

            # And a second redeem is refused
            again = await api.redeem(login)
            assert again.status == 400 and again.body["error"] == "invalid_grant"

    run(scenario())


def test_deny_is_pushed_and_the_token_is_refused(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a scanned session the browser listens to
            login = await api.create()
            socket = await api.socket()
            await api.subscribe(socket, login)
            phone = await api.phone_token("bob", "Bob")
            await api.phone("scan", login, phone)
            await api.next_status(socket, login, "scanned")

            # When the phone user denies
            denied = await api.phone("deny", login, phone)

            # Then the browser is told, and no token is issued
            assert denied.status == 200 and denied.body["status"] == "denied"
            message = await api.next_status(socket, login, "denied")
            assert message["version"] == 3
            refused = await api.redeem(login)
            assert refused.status == 400 and refused.body["error"] == "access_denied"

    run(scenario())


def test_cancel_is_pushed_and_ends_the_session(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a pending session the browser listens to
            login = await api.create()
            socket = await api.socket()
            await api.subscribe(socket, login)

            # When the browser cancels it
            cancelled = await api.request("DELETE", f"/sessions/{login.session_id}", token=login.browser_token)

            # Then the cancel is pushed, the phone can no longer scan, and a second cancel conflicts
            assert cancelled.status == 204
            assert (await api.next_status(socket, login, "cancelled"))["version"] == 2
            scan = await api.phone("scan", login, await api.phone_token())
            assert scan.status == 409
            again = await api.request("DELETE", f"/sessions/{login.session_id}", token=login.browser_token)
            assert again.status == 409

    run(scenario())


def test_two_sessions_on_one_socket_each_get_their_own_pushes(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a page that rotated its QR: two sessions subscribed on one socket
            first, second = await api.create(), await api.create()
            socket = await api.socket()
            await api.subscribe(socket, first)
            await api.subscribe(socket, second)
            phone = await api.phone_token("carol", "Carol")

            # When the phone scans and confirms the second (the QR now shown)
            await api.phone("scan", second, phone)
            await api.phone("confirm", second, phone)
            pushed = [await api.next_message(socket) for _ in range(2)]

            # Then the pushes name the second session only, in order
            assert [(m["session_id"], m["status"]) for m in pushed] == [
                (second.session_id, "scanned"), (second.session_id, "confirmed")]

            # And the first session still gets its own pushes on the same socket
            other_phone = await api.phone_token("dave", "Dave")
            await api.phone("scan", first, other_phone)
            message = await api.next_message(socket)
            assert (message["session_id"], message["status"], message["user"]) == (first.session_id, "scanned", "Dave")

    run(scenario())


def test_resubscribing_on_a_new_socket_shows_what_happened_meanwhile(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a browser whose socket closed after subscribing
            login = await api.create()
            socket = await api.socket()
            await api.subscribe(socket, login)
            await socket.close()

            # When the phone scans and confirms while it is away
            phone = await api.phone_token("erin", "Erin")
            await api.phone("scan", login, phone)
            await api.phone("confirm", login, phone)

            # Then subscribing on a new socket returns the current state as the snapshot
            fresh = await api.socket()
            snapshot = await api.subscribe(fresh, login)
            assert (snapshot["status"], snapshot["version"], snapshot["user"]) == ("confirmed", 3, "Erin")
            assert (await api.redeem(login)).status == 200

    run(scenario())
