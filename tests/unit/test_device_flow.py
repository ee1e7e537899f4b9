"""RFC 8628 device authorization grant (DESIGN §8, §8.1), in-process: POST /device_authorization and the
device_code grant at POST /token.  Each MUST of the RFC's §3.1-3.5 has a test named for it below.
"""

from __future__ import annotations

import base64
import importlib
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from qrlogin import ids
from qrlogin.config import MissingSetting, Settings
from qrlogin.device import DeviceGrantStore, verification_uri_of
from qrlogin.oauth import errors as oauth_errors
from qrlogin.oauth.authorize import session_of_code
from qrlogin.store import SessionStore
from tests.unit.conftest import TABLE_NAME
from tests.unit.oidc_support import ISSUER, Rp, jwt_parts, patch_clock
from tests.unit.test_transition_races import THREADS, warm_clients  # noqa: F401 (a fixture)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
CODE_SHAPE = re.compile(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}")
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def rp(flow, clock, monkeypatch) -> Rp:
    patch_clock(monkeypatch, clock)
    monkeypatch.setattr(importlib.import_module("oidc.device"), "time", clock)
    return Rp(flow)


def authorize(rp: Rp, client, *, auth: str | None = None, **form: str):
    auth = auth or ("none" if client.client.public else "basic")
    fields = dict(form)
    headers = dict(FORM)
    if auth == "basic":
        headers["authorization"] = "Basic " + base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
    elif auth == "post":
        fields.update(client_id=client.client_id, client_secret=client.secret)
    else:
        fields["client_id"] = client.client_id
    return rp.call("POST", "/device_authorization", body=urlencode(fields).encode(), headers=headers)


def started(rp: Rp, client, **form: str) -> dict:
    result = authorize(rp, client, **form)
    assert result.status == 200, result.body
    return result.body


def poll(rp: Rp, client, device_code: str | None, **extra: str):
    auth = "none" if client.client.public else "basic"
    return rp.token({"grant_type": DEVICE_GRANT, "device_code": device_code, **extra}, rp=client, auth=auth)


def session_id_of(body: dict) -> str:
    session_id = session_of_code(body["device_code"])
    assert session_id is not None
    return session_id


def approve(rp: Rp, body: dict, who: str = "alice", action: str = "confirm") -> None:
    """The phone: types the code, then scans and confirms (or denies) the session it names."""
    flow = rp.flow
    found = flow.api.http("POST", "/sessions/lookup", token=flow.tokens[who], body={"user_code": body["user_code"]})
    assert found.status == 200, found.body
    session_id = found.body["session_id"]
    for step in ("scan", action):
        result = flow.api.http("POST", f"/sessions/{session_id}/{step}", token=flow.tokens[who])
        assert result.status == 200, result.body


def oauth_error(result, status: int, error: str) -> None:
    assert (result.status, result.body.get("error")) == (status, error), result.body
    assert result.headers["content-type"] == "application/json"
    assert result.headers["cache-control"] == "no-store"


# -- §3.1-3.2 the device authorization request and response ----------------------------------------


def test_device_authorization_response_has_every_field_of_rfc_8628_3_2(rp, clock, read_item):
    client = rp.register()
    result = authorize(rp, client, scope="openid profile")
    assert result.status == 200, result.body
    assert (result.headers["cache-control"], result.headers["pragma"]) == ("no-store", "no-cache")
    body = result.body
    assert set(body) == {"device_code", "user_code", "verification_uri", "verification_uri_complete",
                         "expires_in", "interval"}
    assert CODE_SHAPE.fullmatch(body["user_code"])
    assert body["expires_in"] == 600 and body["interval"] == 5
    session_id = session_id_of(body)
    # verification_uri_complete is the device grant session's QR link: one phone path for every flow
    assert body["verification_uri_complete"] == f"https://login.example.com/q/{session_id}"
    assert body["verification_uri"] == "https://login.example.com/q/"
    # the device grant is a session of DESIGN §2 with bound fields; the device code is stored hashed only
    item = read_item(session_id)
    assert item["status"] == {"S": "pending"}
    assert item["client_id"] == {"S": client.client_id}
    assert item["scope"] == {"S": "openid profile"}
    assert item["user_code"] == {"S": body["user_code"].replace("-", "")}
    assert item["device_code_hash"] == {"S": ids.hash_token(body["device_code"])}
    assert body["device_code"] not in str(item)
    assert int(item["expires_at"]["N"]) == int(clock.now) + 600


