"""An OpenID Provider login over real HTTP, for the no-secret-in-logs scan (DESIGN §7 with §8's secrets).

Adds to the Secrets everything a relying party and the hosted page hold:
the client secret, the page's browser token, the PKCE verifier, the code,
the access token and the id_token (and, in kms mode, what KMS signed for
the RS256 tokens), after driving the refusals too: a wrong secret, a
replayed code, a wrong verifier, userinfo with a bad token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets as random
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.integration.conftest import Client
from tests.integration.logscan import Secrets

CALLBACK = "https://rp.example.com/callback"


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def oidc_login(api: Client, secrets: Secrets) -> None:
    registered = await api.request("POST", "/dev/clients", body={"redirect_uris": [CALLBACK]})
    assert registered.status == 201, registered.body
    client_id, client_secret = registered.body["client_id"], registered.body["client_secret"]
    secrets.text("client secret", client_secret)
    verifier = random.token_urlsafe(48)
    secrets.text("PKCE verifier", verifier)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"client_id": client_id, "redirect_uri": CALLBACK, "response_type": "code",
                       "scope": "openid profile", "state": "log-scan", "nonce": "n-log-scan",
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    page = await api.request("GET", f"/authorize?{query}")
    assert page.status == 200, page.body
    session = json.loads(re.search(r'id="qrl-authorization">(.*?)</script>', page.body).group(1))["session"]
    secrets.token("hosted page browser token", session["browser_token"])
    phone = await api.phone_token("olga", "Olga")
    secrets.token("phone token (OIDC login)", phone)
    for action in ("scan", "confirm"):
        reply = await api.request("POST", f"/sessions/{session['session_id']}/{action}", token=phone)
        assert reply.status == 200, reply.body
    done = await api.request("POST", "/authorize/complete",
                             body={"session_id": session["session_id"], "browser_token": session["browser_token"]})
    code = parse_qs(urlsplit(done.body["redirect"]).query)["code"][0]
    secrets.token("authorization code", code)

    async def token(secret: str, code_verifier: str) -> tuple[int, dict]:
        form = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                          "code_verifier": code_verifier, "client_id": client_id, "client_secret": secret})
        async with api.http.post(api.base_url + "/token", data=form,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"}) as response:
            return response.status, await response.json()

    assert (await token(client_secret[:-4] + "AAAA", verifier))[0] == 401
    assert (await token(client_secret, "w" * 43))[0] == 400
    status, tokens = await token(client_secret, verifier)
    assert status == 200, tokens
    assert (await token(client_secret, verifier))[0] == 400  # replayed
    for name in ("access_token", "id_token"):
        secrets.token(f"OIDC {name}", tokens[name])
        header, payload, signature = tokens[name].split(".")
        if json.loads(b64url_decode(header))["alg"] == "RS256":
            # kms mode signs "header.payload" with KMS; an RSA signature is the raw bytes KMS answers.
            secrets.binary(f"KMS Sign message ({name})", f"{header}.{payload}".encode("ascii"))
            secrets.binary(f"RS256 signature ({name})", b64url_decode(signature))
    info = await api.request("GET", "/userinfo", token=tokens["access_token"])
    assert info.status == 200 and info.body["sub"] == "olga", info.body
    assert (await api.request("GET", "/userinfo", token=tokens["id_token"])).status == 401
