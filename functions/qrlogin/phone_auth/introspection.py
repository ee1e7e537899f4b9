"""``introspection`` mode: RFC 7662, authenticated as §2.1 requires (DESIGN §6).

The stack is a client of the authorization server: ``client_secret_basic``
(RFC 6749 §2.3.1) with a client id and secret kept in AWS Secrets Manager.
The secret is read once per container and read again once when the server
answers 401 ``invalid_client`` (it may have been rotated); re-reads are at
most one per ``reread_cooldown`` seconds.

Who decides what:
- the token refused (``active`` false, a refresh token, another client or
  audience, no subject, 400 ``unsupported_token_type``): 401 ``unauthorized``;
- the server down, slow, 5xx, not JSON, redirecting, or refusing our own
  credentials: 503 ``auth_unavailable``.  A misconfiguration is logged by
  name (the secret's name, the server's status and error code), never the secret.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qrlogin import errors
from qrlogin.observability import logger
from qrlogin.phone_auth.claims import TokenPolicy, check_bearer_token, user_from_claims
from qrlogin.sessions import PhoneUser

AUTH_TIMEOUT_SECONDS = 2.0
MAX_ANSWER_BYTES = 64 * 1024
REREAD_COOLDOWN_SECONDS = 30.0
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")
# token_type / typ / token_use values that name an access token (RFC 7662 §2.2 names the
# type as in RFC 6749 §7.1: Bearer; Keycloak says typ "Bearer"; Ory says token_use "access_token").
ACCESS_TOKEN_MARKERS = {"token_type": ("bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token"),
                        "typ": ("bearer",),
                        "token_use": ("access_token", "access")}


class Misconfigured(Exception):
    """Our side of the exchange is wrong (secret, credentials, URL); the message names what, never a secret."""


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    client_secret: str = ""

    def __repr__(self) -> str:  # a secret must not reach a log through a repr
        return f"ClientCredentials(client_id={self.client_id!r})"

    def basic_authorization(self) -> str:
        """RFC 6749 §2.3.1: each part form-urlencoded, then Basic."""
        pair = f"{urllib.parse.quote_plus(self.client_id)}:{urllib.parse.quote_plus(self.client_secret)}"
        return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


class SecretsManagerCredentials:
    """The introspection client's id and secret: a Secrets Manager secret whose value is
    ``{"client_id": "...", "client_secret": "..."}``, read lazily and kept per container."""

    def __init__(self, secret_name: str, client: Any = None) -> None:
        self.secret_name = secret_name
        self._client = client
        self._credentials: ClientCredentials | None = None

    def get(self, reread: bool = False) -> ClientCredentials:
        if self._credentials is None or reread:
            self._credentials = self._read()
        return self._credentials

    def _read(self) -> ClientCredentials:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            from qrlogin.aws import client

            self._client = client("secretsmanager")
        try:
            value = self._client.get_secret_value(SecretId=self.secret_name).get("SecretString")
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise Misconfigured(f"secret {self.secret_name} could not be read ({code})") from None
        except BotoCoreError as error:
            raise Misconfigured(f"secret {self.secret_name} could not be read ({type(error).__name__})") from None
        try:
            document = json.loads(value or "")
        except ValueError:
            document = None
        if not (isinstance(document, dict) and isinstance(document.get("client_id"), str) and document["client_id"]
                and isinstance(document.get("client_secret"), str)):
            raise Misconfigured(f"secret {self.secret_name} is not a JSON object with client_id and client_secret")
        return ClientCredentials(document["client_id"], document["client_secret"])


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would carry our credentials elsewhere (or turn the POST into a GET): treat it as an answer."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_form(url: str, form: dict[str, str], authorization: str, timeout: float) -> tuple[int, bytes]:
    """POST a form; (status, body) for any HTTP answer, AuthUnavailable when there is none."""
    request = urllib.request.Request(  # noqa: S310 (scheme checked by Settings)
        url,
        data=urllib.parse.urlencode(form).encode("ascii"),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                 "Authorization": authorization},
        method="POST",
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return getattr(response, "status", None) or 200, response.read(MAX_ANSWER_BYTES)  # file:// has no status
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read(MAX_ANSWER_BYTES)
    except (urllib.error.URLError, TimeoutError, OSError, ValueError):
        raise errors.AuthUnavailable() from None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def is_access_token(answer: dict[str, Any]) -> bool:
    """True only if the answer says it is an access token.

    node-oidc-provider leaves ``token_type`` out for a refresh token, so "not a
    refresh token when present" would let its refresh tokens log in.
    """
    markers = [(claim, answer[claim]) for claim in ACCESS_TOKEN_MARKERS if claim in answer]
    return bool(markers) and all(
        isinstance(value, str) and value.lower() in ACCESS_TOKEN_MARKERS[claim] for claim, value in markers)


class IntrospectionPhoneTokenVerifier:
    def __init__(self, url: str, credentials: SecretsManagerCredentials | Any, policy: TokenPolicy,
                 timeout: float = AUTH_TIMEOUT_SECONDS,
                 post: Callable[[str, dict[str, str], str, float], tuple[int, bytes]] = post_form,
                 clock: Callable[[], float] = time.monotonic,
                 reread_cooldown: float = REREAD_COOLDOWN_SECONDS) -> None:
        self.url = url
        self.credentials = credentials
        self.policy = policy
        self.timeout = timeout
        self.post = post
        self.clock = clock
        self.reread_cooldown = reread_cooldown
        self._reread_at = float("-inf")

    def verify(self, token: str) -> PhoneUser:
        check_bearer_token(token)
        try:
            answer = self._introspect(token)
        except Misconfigured as problem:
            logger.error("introspection misconfigured", extra={"problem": str(problem), "url": self.url})
            raise errors.AuthUnavailable() from None
        if answer.get("active") is not True:
            raise errors.Unauthorized("The user token is not active.")
        if not is_access_token(answer):
            raise errors.Unauthorized("The user token is not an access token.")
        exp = answer.get("exp")
        if isinstance(exp, (int, float)) and exp < time.time():
            raise errors.Unauthorized("The user token has expired.")
        self.policy.check(answer)
        return user_from_claims(answer)

    def _introspect(self, token: str) -> dict[str, Any]:
        form = {"token": token, "token_type_hint": "access_token"}
        status, body = self.post(self.url, form, self.credentials.get().basic_authorization(), self.timeout)
        if status == 401 and self._may_reread():
            # Our credentials were refused: the secret may have been rotated since we read it.
            logger.info("introspection credentials refused; reading the secret again",
                        extra={"secret_name": getattr(self.credentials, "secret_name", "")})
            status, body = self.post(self.url, form, self.credentials.get(reread=True).basic_authorization(),
                                     self.timeout)
        answer = _json(body)
        error = answer.get("error") if isinstance(answer, dict) else None
        if status == 200 and isinstance(answer, dict):
            return answer
        if status == 400 and error == "unsupported_token_type":
            return {"active": False}  # e.g. a JWT at a server that introspects only its opaque tokens
        if status in (400, 401, 403):
            # Only an OAuth error code goes to the log: the server's text is not ours to repeat.
            code = error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else ""
            raise Misconfigured(f"the introspection endpoint refused our request: {status} {code}".rstrip())
        logger.warning("introspection endpoint failed", extra={"status_code": status, "url": self.url})
        raise errors.AuthUnavailable()

    def _may_reread(self) -> bool:
        now = self.clock()
        if now - self._reread_at < self.reread_cooldown:
            return False
        self._reread_at = now
        return True
