"""The hosted /authorize page's "Can't scan? Use a code" (DESIGN §8, issue 13): a stock relying party
(openid-client, rp.mjs) logs a user in whose phone typed the code instead of scanning the QR."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.oidc.test_openid_client import callback_url, open_hosted_page

pytestmark = pytest.mark.oidc

CODE = re.compile(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}")


def test_the_hosted_page_shows_a_code_the_phone_types(provider, page: Page):
    party = provider.relying_party(provider.register())
    started = party.read()
    session_id, callbacks = open_hosted_page(page, started["authorization_url"])

    # When the person asks for a code, the hosted page shows it (its CSP lets the widget ask the stack)
    page.get_by_role("button", name="Can't scan? Use a code").click()
    widget = page.locator(f".qrl[data-session-id='{session_id}']")
    expect(widget).to_have_attribute("data-user-code", CODE)
    code = widget.get_attribute("data-user-code")
    assert code is not None

    # And the phone resolves it to this authorization request's session, then scans and confirms as usual
    token = provider.phone_token("dana", "Dana")
    found = provider.http.post(f"{provider.base_url}/sessions/lookup", json={"user_code": code},
                               headers={"Authorization": f"Bearer {token}"})
    assert (found.status_code, found.json()) == (200, {"session_id": session_id})
    for step in ("scan", "confirm"):
        assert provider.phone(step, session_id, token).status_code == 200

    # Then the browser reaches the RP's callback and the library gets Dana's tokens
    party.send({"callback_url": callback_url(page, callbacks)})
    result = party.read()
    assert result["ok"], result
    assert result["id_token_claims"]["sub"] == "dana"
