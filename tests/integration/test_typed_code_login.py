"""DESIGN §8, typed codes over real HTTP: "Can't scan?" -> a code; the phone types it, then scans and confirms as
usual; a brute-forcing phone is refused with 429 + Retry-After (from a source address of its own)."""

from __future__ import annotations

import re

import aiohttp
import pytest

pytestmark = pytest.mark.integration

CODE_SHAPE = re.compile(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}")


def test_a_typed_code_signs_the_page_in(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a login page that asked for a code, and a socket listening to it
            login = await api.create()
            socket = await api.socket()
            await api.subscribe(socket, login)
            minted = await api.request("POST", f"/sessions/{login.session_id}/user_code", token=login.browser_token)
            assert minted.status == 200, minted.body
            assert CODE_SHAPE.fullmatch(minted.body["user_code"])

            # When the phone types it (lower case, no dash), scans and confirms the session it names
            phone = await api.phone_token("carol", "Carol")
            typed = minted.body["user_code"].replace("-", "").lower()
            found = await api.request("POST", "/sessions/lookup", token=phone, body={"user_code": typed})
            assert (found.status, found.body) == (200, {"session_id": login.session_id})
            assert (await api.phone("scan", login, phone)).status == 200
            assert (await api.phone("confirm", login, phone)).status == 200

            # Then the page is told and redeems its token; the code now resolves to nothing
            assert (await api.next_status(socket, login, "confirmed"))["user"] == "Carol"
            assert (await api.redeem(login)).status == 200
            again = await api.request("POST", "/sessions/lookup", token=phone, body={"user_code": typed})
            assert (again.status, again.body["error"]) == (404, "not_found")

    run(scenario())


def test_brute_forcing_codes_is_refused_with_retry_after(stack, clients, run):
    async def scenario():
        async with clients() as shared:
            client_type = type(shared)
        # A source address of its own, so the shared stack's other tests keep their budget
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=connector) as http:
            api = client_type(stack.base_url, http)
            phone = await api.phone_token("mallory", "Mallory")
            answers = []
            for _ in range(30):
                answers.append(await api.request("POST", "/sessions/lookup", token=phone,
                                                 body={"user_code": "BBBB-BBBB"}))
                if answers[-1].status == 429:
                    break
            # A run of wrong codes is 404 until the bound, then 429 (the 30th at the latest)
            statuses = [a.status for a in answers]
            assert statuses[-1] == 429, statuses
            assert set(statuses[:-1]) == {404}
            assert answers[-1].body["error"] == "rate_limited"
            assert int(answers[-1].headers["retry-after"]) > 0

    run(scenario())
