"""The OpenID Provider's browser side: discovery, GET /authorize, the hosted page and its completion.

No signing key and no token: this function's role reaches clients (read),
sessions (create, complete) and the issue-rate counters only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from oidc import page
from qrlogin import deps, service
from qrlogin import errors as domain_errors
from qrlogin.config import get_settings
from qrlogin.http import json_object, json_response, source_ip, user_agent
from qrlogin.oauth import authorize, errors
from qrlogin.oauth.discovery import openid_configuration
from qrlogin.oauth.endpoint import create_oauth_app, form_params, issuer_of, query_params
from qrlogin.observability import count, logger, metrics, session_ref
from qrlogin.qr import svg_for

app = create_oauth_app()


@app.exception_handler(errors.ErrorPage)
def refused_page(error: errors.ErrorPage) -> Response:
    logger.info("authorization request refused", extra={"status_code": error.status_code})
    return page.error_page(error.description, error.status_code)


@app.get("/.well-known/openid-configuration")
def discovery() -> Response:
    return json_response(200, openid_configuration(issuer_of(app, get_settings())),
                         headers={"Cache-Control": "public, max-age=300"})


@app.get("/authorize")
def start_authorization() -> Response:
    return _authorization(query_params)


@app.post("/authorize")
def start_authorization_by_post() -> Response:
    # OIDC Core §3.1.2.1: the authorization endpoint MUST take GET and POST (a form).
    return _authorization(form_params)


def _authorization(read_params: Callable[[APIGatewayHttpResolver], dict[str, list[str]]]) -> Response:
    settings = get_settings()
    issuer = issuer_of(app, settings)
    try:
        request = authorize.parse(deps.clients(), read_params(app))
    except errors.InvalidRequest as error:  # an unparsable request: nothing in it can be trusted
        raise errors.ErrorPage(error.description) from None
    except authorize.RedirectError as refusal:
        count("AuthorizationRefused")
        logger.info("authorization request refused", extra={"error": refusal.error.code})
        return _redirect(authorize.error_redirect(refusal.redirect_uri, refusal.error, refusal.state, issuer))
    now = time.time()
    try:
        issued = service.issue_session(deps.store(), settings, source_ip=source_ip(app),
                                       user_agent=user_agent(app), now=now, bound=request.bound())
    except (domain_errors.RateLimited, domain_errors.ServiceUnavailable):
        # The client and its redirect_uri are known good: tell it, as RFC 6749 §4.1.2.1 says, and
        # it can retry later; the browser is not left on a JSON error.
        busy = errors.TemporarilyUnavailable("Too many sign-in requests right now; try again in a minute.")
        return _redirect(authorize.error_redirect(request.redirect_uri, busy, request.state, issuer))
    logger.info("authorization request started", extra={"session_ref": session_ref(issued.session.session_id),
                                                        "client_id": request.client.client_id})
    body = service.issued_body(issued, settings, svg_for(issued.qr_url), now)
    return page.authorize_page(body, request.client.name)


@app.post("/authorize/complete")
def complete_authorization() -> Response:
    """The hosted page, once the phone answered: where to send the browser (JSON, read by authorize.js)."""
    body = json_object(app)
    session_id, browser_token = body.get("session_id"), body.get("browser_token")
    if not isinstance(session_id, str) or not isinstance(browser_token, str):
        raise errors.InvalidRequest("session_id and browser_token are required strings.")
    completion = authorize.complete(deps.store(), session_id, browser_token, issuer=issuer_of(app, get_settings()),
                                    now=time.time())
    if completion.outcome != "pending":
        count("AuthorizationCompleted" if completion.outcome == "code" else "AuthorizationDenied")
        logger.info("authorization request completed", extra={"session_ref": session_ref(session_id),
                                                               "outcome": completion.outcome})
    return json_response(200, {"outcome": completion.outcome, "redirect": completion.redirect})


@app.get("/qrlogin.js")
def widget_script() -> Response:
    return page.script_response("qrlogin.js")


@app.get("/authorize.js")
def page_script() -> Response:
    return page.script_response("authorize.js")


def _redirect(location: str) -> Response:
    return Response(status_code=302, body="", headers={"Location": location, "Cache-Control": "no-store",
                                                       "Referrer-Policy": "no-referrer"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
