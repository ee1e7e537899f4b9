"""Races: for each transition, 20 identical or conflicting requests at once.

Exactly one state change (the item's version moves by exactly one), the
others get the contract's answer: an idempotent 200 for the same phone user
repeating himself, 409/400 for everybody else.  The local stack runs each
function in several containers, so the requests really do overlap.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from stackclient import Api, Login

pytestmark = pytest.mark.load

RACERS = 20


async def phone_tokens(api: Api, count: int, prefix: str) -> list[str]:
    return list(await asyncio.gather(*(api.phone_token(f"{prefix}-{i}", f"{prefix} {i}") for i in range(count))))


async def scanned(api: Api, sub: str) -> tuple[Login, str]:
    login, token = await api.create(), await api.phone_token(sub, sub.title())
    assert (await api.phone("scan", login, token)).status == 200
    return login, token


def outcomes(replies) -> Counter:
    return Counter((r.status, r.body.get("error") if isinstance(r.body, dict) else None) for r in replies)


def test_the_same_user_scanning_twenty_times_scans_once(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a pending session and one phone user
            login, token = await api.create(), await api.phone_token("sam", "Sam")

            # When the phone sends the same scan 20 times at once
            replies = await asyncio.gather(*(api.phone("scan", login, token) for _ in range(RACERS)))

            # Then every answer is the same 200 (a repeat is idempotent) and the session changed once
            assert outcomes(replies) == {(200, None): RACERS}
            assert len({str(sorted(r.body.items())) for r in replies}) == 1
            assert await api.state(login) == ("scanned", 2)

    run(scenario())


def test_twenty_users_scanning_at_once_bind_the_session_to_exactly_one(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a pending session and 20 different phone users
            login, tokens = await api.create(), await phone_tokens(api, RACERS, "scanner")

            # When they all scan at once
            replies = await asyncio.gather(*(api.phone("scan", login, token) for token in tokens))

            # Then one wins, the others are told it is taken, and the item names the winner
            assert outcomes(replies) == {(200, None): 1, (409, "conflict"): RACERS - 1}
            winner = next(i for i, r in enumerate(replies) if r.status == 200)
            item = await api.item(login)
            assert item["user_sub"]["S"] == f"scanner-{winner}"
            assert await api.state(login) == ("scanned", 2)

    run(scenario())


def test_the_same_user_confirming_twenty_times_confirms_once(clients, run):
    async def scenario():
        async with clients() as api:
            login, token = await scanned(api, "carla")

            replies = await asyncio.gather(*(api.phone("confirm", login, token) for _ in range(RACERS)))

            assert outcomes(replies) == {(200, None): RACERS}
            assert await api.state(login) == ("confirmed", 3)

    run(scenario())


def test_confirm_racing_deny_by_the_scanning_user_lets_exactly_one_kind_win(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a session scanned by dora
            login, token = await scanned(api, "dora")

            # When her phone sends 10 confirms and 10 denies at once
            actions = ["confirm", "deny"] * (RACERS // 2)
            replies = await asyncio.gather(*(api.phone(action, login, token) for action in actions))

            # Then the session took exactly one of them, and every call of the other kind was refused
            status, version = await api.state(login)
            assert version == 3
            winner = {"confirmed": "confirm", "denied": "deny"}[status]
            for action, reply in zip(actions, replies, strict=True):
                expected = (200, None) if action == winner else (409, "conflict")
                assert outcomes([reply]) == {expected: 1}, (action, reply)

    run(scenario())


def test_twenty_users_denying_a_pending_session_deny_it_once(clients, run):
    async def scenario():
        async with clients() as api:
            login, tokens = await api.create(), await phone_tokens(api, RACERS, "denier")

            replies = await asyncio.gather(*(api.phone("deny", login, token) for token in tokens))

            assert outcomes(replies) == {(200, None): 1, (409, "conflict"): RACERS - 1}
            assert await api.state(login) == ("denied", 2)

    run(scenario())


def test_the_browser_cancelling_twenty_times_cancels_once(clients, run):
    async def scenario():
        async with clients() as api:
            login = await api.create()

            replies = await asyncio.gather(*(api.cancel(login) for _ in range(RACERS)))

            assert outcomes(replies) == {(204, None): 1, (409, "conflict"): RACERS - 1}
            assert await api.state(login) == ("cancelled", 2)

    run(scenario())


def test_cancel_racing_deny_ends_in_exactly_one_final_state(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a scanned session: both the browser (cancel) and the phone (deny) may end it
            login, token = await scanned(api, "erin")

            # When 10 cancels and 10 denies arrive at once
            calls = [api.cancel(login) if i % 2 else api.phone("deny", login, token) for i in range(RACERS)]
            replies = await asyncio.gather(*calls)
            cancels, denies = replies[1::2], replies[0::2]

            # Then one transition happened, and only the winner's side heard success
            status, version = await api.state(login)
            assert version == 3
            if status == "cancelled":
                assert outcomes(cancels) == {(204, None): 1, (409, "conflict"): len(cancels) - 1}
                assert outcomes(denies) == {(409, "conflict"): len(denies)}
            else:
                assert status == "denied"
                assert outcomes(denies) == {(200, None): len(denies)}
                assert outcomes(cancels) == {(409, "conflict"): len(cancels)}

    run(scenario())


def test_twenty_redeems_at_once_hand_out_exactly_one_token(clients, run):
    async def scenario():
        async with clients() as api:
            # Given a confirmed session
            login, _ = await api.confirmed("fred")

            # When the browser redeems it 20 times at once
            replies = await asyncio.gather(*(api.redeem(login) for _ in range(RACERS)))

            # Then exactly one id_token is handed out; the rest are invalid_grant
            assert outcomes(replies) == {(200, None): 1, (400, "invalid_grant"): RACERS - 1}
            assert await api.state(login) == ("redeemed", 4)

    run(scenario())


def test_twenty_sessions_issued_at_once_are_twenty_distinct_sessions(clients, run):
    async def scenario():
        async with clients() as api:
            logins = await asyncio.gather(*(api.create() for _ in range(RACERS)))

            assert len({login.session_id for login in logins}) == RACERS
            assert len({login.browser_token for login in logins}) == RACERS
            assert {await api.state(login) for login in logins} == {("pending", 1)}

    run(scenario())