def test_device_codes_are_high_entropy_and_distinct(rp):
    client = rp.register()
    codes = [started(rp, client)["device_code"] for _ in range(20)]
    assert len(set(codes)) == 20
    for code in codes:
        secret = code.partition(".")[2]
        assert ids.is_browser_token(secret)  # 256 random bits, base64url


@pytest.mark.parametrize(("template", "uri"), [
    ("http://127.0.0.1:3000/phone?session={session_id}", "http://127.0.0.1:3000/phone"),
    ("https://example.com/q/{session_id}", "https://example.com/q/"),
    ("https://app.example.com/link?v=2&s={session_id}", "https://app.example.com/link?v=2"),
])
def test_verification_uri_is_the_qr_link_without_its_session(template, uri):
    assert verification_uri_of(template) == uri


def test_a_public_client_names_itself_with_client_id(rp):
    client = rp.register(public=True)
    body = started(rp, client)
    approve(rp, body)
    assert poll(rp, client, body["device_code"]).status == 200


def test_client_secret_post_is_accepted(rp):
    client = rp.register()
    assert authorize(rp, client, auth="post").status == 200


def test_a_wrong_client_secret_is_invalid_client_and_makes_no_session(rp, aws):
    client = rp.register()
    client.secret = "wrong-" + (client.secret or "")
    result = authorize(rp, client)
    oauth_error(result, 401, "invalid_client")
    items = aws["dynamodb"].scan(TableName=TABLE_NAME)["Items"]
    assert not [i for i in items if i["pk"]["S"].startswith(("session#", "usercode#"))]


def test_unknown_parameters_are_ignored(rp):
    # RFC 6749 §3.2 (the token endpoint's rules, which RFC 8628 §3.1 applies here): ignore what is not known
    body = started(rp, rp.register(), scope="openid", acr_values="x", audience="y")
    assert CODE_SHAPE.fullmatch(body["user_code"])


def test_a_confidential_client_must_authenticate_to_poll(rp):
    # RFC 8628 §3.4: a client issued credentials authenticates at the token endpoint (RFC 6749 §3.2.1)
    client = rp.register()
    body = started(rp, client)
    approve(rp, body)
    form = {"grant_type": DEVICE_GRANT, "device_code": body["device_code"]}
    oauth_error(rp.token(form, rp=client, auth="none"), 401, "invalid_client")
    wrong = rp.token(form, headers={"authorization": "Basic " + base64.b64encode(
        f"{client.client_id}:not-the-secret".encode()).decode()})
    oauth_error(wrong, 401, "invalid_client")
    # and the refusals spent nothing: with its secret the client gets the tokens
    assert poll(rp, client, body["device_code"]).status == 200


def test_an_unknown_client_is_invalid_client(rp):
    result = rp.call("POST", "/device_authorization", body=b"client_id=nobody", headers=FORM)
    oauth_error(result, 401, "invalid_client")


def test_scope_without_openid_is_invalid_scope(rp):
    oauth_error(authorize(rp, rp.register(), scope="profile"), 400, "invalid_scope")


def test_no_scope_means_openid(rp, read_item):
    body = started(rp, rp.register())
    assert read_item(session_id_of(body))["scope"] == {"S": "openid"}


def test_a_body_that_is_not_a_form_is_invalid_request(rp):
    client = rp.register(public=True)
    result = rp.call("POST", "/device_authorization", body=b'{"client_id": "x"}',
                     headers={"content-type": "application/json"})
    oauth_error(result, 400, "invalid_request")
    repeated = rp.call("POST", "/device_authorization",
                       body=f"client_id={client.client_id}&scope=openid&scope=openid".encode(), headers=FORM)
    oauth_error(repeated, 400, "invalid_request")


def test_discovery_advertises_the_device_endpoint_and_grant(rp):
    document = rp.call("GET", "/.well-known/openid-configuration").body
    assert document["device_authorization_endpoint"] == f"{ISSUER}/device_authorization"
    assert DEVICE_GRANT in document["grant_types_supported"]


