"""DESIGN §8/§8.1, typed codes: minted on request, unique among live sessions, resolved by the phone with
guessing bounded per user and per source address (429 + Retry-After)."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from qrlogin import errors, user_codes
from qrlogin.http import error_response
from qrlogin.store import SessionStore
from qrlogin.user_code_store import GUESS_WINDOW_SECONDS, GUESSES_PER_ADDRESS, GUESSES_PER_USER, UserCodeStore
from tests.unit.conftest import TABLE_NAME
from tests.unit.test_transition_races import THREADS, warm_clients  # noqa: F401 (a fixture)

CODE_SHAPE = r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$"
WRONG = "BBBB-BBBB"  # a well-formed code; the tests below make sure no session holds it


def mint(api, login, token=None):
    return api.http("POST", f"/sessions/{login.session_id}/user_code",
                    token=login.browser_token if token is None else token)


def lookup(api, flow, entry, who="alice", source_ip="198.51.100.7"):
    return api.http("POST", "/sessions/lookup", token=flow.tokens[who], body={"user_code": entry},
                    source_ip=source_ip)


def table_keys(aws, prefix):
    items = aws["dynamodb"].scan(TableName=TABLE_NAME)["Items"]
    return sorted(i["pk"]["S"] for i in items if i["pk"]["S"].startswith(prefix))


# -- the code itself ----------------------------------------------------------------------


def test_codes_are_eight_letters_of_the_rfc_8628_alphabet_drawn_uniformly():
    draws = [user_codes.new_user_code() for _ in range(4000)]
    assert {len(d) for d in draws} == {8}
    letters = Counter("".join(draws))
    assert set(letters) == set("BCDFGHJKLMNPQRSTVWXZ")
    # 32000 letters over 20: mean 1600, sd 39; no letter favoured or starved
    assert all(1400 < n < 1800 for n in letters.values()), letters
    assert len(set(draws)) == len(draws)
    assert user_codes.CODE_SPACE == 20**8


@pytest.mark.parametrize("entry", ["WDJB-MJHT", "wdjbmjht", "WdJb-mJhT", " wdjb mjht ", "WD-JB-MJ-HT", "WDJB--MJHT"])
def test_entry_is_case_dash_and_space_insensitive(entry):
    assert user_codes.normalize(entry) == "WDJBMJHT"
    assert user_codes.display("WDJBMJHT") == "WDJB-MJHT"


@pytest.mark.parametrize("entry", ["", "WDJB-MJH", "WDJB-MJHTT", "WDJA-MJHT", "WDJB-MJH1", "WDJB_MJHT",
                                   "\uff37DJB-MJHT", "W" * 40, None, 12345678, ["WDJBMJHT"]])
def test_malformed_codes_are_invalid_request(entry):
    with pytest.raises(errors.InvalidRequest):
        user_codes.normalize(entry)


# -- minting (the browser asks: "Can't scan?") ---------------------------------------------


def test_issuing_a_session_mints_no_code_so_the_happy_path_costs_nothing(api, flow, aws, read_item):
    login = flow.issue()
    assert table_keys(aws, "usercode#") == []
    assert "user_code" not in read_item(login.session_id)
    assert "user_code" not in flow.status(login).body


def test_the_page_gets_one_code_for_its_session_and_the_same_one_again(api, flow, aws, read_item, clock):
    login = flow.issue()
    first = mint(api, login)
    assert first.status == 200, first.body
    assert first.body["expires_at"] == login.body["expires_at"]
    assert first.headers["cache-control"] == "no-store"
    assert re.match(CODE_SHAPE, first.body["user_code"])
    again = mint(api, login)
    assert again.body == first.body
    code = first.body["user_code"].replace("-", "")
    assert table_keys(aws, "usercode#") == [f"usercode#{code}"]
    assert read_item(login.session_id)["user_code"] == {"S": code}
    # the code item lives exactly as long as the session
    item = aws["dynamodb"].get_item(TableName=TABLE_NAME, Key={"pk": {"S": f"usercode#{code}"}})["Item"]
    assert item["expires_at"] == {"N": str(login.body["expires_at"])}
    assert item["session_id"] == {"S": login.session_id}


def test_minting_needs_the_sessions_browser_token(api, flow, aws):
    login, other = flow.issue(), flow.issue()
    for token in (None, "x" * 43, "not a token", other.browser_token):
        result = api.http("POST", f"/sessions/{login.session_id}/user_code", token=token)
        assert (result.status, result.body["error"]) == (404, "not_found")
    assert table_keys(aws, "usercode#") == []


def test_minting_for_an_unknown_or_malformed_session_is_not_found(api, flow):
    login = flow.issue()
    for session_id in ("A" * 22, "short", "A" * 21 + "!"):
        result = api.http("POST", f"/sessions/{session_id}/user_code", token=login.browser_token)
        assert (result.status, result.body["error"]) == (404, "not_found")


def test_no_code_for_a_finished_or_expired_session(api, flow, clock, aws):
    denied = flow.drive("deny")
    assert (mint(api, denied).status, mint(api, denied).body["error"]) == (409, "conflict")
    expiring = flow.issue()
    clock.advance(121)
    assert (mint(api, expiring).status, mint(api, expiring).body["error"]) == (410, "expired")
    assert table_keys(aws, "usercode#") == []


# -- lookup (the phone types it) ---------------------------------------------------------


def test_the_phone_resolves_a_typed_code_then_scans_and_confirms_as_usual(api, flow):
    login = flow.issue()
    code = mint(api, login).body["user_code"]

    # the user types it in lower case without the dash
    result = lookup(api, flow, code.lower().replace("-", ""))
    assert result.status == 200, result.body
    assert result.body == {"session_id": login.session_id}

    assert flow.scan(login).status == 200
    assert flow.confirm(login).status == 200
    assert flow.redeem(login).status == 200


def test_a_wrong_code_is_404_and_a_malformed_one_is_400_costing_no_guess(api, flow, aws):
    flow.issue()
    wrong = lookup(api, flow, WRONG)
    assert (wrong.status, wrong.body["error"]) == (404, "not_found")
    for entry in ("WDJA-MJHT", "", "1234-5678", None, 7):
        bad = lookup(api, flow, entry)
        assert (bad.status, bad.body["error"]) == (400, "invalid_request"), entry
    hits = [int(i["hits"]["N"]) for i in aws["dynamodb"].scan(TableName=TABLE_NAME)["Items"]
            if i["pk"]["S"].startswith("guess#")]
    assert hits == [1, 1]  # the one wrong code, on the user's and on the address's budget


def test_lookup_needs_a_valid_phone_token(api, flow):
    login = flow.issue()
    code = mint(api, login).body["user_code"]
    for token in (None, "not-a-jwt"):
        result = api.http("POST", "/sessions/lookup", token=token, body={"user_code": code})
        assert (result.status, result.body["error"]) == (401, "unauthorized")
    missing = api.http("POST", "/sessions/lookup", token=flow.tokens["alice"], body={})
    assert (missing.status, missing.body["error"]) == (400, "invalid_request")
    not_json = api.http("POST", "/sessions/lookup", token=flow.tokens["alice"], raw_body=b"{")
    assert (not_json.status, not_json.body["error"]) == (400, "invalid_request")


def test_a_code_of_an_expired_session_resolves_to_nothing(api, flow, clock):
    login = flow.issue()
    code = mint(api, login).body["user_code"]
    clock.advance(120)
    result = lookup(api, flow, code)
    assert (result.status, result.body["error"]) == (404, "not_found")


@pytest.mark.parametrize("steps", [("deny",), ("cancel",), ("scan", "confirm"), ("scan", "confirm", "redeem")])
def test_a_code_of_a_finished_session_resolves_to_nothing(api, flow, steps):
    login = flow.issue()
    code = mint(api, login).body["user_code"]
    for step in steps:
        assert flow.act(step, login).status in (200, 204)
    result = lookup(api, flow, code)
    assert (result.status, result.body["error"]) == (404, "not_found")


def test_a_scanned_sessions_code_resolves_only_for_the_user_who_scanned_it(api, flow):
    login = flow.issue()
    code = mint(api, login).body["user_code"]
    assert flow.scan(login, "alice").status == 200
    assert lookup(api, flow, code, "alice").status == 200
    assert lookup(api, flow, code, "bob").status == 404


def test_an_expired_sessions_code_goes_to_a_new_session(api, flow, clock, monkeypatch):
    # Given a session whose code is WDJBMJHT, and that session expires
    monkeypatch.setattr(user_codes, "new_user_code", lambda: "WDJBMJHT")
    old = flow.issue()
    assert mint(api, old).body["user_code"] == "WDJB-MJHT"
    clock.advance(121)
    # When a new session draws the same code, it gets it, and the code names the new session
    new = flow.issue()
    assert mint(api, new).body["user_code"] == "WDJB-MJHT"
    assert lookup(api, flow, "WDJB-MJHT").body == {"session_id": new.session_id}


def test_a_live_sessions_code_is_never_handed_to_another(api, flow, monkeypatch):
    draws = iter(["WDJBMJHT", "WDJBMJHT", "WDJBMJHT", "MJHTWDJB"])
    monkeypatch.setattr(user_codes, "new_user_code", lambda: next(draws))
    first, second = flow.issue(), flow.issue()
    assert mint(api, first).body["user_code"] == "WDJB-MJHT"
    assert mint(api, second).body["user_code"] == "MJHT-WDJB"  # two draws collided, the third was free
    assert lookup(api, flow, "WDJB-MJHT").body == {"session_id": first.session_id}


def test_no_free_code_after_a_few_draws_is_503_not_a_shared_code(api, flow, monkeypatch, aws):
    monkeypatch.setattr(user_codes, "new_user_code", lambda: "WDJBMJHT")
    first, second = flow.issue(), flow.issue()
    assert mint(api, first).status == 200
    result = mint(api, second)
    assert (result.status, result.body["error"]) == (503, "temporarily_unavailable")
    assert result.headers["retry-after"] == "1"
    assert table_keys(aws, "usercode#") == ["usercode#WDJBMJHT"]


# -- guessing bounds ------------------------------------------------------------------------


def test_a_users_run_of_wrong_codes_is_404_until_the_bound_then_429(api, flow, clock):
    # Given a live session with a code (which the guesser does not know)
    login = flow.issue()
    code = mint(api, login).body["user_code"]

    # When one user sends wrong codes in a row
    answers = [lookup(api, flow, WRONG) for _ in range(GUESSES_PER_USER + 2)]

    # Then the first GUESSES_PER_USER are 404, then 429 with Retry-After to the end of the window
    assert [a.status for a in answers] == [404] * GUESSES_PER_USER + [429, 429]
    assert GUESSES_PER_USER < 30  # DESIGN §8.1: the 30th wrong code in a row is 429 at the latest
    refused = answers[-1]
    assert refused.body["error"] == "rate_limited"
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= GUESS_WINDOW_SECONDS
    # And even the right code is refused while the bound holds: guessing cannot continue by luck
    assert lookup(api, flow, code).status == 429
    # And another user (other budget) from elsewhere still resolves it
    assert lookup(api, flow, code, "bob", source_ip="203.0.113.50").status == 200
    # And after Retry-After the user may try again (the first session has expired by then: a new one)
    clock.advance(retry_after)
    later = flow.issue()
    assert lookup(api, flow, mint(api, later).body["user_code"]).body == {"session_id": later.session_id}


def test_wrong_codes_from_one_address_are_bounded_across_users(api, flow, idp):
    tokens = [idp.mint(f"guesser{i}", None) for i in range(GUESSES_PER_ADDRESS)]
    statuses = [api.http("POST", "/sessions/lookup", token=tokens[i // 4], body={"user_code": WRONG},
                         source_ip="192.0.2.77").status for i in range(GUESSES_PER_ADDRESS + 1)]
    # each user stays under their own bound (4 wrong codes each); the address's bound is what refuses
    assert statuses == [404] * GUESSES_PER_ADDRESS + [429]
    # a refused attempt takes nothing from the user's own budget
    assert api.http("POST", "/sessions/lookup", token=tokens[5], body={"user_code": WRONG},
                    source_ip="192.0.2.78").status == 404


def test_codes_that_resolve_cost_no_guess(api, flow):
    login = flow.issue()
    code = mint(api, login).body["user_code"]
    assert {lookup(api, flow, code).status for _ in range(GUESSES_PER_USER * 2)} == {200}
    assert [lookup(api, flow, WRONG).status for _ in range(GUESSES_PER_USER + 1)][-2:] == [404, 429]


# -- races ---------------------------------------------------------------------------------


def _race(calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        try:
            return 200, call()
        except errors.DomainError as error:
            return error_response(error).status_code, error.code

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_twenty_sessions_racing_for_one_code_one_gets_it(flow, aws, warm_clients):  # noqa: F811
    stores = [UserCodeStore(SessionStore(TABLE_NAME, client=dynamodb)) for dynamodb, _ in warm_clients]
    sessions = [flow.issue() for _ in range(THREADS)]
    now = time.time()
    results = _race([lambda i=i: stores[i].reserve("WDJBMJHT", sessions[i].session_id,
                                                   sessions[i].body["expires_at"], now) for i in range(THREADS)])
    assert Counter(won for _, won in results) == {True: 1, False: THREADS - 1}


def test_sessions_minting_at_once_from_a_tiny_code_space_never_share_a_code(api, flow, aws, monkeypatch,
                                                                             warm_clients):  # noqa: F811
    # Given twenty live sessions and only three codes to draw from
    monkeypatch.setattr(user_codes, "new_user_code", lambda: __import__("random").choice(
        ["WDJBMJHT", "MJHTWDJB", "BCDFGHJK"]))
    sessions = [flow.issue() for _ in range(THREADS)]
    stores = [SessionStore(TABLE_NAME, client=dynamodb) for dynamodb, _ in warm_clients]

    # When all of them ask for a code at the same moment
    results = _race([lambda i=i: user_codes.mint_for_browser(
        stores[i], UserCodeStore(stores[i]), sessions[i].session_id, sessions[i].browser_token, now=time.time())
        for i in range(THREADS)])

    # Then at most three get one, each a different one, and the others are told to retry (503), never a shared code
    codes = {i: body["user_code"] for i, (status, body) in enumerate(results) if status == 200}
    assert 1 <= len(codes) <= 3
    assert len(set(codes.values())) == len(codes)
    assert {status for status, _ in results} <= {200, 503}
    # And each code names the session it was given to
    for i, code in codes.items():
        assert lookup(api, flow, code, "bob").body == {"session_id": sessions[i].session_id}
