"""grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4-3.5).

Each poll reads the device grant's session: pending -> authorization_pending
(or slow_down when it comes before the interval is up, which then grows by
5 s); denied -> access_denied; expired -> expired_token; confirmed -> the
tokens are signed first, then one conditional write spends the grant
(``confirmed -> redeemed``), so of racing polls exactly one returns tokens and
a device code used again is invalid_grant.  A device code of another client
is invalid_grant.
"""

from __future__ import annotations

import secrets
from typing import Any

from qrlogin.config import get_settings
from qrlogin.device import DeviceGrantStore
from qrlogin.oauth import errors
from qrlogin.oauth.grants import TokenRequest
from qrlogin.oauth.tokens import Grant
from qrlogin.observability import count, logger, session_ref


def exchange(request: TokenRequest) -> dict[str, Any]:
    device_code = request.params.get("device_code")
    if not device_code:
        raise errors.InvalidRequest("device_code is required.")
    client_id = request.client.client_id
    grants = DeviceGrantStore(request.store, get_settings())
    approved = grants.poll(device_code, client_id, request.now)
    session = approved.session
    assert session.user_sub is not None  # confirmed sessions always have one
    grant = Grant(client=request.client, sub=session.user_sub, name=session.user_name,
                  auth_time=session.auth_time or int(request.now), scope=session.bound.get("scope", "openid"))
    # Signed before the grant is spent: if signing fails, nothing was written and the next poll succeeds.
    body = request.minter.mint(grant, request.issuer, int(request.now))
    grants.redeem(approved, device_code, client_id, request.now, redeem_id=secrets.token_urlsafe(16))
    count("DeviceCodeExchanged")
    logger.info("device code exchanged", extra={"session_ref": session_ref(session.session_id),
                                               "client_id": client_id, "user_sub": session.user_sub})
    return body
