"""The HTTP side of the OAuth endpoints: one resolver setup, one error mapping (RFC 6749 §5.2).

OAuth errors (``qrlogin.oauth.errors``) and domain errors (``qrlogin.errors``,
e.g. a throttled table) both become ``{"error", "error_description"}`` JSON
here and nowhere else.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from qrlogin import errors as domain_errors
from qrlogin.config import Settings
from qrlogin.http import create_app, json_response, raw_body
from qrlogin.oauth import errors
from qrlogin.observability import logger

FORM = "application/x-www-form-urlencoded"


def oauth_error_response(error: errors.OAuthError) -> Response:
    return json_response(error.status_code, error.body(), error.headers())


def domain_error_response(error: domain_errors.DomainError) -> Response:
    headers = {"Pragma": "no-cache"}
    if error.retry_after:
        headers["Retry-After"] = str(error.retry_after)
    return json_response(error.status_code, {"error": error.code, "error_description": error.message}, headers)


def create_oauth_app() -> APIGatewayHttpResolver:
    """qrlogin.http's resolver with RFC 6749 §5.2 bodies, plus the OAuth errors' own handler."""
    app = create_app(domain_error_response,
                     {"error": "server_error", "error_description": "Something went wrong on our side."})

    @app.exception_handler(errors.OAuthError)
    def oauth_error(error: errors.OAuthError) -> Response:
        logger.info("oauth request refused", extra={"error": error.code, "status_code": error.status_code})
        return oauth_error_response(error)

    return app


def read_form(app: APIGatewayHttpResolver) -> dict[str, str]:
    """An application/x-www-form-urlencoded body, each parameter at most once (RFC 6749 §3.2)."""
    parsed = _parse(_form_text(app), "The body is not a valid form.")
    duplicated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if duplicated:
        raise errors.InvalidRequest(f"{duplicated[0]} is given more than once.")
    # An empty value counts as absent (RFC 6749 §3.1).
    return {name: values[0] for name, values in parsed.items() if values[0] != ""}


def query_params(app: APIGatewayHttpResolver) -> dict[str, list[str]]:
    """The raw query, every value kept (duplicates are the caller's to refuse)."""
    return _non_empty(_parse(app.current_event.raw_event.get("rawQueryString") or "", "The query string is not valid."))


def form_params(app: APIGatewayHttpResolver) -> dict[str, list[str]]:
    """A form body, every value kept (an authorization request sent with POST, OIDC Core §3.1.2.1)."""
    return _non_empty(_parse(_form_text(app), "The body is not a valid form."))


def _form_text(app: APIGatewayHttpResolver) -> str:
    """The body of a form request (http.raw_body: base64 and the size limit), as text."""
    content_type = (app.current_event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise errors.InvalidRequest(f"The body must be {FORM}.")
    try:
        return raw_body(app).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidRequest("The body is not UTF-8.") from None
    except domain_errors.DomainError as error:
        raise errors.InvalidRequest(error.message) from None


def _parse(raw: str, refusal: str) -> dict[str, list[str]]:
    try:
        return parse_qs(raw, keep_blank_values=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise errors.InvalidRequest(refusal) from None


def _non_empty(parsed: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: [v for v in values if v != ""] for name, values in parsed.items()}


def issuer_of(app: APIGatewayHttpResolver, settings: Settings) -> str:
    """The issuer (DESIGN §8.1): the configured one (a custom domain), else the URL this API was called on.

    API Gateway sets ``x-forwarded-proto`` (https) and ``requestContext.domainName``;
    the local gateway does the same with http and HOST:PORT.
    """
    if settings.oidc_issuer:
        return settings.oidc_issuer
    event: dict[str, Any] = app.current_event.raw_event
    proto = (app.current_event.headers.get("x-forwarded-proto") or "https").split(",")[0].strip().lower()
    if proto not in ("http", "https"):
        proto = "https"
    return f"{proto}://{event['requestContext']['domainName']}"