# -- §3.3-3.5 the phone approves; the device polls ------------------------------------------------


def test_a_phone_approves_by_typed_code_and_the_device_gets_tokens(rp, clock):
    client = rp.register()
    body = started(rp, client, scope="openid profile")
    approve(rp, body)
    result = poll(rp, client, body["device_code"])
    assert result.status == 200, result.body
    assert result.headers["cache-control"] == "no-store"
    tokens = result.body
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "openid profile"
    _, claims = jwt_parts(tokens["id_token"])
    assert (claims["iss"], claims["aud"], claims["sub"], claims["name"]) == (ISSUER, client.client_id, "alice", "Alice")
    assert claims["amr"] == ["qr"] and "nonce" not in claims
    _, access = jwt_parts(tokens["access_token"])
    assert (access["sub"], access["client_id"]) == ("alice", client.client_id)
    # and the access token works at userinfo
    assert rp.userinfo(tokens["access_token"]).body["sub"] == "alice"


def test_a_phone_approves_by_the_link(rp):
    client = rp.register()
    body = started(rp, client)
    session_id = body["verification_uri_complete"].rsplit("/", 1)[1]
    for step in ("scan", "confirm"):
        assert rp.flow.api.http("POST", f"/sessions/{session_id}/{step}", token=rp.flow.tokens["bob"]).status == 200
    result = poll(rp, client, body["device_code"])
    assert result.status == 200, result.body
    assert jwt_parts(result.body["id_token"])[1]["sub"] == "bob"


def test_authorization_pending_until_the_phone_confirms(rp, clock):
    client = rp.register()
    body = started(rp, client)
    oauth_error(poll(rp, client, body["device_code"]), 400, "authorization_pending")
    session_id = session_id_of(body)
    assert rp.flow.api.http("POST", f"/sessions/{session_id}/scan", token=rp.flow.tokens["alice"]).status == 200
    clock.advance(5)
    oauth_error(poll(rp, client, body["device_code"]), 400, "authorization_pending")
    assert rp.flow.api.http("POST", f"/sessions/{session_id}/confirm", token=rp.flow.tokens["alice"]).status == 200
    clock.advance(5)
    assert poll(rp, client, body["device_code"]).status == 200


def test_slow_down_when_polling_faster_than_interval_and_the_interval_grows_by_5s(rp, clock):
    client = rp.register()
    body = started(rp, client)
    code = body["device_code"]
    # Given one poll
    oauth_error(poll(rp, client, code), 400, "authorization_pending")
    # When the next comes back to back, then slow_down
    oauth_error(poll(rp, client, code), 400, "slow_down")
    # And from then on the interval is 5 + 5 = 10 s: a poll 5 s later is still too fast
    clock.advance(5)
    oauth_error(poll(rp, client, code), 400, "slow_down")
    # And now 15 s: a poll 15 s after the last one is on time
    clock.advance(15)
    oauth_error(poll(rp, client, code), 400, "authorization_pending")
    clock.advance(14)
    oauth_error(poll(rp, client, code), 400, "slow_down")


def test_polls_at_the_interval_never_get_slow_down(rp, clock):
    client = rp.register()
    body = started(rp, client)
    for _ in range(5):
        oauth_error(poll(rp, client, body["device_code"]), 400, "authorization_pending")
        clock.advance(body["interval"])


def test_access_denied_when_the_phone_denies(rp):
    client = rp.register()
    body = started(rp, client)
    approve(rp, body, action="deny")
    oauth_error(poll(rp, client, body["device_code"]), 400, "access_denied")


def test_expired_token_once_the_device_code_expired(rp, clock):
    client = rp.register()
    body = started(rp, client)
    clock.advance(body["expires_in"])
    oauth_error(poll(rp, client, body["device_code"]), 400, "expired_token")
    # and its typed code resolves to nothing
    found = rp.flow.api.http("POST", "/sessions/lookup", token=rp.flow.tokens["alice"],
                             body={"user_code": body["user_code"]})
    assert found.status == 404


def test_tokens_exactly_once_a_device_code_used_again_is_invalid_grant(rp, clock):
    client = rp.register()
    body = started(rp, client)
    approve(rp, body)
    assert poll(rp, client, body["device_code"]).status == 200
    clock.advance(5)
    oauth_error(poll(rp, client, body["device_code"]), 400, "invalid_grant")


