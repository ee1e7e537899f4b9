"""The OpenID Provider's back channel: POST /token and /userinfo.

The token endpoint authenticates the client, then dispatches on grant_type
through the grant registry (``qrlogin.oauth.grants``); userinfo checks an
access token against this stack's own keys.  This is the only OIDC function
whose role may sign.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from qrlogin import deps
from qrlogin.config import get_settings
from qrlogin.http import bearer_token, json_response
from qrlogin.oauth import clients, errors, grants
from qrlogin.oauth.endpoint import create_oauth_app, issuer_of, read_form
from qrlogin.oauth.tokens import TokenMinter, access_token_key, verify_access_token
from qrlogin.observability import logger, metrics

app = create_oauth_app()


@app.post("/token")
def token() -> Response:
    settings = get_settings()
    params = read_form(app)
    client = clients.authenticate(deps.clients(), params, app.current_event.headers.get("authorization"))
    request = grants.TokenRequest(client=client, params=params, issuer=issuer_of(app, settings), now=time.time(),
                                  store=deps.store(), minter=TokenMinter(deps.signer(), settings.access_token_audience))
    body = grants.dispatch(request)
    return json_response(200, body, headers={"Pragma": "no-cache"})


def _userinfo() -> Response:
    settings = get_settings()
    header = app.current_event.headers.get("authorization")
    token = bearer_token(app)
    if token is None:
        if header:
            raise errors.InvalidRequest("Send the access token as Authorization: Bearer <token>.")
        raise errors.MissingToken("An access token is required.")
    now = time.time()
    claims = verify_access_token(token, lambda kid: access_token_key(deps.signer(), kid, now),
                                 issuer=issuer_of(app, settings), audience=settings.access_token_audience, now=now)
    info: dict[str, Any] = {"sub": claims["sub"]}
    # Userinfo answers from the token alone: the access token carries name (tokens.access_token_claims).
    if "name" in claims:
        info["name"] = claims["name"]
    return json_response(200, info)


@app.get("/userinfo")
def userinfo_get() -> Response:
    return _userinfo()


@app.post("/userinfo")
def userinfo_post() -> Response:
    return _userinfo()  # OIDC Core §5.3.1: GET and POST


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
