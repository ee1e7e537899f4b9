"""POST /device_authorization (RFC 8628 §3.1-3.2; DESIGN §8).

Parse the form, authenticate the client (a public client names itself with
``client_id``), check the scope, and issue the device grant: a session of
DESIGN §2 with a typed code.  The device then polls POST /token
(``oauth/grants/device_code.py``).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from qrlogin import deps, device
from qrlogin.config import get_settings
from qrlogin.http import json_response, source_ip, user_agent
from qrlogin.oauth import clients
from qrlogin.oauth.authorize import granted_scope
from qrlogin.oauth.endpoint import create_oauth_app, read_form
from qrlogin.observability import logger, metrics

app = create_oauth_app()


@app.post("/device_authorization")
def device_authorization() -> Response:
    settings = get_settings()
    now = time.time()
    params = read_form(app)
    client = clients.authenticate(deps.clients(), params, app.current_event.headers.get("authorization"))
    scope = granted_scope(params.get("scope", "openid"))  # openid when none is asked for
    authorization = device.authorize_device(
        deps.store(), deps.user_codes(), settings, client_id=client.client_id, scope=scope,
        source_ip=source_ip(app), user_agent=user_agent(app), now=now)
    return json_response(200, device.authorization_body(authorization, settings, now), headers={"Pragma": "no-cache"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
