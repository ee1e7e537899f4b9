"""The confirm function: the phone's scan, confirm and deny, and its typed-code lookup."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from qrlogin import deps, errors, ids, service, user_codes
from qrlogin.http import bearer_token, create_app, json_object, json_response, source_ip
from qrlogin.observability import logger, metrics
from qrlogin.sessions import PhoneUser

app = create_app()


def _phone_user(*, body_optional: bool) -> tuple[PhoneUser, dict[str, Any]]:
    """The phone user the bearer token names, and the JSON body (a malformed one is refused either way)."""
    token = bearer_token(app)
    if token is None:
        raise errors.Unauthorized()
    body = json_object(app, optional=body_optional)
    return deps.phone_verifier().verify(token), body


def _phone_call(session_id: str, action: Callable[[PhoneUser], dict[str, Any]]) -> Response:
    user, _ = _phone_user(body_optional=True)  # no fields are needed
    if not ids.is_session_id(session_id):
        raise errors.SessionNotFound()
    return json_response(200, action(user))


@app.post("/sessions/<session_id>/scan")
def scan(session_id: str) -> Response:
    return _phone_call(session_id, lambda user: service.scan(
        deps.store(), session_id, user, source_ip=source_ip(app), now=time.time()))


@app.post("/sessions/<session_id>/confirm")
def confirm(session_id: str) -> Response:
    return _phone_call(session_id, lambda user: service.confirm(deps.store(), session_id, user, now=time.time()))


@app.post("/sessions/<session_id>/deny")
def deny(session_id: str) -> Response:
    return _phone_call(session_id, lambda user: service.deny(deps.store(), session_id, user, now=time.time()))


@app.post("/sessions/lookup")
def lookup() -> Response:
    """A typed code -> the session it names (DESIGN §8); then scan and confirm as usual."""
    user, body = _phone_user(body_optional=False)
    return json_response(200, user_codes.lookup(deps.store(), deps.user_codes(), body.get("user_code"), user,
                                                source_ip=source_ip(app), now=time.time()))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
