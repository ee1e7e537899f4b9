"""A redeem whose write commits but whose response is lost still hands out its token.

botocore retries a call whose response it never got; for the redeem's
conditional write the retry fails the condition (the session is already
redeemed, by this very request). The write records the id_token's jti, so
the store can tell its own write from a rival's.
"""

from __future__ import annotations

from typing import Any

import jwt

from qrlogin import deps


class LostFirstResponse:
    """A DynamoDB client whose first redeem write commits, then is sent again as a retry would be."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.retried = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **params: Any) -> Any:
        is_redeem = params.get("ExpressionAttributeValues", {}).get(":target") == {"S": "redeemed"}
        if not self.retried and is_redeem:
            self.retried = True
            self._client.update_item(**params)  # committed; its response never arrives
        return self._client.update_item(**params)


def test_a_redeem_retried_after_its_write_committed_returns_the_token_once(flow, read_item, aws):
    # Given a confirmed session, and a network that loses the first response of the redeem write
    login = flow.drive("scan:alice", "confirm:alice")
    lossy = LostFirstResponse(deps.store().client)
    deps.store()._client = lossy

    # When the browser redeems
    redeemed = flow.redeem(login)

    # Then the write really was sent twice, the browser gets its token, and the session moved once
    assert lossy.retried
    assert redeemed.status == 200, redeemed.body
    item = read_item(login.session_id)
    assert item["status"] == {"S": "redeemed"} and item["version"] == {"N": "4"}
    claims = jwt.decode(redeemed.body["id_token"], options={"verify_signature": False})
    assert item["redeemed_jti"]["S"] == claims["jti"]

    # And a second redeem (another request, another jti) is still refused
    assert flow.redeem(login).body["error"] == "invalid_grant"
