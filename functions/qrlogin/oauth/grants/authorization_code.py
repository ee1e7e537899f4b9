"""grant_type=authorization_code (RFC 6749 §4.1.3, RFC 7636 §4.5-4.6, OIDC Core §3.1.3).

The code names its session; one conditional write spends it (store.exchange_code),
checking in DynamoDB's condition that it is unused, unexpired, and bound to
this client, this redirect_uri and this PKCE verifier.  Of racing exchanges
exactly one wins; the others, and every replay, are invalid_grant.
"""

from __future__ import annotations

import secrets
from typing import Any

from qrlogin import ids
from qrlogin.oauth import errors
from qrlogin.oauth.authorize import CODE_VERIFIER_PATTERN, s256, session_of_code
from qrlogin.oauth.grants import TokenRequest
from qrlogin.oauth.tokens import Grant
from qrlogin.observability import count, logger, session_ref


def exchange(request: TokenRequest) -> dict[str, Any]:
    params = request.params
    code, redirect_uri, verifier = params.get("code"), params.get("redirect_uri"), params.get("code_verifier")
    if not code:
        raise errors.InvalidRequest("code is required.")
    if not redirect_uri:
        # Required because every authorization request here carried one (RFC 6749 §4.1.3).
        raise errors.InvalidRequest("redirect_uri is required.")
    if verifier is not None and not CODE_VERIFIER_PATTERN.fullmatch(verifier):
        raise errors.InvalidRequest("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).")
    session_id = session_of_code(code)
    if session_id is None:
        raise errors.InvalidGrant("The authorization code is invalid.")
    session = request.store.exchange_code(
        session_id, ids.hash_token(code),
        client_id=request.client.client_id, redirect_uri=redirect_uri,
        code_challenge=s256(verifier) if verifier is not None else None,
        now=request.now, jti=secrets.token_urlsafe(16),
    )
    assert session.user_sub is not None  # confirmed sessions always have one
    grant = Grant(client=request.client, sub=session.user_sub, name=session.user_name,
                  auth_time=session.auth_time or int(request.now), scope=session.bound.get("scope", "openid"),
                  nonce=session.bound.get("nonce"))
    body = request.minter.mint(grant, request.issuer, int(request.now))
    count("AuthorizationCodeExchanged")
    logger.info("authorization code exchanged", extra={"session_ref": session_ref(session_id),
                                                       "client_id": request.client.client_id,
                                                       "user_sub": session.user_sub})
    return body
