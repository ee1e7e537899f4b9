"""The status function's HTTP side: the browser's poll, redeem and cancel; the JWKS (the signing path's)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from qrlogin import deps, service, user_codes
from qrlogin.http import bearer_token, create_app, json_response, raw_body
from qrlogin.keyring import JWKS_MAX_AGE_SECONDS
from qrlogin.observability import logger, metrics

app = create_app()


@app.get("/sessions/<session_id>")
def read_status(session_id: str) -> Response:
    return json_response(200, service.read_status(deps.store(), session_id, bearer_token(app), now=time.time()))


@app.post("/sessions/<session_id>/token")
def redeem(session_id: str) -> Response:
    raw_body(app)  # no body is needed; an oversized one is still refused
    body = service.redeem(deps.store(), deps.signer(), session_id, bearer_token(app), now=time.time())
    return json_response(200, body)


@app.post("/sessions/<session_id>/user_code")
def mint_user_code(session_id: str) -> Response:
    """The typed code for "Can't scan?" (DESIGN §8): made on the first ask, the same one after."""
    raw_body(app)  # no body is needed; an oversized one is still refused
    body = user_codes.mint_for_browser(deps.store(), deps.user_codes(), session_id, bearer_token(app),
                                       now=time.time())
    return json_response(200, body)


@app.delete("/sessions/<session_id>")
def cancel(session_id: str) -> Response:
    service.cancel(deps.store(), session_id, bearer_token(app), now=time.time())
    return Response(status_code=204, headers={"Cache-Control": "no-store"})


@app.get("/.well-known/jwks.json")
def jwks() -> Response:
    """Every published key, never an empty set: a missing key is made first (DESIGN §7)."""
    return json_response(200, deps.signer().jwks, headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
