"""A whole login through the handlers: the shortest proof the pieces fit."""

import jwt


def test_a_full_login_yields_a_verifiable_id_token(api, issue, idp, aws):
    # Given a session issued to a browser
    login = issue()
    phone = idp.mint("alice", "Alice")

    # When the phone scans and confirms, and the browser redeems
    scanned = api.http("POST", f"/sessions/{login.session_id}/scan", token=phone)
    confirmed = api.http("POST", f"/sessions/{login.session_id}/confirm", token=phone)
    status = api.http("GET", f"/sessions/{login.session_id}", token=login.browser_token)
    redeemed = api.http("POST", f"/sessions/{login.session_id}/token", token=login.browser_token)
    again = api.http("POST", f"/sessions/{login.session_id}/token", token=login.browser_token)

    # Then each step answers as the contract says
    assert scanned.status == 200 and scanned.body["status"] == "scanned"
    assert confirmed.status == 200 and confirmed.body == {"session_id": login.session_id, "status": "confirmed"}
    assert status.body["status"] == "confirmed" and status.body["user"] == "Alice"
    assert redeemed.status == 200, redeemed.body
    assert again.status == 400 and again.body["error"] == "invalid_grant"

    # And the id_token verifies against the published JWKS
    jwks = api.http("GET", "/.well-known/jwks.json").body
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(redeemed.body["id_token"], key.key, algorithms=["ES256"],
                        audience="example-app", issuer="https://login.example.com")
    assert claims["sub"] == "alice" and claims["name"] == "Alice" and claims["amr"] == ["qr"]
