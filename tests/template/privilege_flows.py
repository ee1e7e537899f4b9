"""Flows the least-privilege proof runs after the QR login's (test_least_privilege.run_every_flow).

A function the template gains is proven by itself, but only over the calls its
flows make: a function that makes no call fails the proof.  Add a flow here
for each new endpoint, as a function ``(api, issue, idp, aws) -> None`` over
the unit tier's fixtures (tests/unit/conftest.py: ``api.http`` routes by the
template), appended to ``FLOWS``.  It must drive every route of the function
and every kind of item it touches (the proof derives a function's item kinds
from the keys its calls name, and refuses every other kind).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

FLOWS: list[Callable[[Any, Any, Any, Any], None]] = []


def device_flow(api: Any, issue: Any, idp: Any, aws: Any) -> None:
    """RFC 8628 (issue 13): a device authorization, a pending poll, the phone by typed code, the tokens."""
    import base64

    from qrlogin.oauth.clients import ClientRegistry
    from tests.unit.conftest import TABLE_NAME

    client, secret = ClientRegistry(TABLE_NAME, aws["dynamodb"]).register(["https://rp.example.com/cb"])
    basic = "Basic " + base64.b64encode(f"{client.client_id}:{secret}".encode()).decode()
    form = {"content-type": "application/x-www-form-urlencoded", "authorization": basic}
    started = api.http("POST", "/device_authorization", headers=form, raw_body=b"scope=openid")
    assert started.status == 200, started.body
    poll = urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                      "device_code": started.body["device_code"]}).encode()
    assert api.http("POST", "/token", headers=form, raw_body=poll).body["error"] == "authorization_pending"
    alice = idp.mint("alice", "Alice")
    found = api.http("POST", "/sessions/lookup", token=alice, body={"user_code": started.body["user_code"]})
    for step in ("scan", "confirm"):
        assert api.http("POST", f"/sessions/{found.body['session_id']}/{step}", token=alice).status == 200
    assert api.http("POST", "/token", headers=form, raw_body=poll).status == 200


FLOWS.append(device_flow)


def oidc_flow(api: Any, issue: Any, idp: Any, aws: Any) -> None:
    """The OpenID Provider (issue 12): discovery, the hosted page and its scripts, GET and POST /authorize,
    completion, /token with both client authentications (and an ES256 client), /userinfo by GET and POST."""
    # A stack whose first signed token is an OIDC one: the token function makes the keys itself.
    from qrlogin import deps
    from tests.unit.conftest import TABLE_NAME, Flow
    from tests.unit.oidc_support import Rp

    for item in aws["dynamodb"].scan(TableName=TABLE_NAME)["Items"]:
        if item["pk"]["S"].startswith("signing-key"):
            aws["dynamodb"].delete_item(TableName=TABLE_NAME, Key={"pk": item["pk"]})
    deps.reset()
    rp = Rp(Flow(api, idp))
    for path in ("/.well-known/openid-configuration", "/qrlogin.js", "/authorize.js"):
        assert rp.call("GET", path).status == 200
    for auth, alg in (("basic", None), ("post", "ES256")):
        client = rp.register(id_token_signed_response_alg=alg)
        started, answer = rp.approved(client)
        tokens = rp.exchange(client, started, answer, auth=auth)
        assert tokens.status == 200, tokens.body
        for method in ("GET", "POST"):
            assert rp.userinfo(tokens.body["access_token"], method).status == 200
    client = rp.register()
    form = rp.params(client)
    form.pop("code_verifier")
    posted = rp.call("POST", "/authorize", body=urlencode(form).encode(),
                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert posted.status == 200


FLOWS.append(oidc_flow)
