"""Identity-provider tier: phone tokens from real providers, through the local stack (DESIGN §6).

- node-oidc-provider 9 (``provider.mjs``, pinned by package-lock.json,
  installed by ``make node``) on 127.0.0.1: RFC 9068 JWT access tokens and
  opaque tokens behind its authenticated introspection endpoint.
- Amazon Cognito as moto's ``cognito-idp`` (a moto server on 127.0.0.1): real
  RS256 access and id tokens from ``AdminInitiateAuth``, and moto's JWKS URL;
  two pools, two app clients in the first.
- Stacks: ``python -m localcloud`` configured with the parameter values the
  README gives for each provider, one per configuration, shared by its tests.
  When the tier ends, every stack's output is searched for every token and
  secret the tests handled: one found fails the run.

Each assertion message says what the phone user would experience.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from localcloud.process import StackProcess
from localcloud.template import ROOT

PROVIDER_SCRIPT = ROOT / "tests" / "idp" / "provider.mjs"
API = "https://qrlogin.example/api"
OTHER_API = "https://other.example/api"
INTROSPECTION_SECRET_NAME = "qrlogin/introspection"
REGION = "us-east-1"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# Every token and secret a test handled; none may appear in a stack's output.
HANDLED: list[str] = []


def free_port() -> int:
    """A loopback port nothing listens on (an identity provider that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _json(url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with NO_PROXY.open(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


# -- node-oidc-provider ------------------------------------------------------------------


@dataclass
class OidcProvider:
    issuer: str
    secrets: dict[str, str]

    def mint(self, kind: str, sub: str = "alice", client_id: str = "phone-app", **options: Any) -> str:
        token = _json(f"{self.issuer}/test/mint", "POST", {"kind": kind, "sub": sub, "client_id": client_id,
                                                          **options})["token"]
        HANDLED.append(token)
        return str(token)

    def rotate_introspector_secret(self) -> str:
        """A new client secret for qrlogin-introspector at the provider; the old one is refused from now on."""
        answer = _json(f"{self.issuer}/test/rotate", "POST", {"client_id": "qrlogin-introspector"})
        secret = str(answer["client_secret"])
        self.secrets["qrlogin-introspector"] = secret
        HANDLED.append(secret)
        return secret

    def revoke(self, token: str, client_id: str = "phone-app") -> None:
        """The provider's own revocation endpoint (RFC 7009), authenticated as the token's client."""
        import base64
        import urllib.parse

        basic = base64.b64encode(f"{client_id}:{self.secrets[client_id]}".encode()).decode()
        request = urllib.request.Request(f"{self.issuer}/token/revocation", method="POST",
                                         data=urllib.parse.urlencode({"token": token}).encode(),
                                         headers={"Authorization": f"Basic {basic}",
                                                  "Content-Type": "application/x-www-form-urlencoded"})
        with NO_PROXY.open(request, timeout=10) as response:
            assert response.status == 200


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("node-oidc-provider is not installed: run `make node` (npm ci from package-lock.json)")
    secrets = {name: f"{name}-{__import__('secrets').token_urlsafe(16)}"
               for name in ("qrlogin-introspector", "phone-app", "other-app")}
    HANDLED.extend(secrets.values())
    process = subprocess.Popen([node, str(PROVIDER_SCRIPT)], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env={"PATH": "/usr/bin:/bin", "PROVIDER_CLIENT_SECRETS": json.dumps(secrets)})
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("ready "), f"node-oidc-provider did not start: {line!r}"
        yield OidcProvider(line.split(" ", 1)[1], secrets)
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- Amazon Cognito (moto's cognito-idp) ----------------------------------------------------


@dataclass
class Pool:
    pool_id: str
    clients: dict[str, str]  # name -> app client id
    endpoint: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.pool_id}/.well-known/jwks.json"


@dataclass
class Cognito:
    endpoint: str
    client: Any
    pools: list[Pool] = field(default_factory=list)

    def tokens(self, pool: Pool, app: str = "phone-app", username: str = "alice") -> dict[str, str]:
        """What the phone app holds after its user signs in: AccessToken, IdToken, RefreshToken."""
        result = self.client.admin_initiate_auth(
            UserPoolId=pool.pool_id, ClientId=pool.clients[app], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": "Correct-horse-1"})["AuthenticationResult"]
        HANDLED.extend([result["AccessToken"], result["IdToken"], result["RefreshToken"]])
        return result


@pytest.fixture(scope="session")
def cognito() -> Iterator[Cognito]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.session.Session().client("cognito-idp", region_name=REGION, endpoint_url=endpoint,
                                            aws_access_key_id="idp", aws_secret_access_key="idp")
    cognito = Cognito(endpoint, client)
    for pool_name, apps in (("phones", ("phone-app", "other-app")), ("elsewhere", ("phone-app",))):
        pool_id = client.create_user_pool(PoolName=pool_name)["UserPool"]["Id"]
        clients = {app: client.create_user_pool_client(
            UserPoolId=pool_id, ClientName=app,
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"] for app in apps}
        client.admin_create_user(UserPoolId=pool_id, Username="alice", TemporaryPassword="Temporary-pass-1",
                                 MessageAction="SUPPRESS")
        client.admin_set_user_password(UserPoolId=pool_id, Username="alice", Password="Correct-horse-1",
                                       Permanent=True)
        cognito.pools.append(Pool(pool_id, clients, endpoint))
    yield cognito
    server.stop()


# -- the local stack ------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: Any


class Stack:
    """A running local stack and the calls a browser and a phone make to it."""

    def __init__(self, process: StackProcess) -> None:
        self.process = process
        self.base_url = process.base_url
        self.introspection_secret = ""  # the client secret its Secrets Manager holds (introspection mode)

    def call(self, method: str, path: str, token: str | bytes | None = None, body: Any = None) -> Reply:
        # http.client, not urllib: it lets a test send header bytes that are not UTF-8.
        connection = http.client.HTTPConnection(self.base_url.split("://", 1)[1], timeout=30)
        try:
            connection.putrequest(method, path)
            data = json.dumps(body).encode() if body is not None else b""
            if token is not None:
                connection.putheader("Authorization", b"Bearer " + (token if isinstance(token, bytes)
                                                                     else token.encode("latin-1")))
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(len(data)))
            connection.endheaders(data)
            response = connection.getresponse()
            text = response.read()
            return Reply(response.status, json.loads(text) if text else None)
        finally:
            connection.close()

    def login(self) -> dict[str, Any]:
        reply = self.call("POST", "/sessions", body={})
        assert reply.status == 201, reply.body
        HANDLED.append(reply.body["browser_token"])
        return dict(reply.body)

    def phone(self, action: str, login: dict[str, Any], token: str | bytes) -> Reply:
        return self.call("POST", f"/sessions/{login['session_id']}/{action}", token)

    def status(self, login: dict[str, Any]) -> dict[str, Any]:
        reply = self.call("GET", f"/sessions/{login['session_id']}", login["browser_token"])
        assert reply.status == 200, reply.body
        return dict(reply.body)

    def put_secret(self, name: str, value: dict[str, str]) -> None:
        request = urllib.request.Request(f"{self.base_url}/dev/secrets/{name}", method="PUT",
                                         data=json.dumps(value).encode())
        with NO_PROXY.open(request, timeout=10) as response:
            assert response.status == 204

    def log(self) -> str:
        return "\n".join(self.process.output()) + self.process.stderr()


def configurations(provider: OidcProvider, cognito: Cognito) -> dict[str, tuple[str, ...]]:
    """Each stack's parameters: the README's values for each provider ("Phone tokens"), plus two broken ones."""
    pool = cognito.pools[0]
    introspection = ("PhoneAuthMode=introspection", f"IntrospectionUrl={provider.issuer}/token/introspection",
                     f"IntrospectionSecretName={INTROSPECTION_SECRET_NAME}", "PhoneJwtClientId=phone-app",
                     "PhoneJwtAudience=")
    return {
        # PhoneJwtAudience is empty because the local default (the development IdP's) would apply otherwise.
        "cognito": (f"PhoneJwtIssuer={pool.issuer}", f"PhoneJwtClientId={pool.clients['phone-app']}",
                    f"PhoneJwksUrl={pool.jwks_url}", "PhoneJwtAudience="),
        "oidc-jwt": (f"PhoneJwtIssuer={provider.issuer}", f"PhoneJwksUrl={provider.issuer}/jwks",
                     f"PhoneJwtAudience={API}", "PhoneJwtClientId=phone-app"),
        "jwks-down": (f"PhoneJwtIssuer={provider.issuer}", f"PhoneJwksUrl=http://127.0.0.1:{free_port()}/jwks",
                      f"PhoneJwtAudience={API}"),
        "introspection": introspection,
        "introspection-wrong-secret": introspection,
    }


@pytest.fixture(scope="session")
def stacks(oidc_provider: OidcProvider, cognito: Cognito) -> Iterator[dict[str, Stack]]:
    """Every configuration's stack, started side by side; the introspection client's secret put in place."""
    wrong_secret = "wrong-" + __import__("secrets").token_urlsafe(16)
    HANDLED.append(wrong_secret)
    secret = {"introspection": oidc_provider.secrets["qrlogin-introspector"],
              "introspection-wrong-secret": wrong_secret}

    def start(params: tuple[str, ...]) -> StackProcess:
        # The template's log level (INFO), so that the secret check reads every line we write.
        return StackProcess("LogLevel=INFO", "IssueRateLimitPerMinute=0", *params).start()

    wanted = configurations(oidc_provider, cognito)
    with ThreadPoolExecutor() as pool:
        running = dict(zip(wanted, map(Stack, pool.map(start, wanted.values())), strict=True))
    for name, client_secret in secret.items():
        running[name].introspection_secret = client_secret
        running[name].put_secret(INTROSPECTION_SECRET_NAME, {"client_id": "qrlogin-introspector",
                                                             "client_secret": client_secret})
    yield running
    with ThreadPoolExecutor() as pool:  # each takes a moment to shut down cleanly
        list(pool.map(lambda stack: stack.process.stop(), running.values()))
    leaks = [f"{name}: {handled[:12]}..." for name, stack in running.items() for handled in HANDLED
             if handled in stack.log()]
    assert not leaks, f"tokens or secrets in a stack's logs: {leaks}"
