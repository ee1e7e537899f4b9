"""The issue function: POST /sessions."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from qrlogin import deps, service
from qrlogin.config import get_settings
from qrlogin.http import create_app, json_object, json_response, source_ip, user_agent
from qrlogin.observability import logger, metrics
from qrlogin.qr import svg_for

app = create_app()


@app.post("/sessions")
def create_session() -> Response:
    json_object(app, optional=True)  # optional {}; a malformed body is still refused
    settings = get_settings()
    now = time.time()
    issued = service.issue_session(
        deps.store(), settings, source_ip=source_ip(app), user_agent=user_agent(app), now=now
    )
    return json_response(201, service.issued_body(issued, settings, svg_for(issued.qr_url), now))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
