"""A device login and a typed-code lookup over real HTTP, for the no-secret-in-logs scan (DESIGN §7 with issue 13).

Adds to the Secrets the device code and the tokens the device gets, after
driving a QR login's "Can't scan?" code, a device grant's typed code and the
refusals: a pending poll, a slow_down, a wrong code, a device code used again.
(Typed codes themselves are shown on screens and too short for the scanner.)
"""

from __future__ import annotations

from urllib.parse import urlencode

from tests.integration.conftest import Client
from tests.integration.logscan import Secrets

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def device_login(api: Client, secrets: Secrets) -> None:
    registered = await api.request("POST", "/dev/clients", body={"redirect_uris": ["https://tv.example.com/cb"],
                                                                 "public": True})
    assert registered.status == 201, registered.body
    client_id = registered.body["client_id"]

    async def form(path: str, fields: dict[str, str]) -> tuple[int, dict]:
        async with api.http.post(api.base_url + path, data=urlencode(fields), headers=FORM) as response:
            return response.status, await response.json()

    status, device = await form("/device_authorization", {"client_id": client_id, "scope": "openid profile"})
    assert status == 200, device
    secrets.token("device code", device["device_code"])
    poll = {"grant_type": DEVICE_GRANT, "device_code": device["device_code"], "client_id": client_id}
    assert (await form("/token", poll))[1]["error"] == "authorization_pending"
    assert (await form("/token", poll))[1]["error"] == "slow_down"

    # A QR login's page asks for its code too; the phone mistypes once, then types both right
    login = await api.create()
    secrets.token("browser token (typed-code login)", login.browser_token)
    minted = await api.request("POST", f"/sessions/{login.session_id}/user_code", token=login.browser_token)
    assert minted.status == 200, minted.body
    phone = await api.phone_token("tess", "Tess")
    secrets.token("phone token (device login)", phone)
    assert (await api.request("POST", "/sessions/lookup", token=phone, body={"user_code": "BBBB-BBBB"})).status == 404
    for typed in (minted.body["user_code"], device["user_code"]):
        found = await api.request("POST", "/sessions/lookup", token=phone, body={"user_code": typed.lower()})
        assert found.status == 200, found.body
    found = await api.request("POST", "/sessions/lookup", token=phone, body={"user_code": device["user_code"]})
    for action in ("scan", "confirm"):
        reply = await api.request("POST", f"/sessions/{found.body['session_id']}/{action}", token=phone)
        assert reply.status == 200, reply.body

    status, tokens = await form("/token", poll)
    assert status == 200, tokens
    for name in ("access_token", "id_token"):
        secrets.token(f"device flow {name}", tokens[name])
    assert (await form("/token", poll))[1]["error"] == "invalid_grant"  # used again
