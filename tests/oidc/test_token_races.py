"""A code is spent by exactly one of racing exchanges, against the local stack's real DynamoDB semantics.

The local stack passes DynamoDB writes one at a time, as DynamoDB makes each
conditional write atomic; the race is decided by store.exchange_code's
condition, and every loser gets RFC 6749 §5.2 invalid_grant, never a 5xx.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.oidc.conftest import CALLBACK, Provider

pytestmark = pytest.mark.oidc
RACERS = 8


def approved_code(provider: Provider, client: dict) -> tuple[str, str]:
    """(code, verifier) of an authorization request approved on the phone; the hosted page's steps over HTTP."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    page = provider.http.get(f"{provider.base_url}/authorize", params={
        "client_id": client["client_id"], "redirect_uri": CALLBACK, "response_type": "code", "scope": "openid",
        "code_challenge": challenge, "code_challenge_method": "S256", "state": "race"}, allow_redirects=False)
    assert page.status_code == 200, page.text
    session = json.loads(re.search(r'id="qrl-authorization">(.*?)</script>', page.text).group(1))["session"]
    token = provider.phone_token("rita", "Rita")
    for action in ("scan", "confirm"):
        assert provider.phone(action, session["session_id"], token).status_code == 200
    done = provider.http.post(f"{provider.base_url}/authorize/complete",
                              json={"session_id": session["session_id"], "browser_token": session["browser_token"]})
    code = parse_qs(urlsplit(done.json()["redirect"]).query)["code"][0]
    return code, verifier


def test_racing_exchanges_of_one_code_exactly_one_wins(provider):
    client = provider.register()
    code, verifier = approved_code(provider, client)
    barrier = Barrier(RACERS)

    def exchange(_: int) -> requests.Response:
        with requests.Session() as http:
            barrier.wait()
            return http.post(f"{provider.base_url}/token", auth=(client["client_id"], client["client_secret"]), data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier})

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(exchange, range(RACERS)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [400] * (RACERS - 1), [a.text for a in answers]
    assert {answer.json()["error"] for answer in answers if answer.status_code == 400} == {"invalid_grant"}