def test_a_device_code_of_another_client_is_invalid_grant(rp):
    owner, other = rp.register(), rp.register()
    body = started(rp, owner)
    approve(rp, body)
    oauth_error(poll(rp, other, body["device_code"]), 400, "invalid_grant")
    # and the owner still gets its tokens: the refused poll changed nothing
    assert poll(rp, owner, body["device_code"]).status == 200


@pytest.mark.parametrize("device_code", [
    "not-a-device-code", "A" * 22 + "." + "B" * 43, "." * 66, "x" * 5000,
])
def test_unknown_or_malformed_device_codes_are_invalid_grant(rp, device_code):
    client = rp.register()
    started(rp, client)
    oauth_error(poll(rp, client, device_code), 400, "invalid_grant")


def test_a_real_session_with_a_forged_secret_is_invalid_grant(rp):
    client = rp.register()
    body = started(rp, client)
    approve(rp, body)
    forged = session_id_of(body) + "." + ids.new_browser_token()
    oauth_error(poll(rp, client, forged), 400, "invalid_grant")
    assert poll(rp, client, body["device_code"]).status == 200


def test_a_missing_device_code_is_invalid_request(rp):
    oauth_error(poll(rp, rp.register(), None), 400, "invalid_request")


def test_a_qr_login_session_is_no_device_grant(rp, flow):
    # A QR login's session id with any secret is refused: only a device grant has a device code
    client = rp.register()
    login = flow.drive("scan", "confirm")
    oauth_error(poll(rp, client, f"{login.session_id}.{login.browser_token}"), 400, "invalid_grant")
    assert flow.redeem(login).status == 200


def test_a_device_grants_code_is_minted_at_once_and_unique(rp, aws):
    client = rp.register()
    bodies = [started(rp, client) for _ in range(10)]
    codes = {b["user_code"] for b in bodies}
    assert len(codes) == 10
    keys = [i["pk"]["S"] for i in aws["dynamodb"].scan(TableName=TABLE_NAME)["Items"]]
    assert sorted(k for k in keys if k.startswith("usercode#")) == sorted(f"usercode#{c.replace('-', '')}"
                                                                           for c in codes)


# -- races -----------------------------------------------------------------------------------------


def test_twenty_polls_racing_on_an_approved_grant_one_gets_tokens(rp, settings_env, warm_clients):  # noqa: F811
    client = rp.register()
    body = started(rp, client)
    approve(rp, body)
    settings = Settings.from_env()
    stores = [DeviceGrantStore(SessionStore(TABLE_NAME, client=dynamodb), settings) for dynamodb, _ in warm_clients]
    barrier = threading.Barrier(THREADS)
    now = time.time()

    def one(i: int) -> str:
        barrier.wait()
        try:
            approved = stores[i].poll(body["device_code"], client.client_id, now)
            stores[i].redeem(approved, body["device_code"], client.client_id, now, redeem_id=f"r{i}")
            return "tokens"
        except oauth_errors.OAuthError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = Counter(pool.map(one, range(THREADS)))
    assert outcomes == {"tokens": 1, "invalid_grant": THREADS - 1}


# -- settings ----------------------------------------------------------------------------------------


def test_device_settings_parse_default_and_fail_by_name(settings_env):
    env = dict(settings_env)
    parsed = Settings.from_env({**env, "DEVICE_CODE_TTL_SECONDS": "900", "DEVICE_POLL_INTERVAL_SECONDS": "2"})
    assert (parsed.device_code_ttl_seconds, parsed.device_poll_interval_seconds) == (900, 2)
    absent = {k: v for k, v in env.items() if not k.startswith("DEVICE_")}
    defaults = Settings.from_env(absent)
    assert (defaults.device_code_ttl_seconds, defaults.device_poll_interval_seconds) == (600, 5)
    for name in ("DEVICE_CODE_TTL_SECONDS", "DEVICE_POLL_INTERVAL_SECONDS"):
        for bad in ("0", "five"):
            with pytest.raises(MissingSetting, match=name):
                Settings.from_env({**env, name: bad})
