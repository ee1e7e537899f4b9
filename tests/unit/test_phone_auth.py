"""DESIGN §6, phone tokens: the jwt mode's checks and key cache, and RFC 7662 introspection with client authentication.

No sockets: JWKS documents are file:// URLs or an injected fetch; the
authorization server is ``AuthorizationServer`` below, a small working RFC
7662 endpoint (it checks client_secret_basic credentials as RFC 6749 §2.3.1
encodes them and answers as node-oidc-provider does), handed to the verifier as
its transport; the credentials live in moto's Secrets Manager.  The real
providers (node-oidc-provider, moto's cognito-idp) are in tests/idp.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from localcloud.devidp import DevIdentityProvider
from qrlogin import deps, errors
from qrlogin.phone_auth import IntrospectionPhoneTokenVerifier, JwksCache, JwtPhoneTokenVerifier, TokenPolicy
from qrlogin.phone_auth.introspection import SecretsManagerCredentials
from qrlogin.sessions import PhoneUser
from tests.unit.helpers import assert_error

SECRET_NAME = "qrlogin/introspection"
COGNITO_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1"
PHONE_APP = "phone-app-client-id"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def jwks_file(tmp_path: Path, document: dict[str, Any], name: str = "jwks.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path.as_uri()


class RsaIssuer:
    """An RS256 issuer shaped like a Cognito user pool: access tokens with client_id, id tokens with aud."""

    def __init__(self, issuer: str = COGNITO_ISSUER, kid: str = "pool-key-1") -> None:
        self.issuer = issuer
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def mint(self, kind: str = "access", client: str = PHONE_APP, *, key: Any = None,
             headers: dict[str, Any] | None = None, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {"iss": self.issuer, "sub": "5f1c-alice", "token_use": kind,
                                "iat": now, "exp": now + 3600, "auth_time": now}
        if kind == "access":
            body.update(client_id=client, scope="aws.cognito.signin.user.admin qrlogin/approve", username="alice")
        else:
            body.update(aud=client, **{"cognito:username": "alice"})
        body.update(claims)
        return jwt.encode({k: v for k, v in body.items() if v is not None}, key or self.key, algorithm="RS256",
                          headers={"kid": self.kid, **(headers or {})})


@pytest.fixture
def pool() -> RsaIssuer:
    return RsaIssuer()


def cognito_verifier(tmp_path: Path, pool: RsaIssuer, **policy: str) -> JwtPhoneTokenVerifier:
    return JwtPhoneTokenVerifier(pool.issuer, jwks_file(tmp_path, pool.jwks(), "pool.json"),
                                 TokenPolicy(**({"client_id": PHONE_APP} | policy)))


def oidc_verifier(tmp_path: Path, idp: DevIdentityProvider, **policy: str) -> JwtPhoneTokenVerifier:
    return JwtPhoneTokenVerifier(idp.issuer, jwks_file(tmp_path, idp.jwks(), "idp.json"),
                                 TokenPolicy(**({"audience": idp.audience} | policy)))


# -- jwt mode: what is accepted ---------------------------------------------------------


def test_a_cognito_access_token_of_the_configured_app_client_logs_its_user_in(tmp_path, pool):
    # Given a stack configured with a Cognito pool's issuer and the phone app's client id
    verifier = cognito_verifier(tmp_path, pool)

    # When the phone sends the access token Cognito gave the app (client_id, token_use access, no aud)
    user = verifier.verify(pool.mint("access"))

    # Then the user is logged in under the pool's subject, shown by username
    assert user == PhoneUser("5f1c-alice", "alice")


def test_a_cognito_id_token_of_the_configured_app_client_logs_its_user_in(tmp_path, pool):
    assert cognito_verifier(tmp_path, pool).verify(pool.mint("id")) == PhoneUser("5f1c-alice", "alice")


@pytest.mark.parametrize("claims", [
    {"aud": "qrlogin-phone-app"},
    {"aud": ["https://other-api.example", "qrlogin-phone-app"]},
], ids=["aud-string", "aud-list"])
@pytest.mark.parametrize("typ", [None, "JWT", "at+jwt", "application/at+jwt"])
def test_an_access_token_for_our_audience_is_accepted_as_string_or_list_and_as_rfc9068(tmp_path, idp, claims, typ):
    verifier = oidc_verifier(tmp_path, idp)
    token = jwt.encode(idp.claims("alice", "Alice", **claims), idp.private_key, algorithm="ES256",
                       headers={"kid": idp.kid, **({"typ": typ} if typ else {})})
    assert verifier.verify(token) == PhoneUser("alice", "Alice")


def test_a_required_scope_admits_access_tokens_that_carry_it(tmp_path, pool, idp):
    assert cognito_verifier(tmp_path, pool, required_scope="qrlogin/approve").verify(pool.mint()).sub == "5f1c-alice"
    okta_style = idp.mint("alice", scp=["openid", "qrlogin/approve"])
    assert oidc_verifier(tmp_path, idp, required_scope="qrlogin/approve").verify(okta_style).sub == "alice"


def test_audience_and_client_id_together_both_must_match(tmp_path, idp):
    # Given an API audience and the phone app's client id (RFC 9068 client_id, or azp as Auth0 and Keycloak send)
    verifier = oidc_verifier(tmp_path, idp, client_id=PHONE_APP)

    # Then a token for our API issued to the phone app logs in, one issued to another app does not
    assert verifier.verify(idp.mint("alice", client_id=PHONE_APP)).sub == "alice"
    assert verifier.verify(idp.mint("alice", azp=PHONE_APP)).sub == "alice"
    with pytest.raises(errors.Unauthorized, match="another app"):
        verifier.verify(idp.mint("alice", azp="web-app"))


# -- jwt mode: what is refused, and why a user would care --------------------------------


@pytest.mark.parametrize(("case", "mint", "reason"), [
    ("another app client", lambda pool: pool.mint("access", client="other-app"), "another app"),
    ("another app's id token", lambda pool: pool.mint("id", client="other-app"), "another app"),
    ("another pool", lambda pool: pool.mint(iss=COGNITO_ISSUER.replace("Pool1", "Pool2")), "not valid"),
    ("a refresh-style token_use", lambda pool: pool.mint("access", token_use="refresh"), "not an access or id"),
    ("an access token without client_id", lambda pool: pool.mint("access", client_id=None, aud=PHONE_APP),
     "another app"),
    ("expired", lambda pool: pool.mint(exp=int(time.time()) - 120), "expired"),
    ("not yet valid", lambda pool: pool.mint(nbf=int(time.time()) + 600), "not valid"),
    ("another key", lambda pool: pool.mint(key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
     "not valid"),
    ("a logout token typ", lambda pool: pool.mint(headers={"typ": "logout+jwt"}), "not an access or id"),
    ("a crit header", lambda pool: pool.mint(headers={"crit": ["exp"]}), "malformed|extensions"),
    ("no subject", lambda pool: pool.mint(sub=None), "not valid"),
])
def test_a_cognito_token_not_meant_for_this_stack_is_refused(tmp_path, pool, case, mint, reason):
    # Given a stack trusting the pool's app client PHONE_APP
    verifier = cognito_verifier(tmp_path, pool)

    # When a phone presents such a token, Then the phone is refused (401) and nobody is logged in
    with pytest.raises(errors.Unauthorized, match=reason):
        verifier.verify(mint(pool))


def test_with_only_an_audience_configured_a_cognito_access_token_without_aud_is_refused(tmp_path, pool):
    verifier = cognito_verifier(tmp_path, pool, client_id="", audience="https://api.example")
    with pytest.raises(errors.Unauthorized, match="another audience"):
        verifier.verify(pool.mint("access"))


def test_a_required_scope_refuses_tokens_without_it_and_id_tokens(tmp_path, pool):
    verifier = cognito_verifier(tmp_path, pool, required_scope="qrlogin/approve")
    with pytest.raises(errors.Unauthorized, match="scope"):
        verifier.verify(pool.mint(scope="aws.cognito.signin.user.admin"))
    with pytest.raises(errors.Unauthorized, match="scope"):
        verifier.verify(pool.mint("id"))


@pytest.mark.parametrize("aud", ["other-app", ["other-api", "another"], [], 42])
def test_a_token_for_another_audience_is_refused(tmp_path, idp, aud):
    with pytest.raises(errors.Unauthorized, match="audience"):
        oidc_verifier(tmp_path, idp).verify(idp.mint("alice", aud=aud))


def test_a_token_without_aud_is_refused_when_an_audience_is_configured(tmp_path, idp):
    with pytest.raises(errors.Unauthorized, match="another audience"):
        oidc_verifier(tmp_path, idp).verify(idp.mint("alice", aud=None))


def test_a_token_from_another_issuer_with_our_audience_is_refused(tmp_path, idp):
    with pytest.raises(errors.Unauthorized, match="not valid"):
        oidc_verifier(tmp_path, idp).verify(idp.mint("alice", iss="https://evil.example"))


def test_alg_none_and_hs256_signed_with_the_public_key_are_refused(tmp_path, pool):
    verifier = cognito_verifier(tmp_path, pool)
    public_pem = pool.jwks()["keys"][0]["n"].encode()
    hs256 = jwt.encode({"iss": pool.issuer, "sub": "x", "client_id": PHONE_APP, "exp": time.time() + 60},
                       public_pem, algorithm="HS256", headers={"kid": pool.kid})
    unsigned = jwt.encode({"iss": pool.issuer, "sub": "x", "client_id": PHONE_APP}, None, algorithm="none",
                          headers={"kid": pool.kid})
    for token in (hs256, unsigned + "c2ln"):
        with pytest.raises(errors.Unauthorized, match="algorithm"):
            verifier.verify(token)


def test_an_rs256_header_over_an_ec_key_is_refused(tmp_path, idp):
    header = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": idp.kid}).encode()).rstrip(b"=").decode()
    _, body, signature = idp.mint("alice").split(".")
    with pytest.raises(errors.Unauthorized, match="does not match"):
        oidc_verifier(tmp_path, idp).verify(f"{header}.{body}.{signature}")


@pytest.mark.parametrize("token", [
    "héllo.wörld.sig",                        # not ASCII (what a non-UTF-8 header decodes to)
    "abc\udcff.def.ghi",                      # a lone surrogate: UnicodeEncodeError in PyJWT before
    "a" * 20000,                               # too long
    "onlyonepart",
    "two.parts",
    "a.b.c.d",
    "a..c",
    ".b.c",
    "a.b.",                                    # no signature
    "a b.c.d",
    "e30.e30.c2ln",                            # {} header: no alg
    "WzFd.e30.c2ln",                           # [1] header: not an object
    "!!!.e30.c2ln",
    "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",           # RS256 without kid
    "bm90IGpzb24.e30.c2ln",                    # header not JSON
], ids=lambda token: repr(token[:24]))
def test_anything_but_a_well_formed_compact_jws_is_401_never_5xx(tmp_path, idp, token):
    with pytest.raises(errors.Unauthorized):
        oidc_verifier(tmp_path, idp).verify(token)


@pytest.mark.parametrize("action", ["scan", "confirm", "deny"])
def test_odd_bytes_in_the_authorization_header_answer_401_and_change_nothing(flow, read_item, action):
    # Given a pending session
    login = flow.issue()
    before = read_item(login.session_id)

    # When a phone sends bytes that are not UTF-8 (API Gateway hands them on as they came)
    result = flow.api.http("POST", f"/sessions/{login.session_id}/{action}", token="\udcff\udcfe.x.y")

    # Then it is refused as unauthorized, not a server error, and the session is untouched
    assert_error(result, 401, "unauthorized")
    assert read_item(login.session_id) == before


def test_a_policy_needs_an_audience_or_a_client_id():
    with pytest.raises(ValueError, match="audience or a client id"):
        TokenPolicy()


# -- jwt mode: the key cache --------------------------------------------------------


class Jwks:
    """An issuer's JWKS endpoint that can go down: counts fetches."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.down = False
        self.fetches = 0

    def __call__(self, url: str, timeout: float) -> Any:
        self.fetches += 1
        if self.down:
            raise errors.AuthUnavailable()
        return self.document


def test_a_rotated_key_is_fetched_but_not_more_often_than_the_cooldown(idp):
    # Given a JWKS cache that has fetched the issuer's keys once
    endpoint, clock = Jwks(idp.jwks()), ManualClock()
    cache = JwksCache("https://idp.example/jwks", cooldown=30, clock=clock, fetch=endpoint)
    assert cache.key(idp.kid).key_id == idp.kid

    # When the issuer rotates to a new key and a token with the new kid arrives within the cooldown
    rotated = DevIdentityProvider(idp.issuer, idp.audience)
    endpoint.document = rotated.jwks()
    clock.now += 10
    with pytest.raises(errors.Unauthorized):
        cache.key(rotated.kid)
    assert endpoint.fetches == 1

    # Then after the cooldown the new key is fetched and found
    clock.now += 25
    assert cache.key(rotated.kid).key_id == rotated.kid


def test_an_issuer_outage_keeps_the_fetched_keys_for_the_grace_period_with_backoff(idp):
    # Given keys fetched at t=1000, fresh for 600 s, kept 3600 s more through an outage
    endpoint, clock = Jwks(idp.jwks()), ManualClock()
    cache = JwksCache("https://idp.example/jwks", lifespan=600, grace=3600, backoff_min=1, backoff_max=60,
                      clock=clock, fetch=endpoint)
    cache.key(idp.kid)

    # When the issuer goes down after the keys went stale
    endpoint.down = True
    clock.now += 700
    # Then phones still log in with the keys already fetched (one failed refetch)
    assert cache.key(idp.kid).key_id == idp.kid
    assert endpoint.fetches == 2
    # And within the backoff no phone waits on the dead issuer again
    assert cache.key(idp.kid).key_id == idp.kid
    assert endpoint.fetches == 2
    # And each further failure doubles the wait: 1 s, 2 s, 4 s
    for wait in (1, 2, 4):
        clock.now += wait
        cache.key(idp.kid)
    assert endpoint.fetches == 5
    clock.now += 4  # less than the 8 s now due
    cache.key(idp.kid)
    assert endpoint.fetches == 5

    # And once the grace period is over, the stale keys are no longer trusted: 503, not a login
    clock.now = 1000 + 600 + 3600 + 1
    with pytest.raises(errors.AuthUnavailable):
        cache.key(idp.kid)

    # And when the issuer is back the next attempt fetches and phones log in again
    endpoint.down = False
    clock.now += 60
    assert cache.key(idp.kid).key_id == idp.kid


def test_a_jwks_that_was_never_fetched_is_auth_unavailable(tmp_path, idp):
    verifier = JwtPhoneTokenVerifier(idp.issuer, (tmp_path / "absent.json").as_uri(), TokenPolicy(idp.audience))
    with pytest.raises(errors.AuthUnavailable):
        verifier.verify(idp.mint("alice", "Alice"))


@pytest.mark.parametrize("document", [[], {"keys": "none"}, "<html>"])
def test_something_that_is_not_a_jwks_is_auth_unavailable(idp, document):
    cache = JwksCache("https://idp.example/jwks", fetch=lambda url, timeout: document)
    with pytest.raises(errors.AuthUnavailable):
        cache.key(idp.kid)


def test_a_jwks_entry_that_is_broken_is_skipped_and_the_good_one_used(idp):
    document = {"keys": [{"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"}, {"kid": 7}, *idp.jwks()["keys"]]}
    cache = JwksCache("https://idp.example/jwks", fetch=lambda url, timeout: document)
    assert cache.key(idp.kid).key_id == idp.kid


# -- introspection: RFC 7662 with client authentication -----------------------------------


class AuthorizationServer:
    """A working RFC 7662 endpoint: client_secret_basic (RFC 6749 §2.3.1) required, node-oidc-provider's answers."""

    def __init__(self) -> None:
        self.clients = {"qrlogin": "s3cret: with spaces+plus"}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.status_override: tuple[int, bytes] | None = None
        self.calls = 0

    def issue(self, kind: str = "access", sub: str = "alice", client_id: str = PHONE_APP, **extra: Any) -> str:
        token = f"{kind}-{len(self.tokens)}-opaque"
        answer = {"active": True, "sub": sub, "client_id": client_id, "exp": int(time.time()) + 600,
                  "iss": "https://as.example", "scope": "openid qrlogin/approve", **extra}
        if kind == "access":
            answer["token_type"] = "Bearer"  # node-oidc-provider leaves token_type out for refresh tokens
        self.tokens[token] = answer
        return token

    def __call__(self, url: str, form: dict[str, str], authorization: str, timeout: float) -> tuple[int, bytes]:
        self.calls += 1
        if self.status_override:
            return self.status_override
        scheme, _, encoded = authorization.partition(" ")
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        if scheme != "Basic" or self.clients.get(unquote_plus(client_id)) != unquote_plus(secret):
            return 401, b'{"error":"invalid_client","error_description":"client authentication failed"}'
        return 200, json.dumps(self.tokens.get(form["token"], {"active": False})).encode()


@pytest.fixture
def server() -> AuthorizationServer:
    return AuthorizationServer()


@pytest.fixture
def secrets(aws) -> Any:
    import boto3

    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=SECRET_NAME,
                         SecretString=json.dumps({"client_id": "qrlogin", "client_secret": "s3cret: with spaces+plus"}))
    return client


def introspector(server: AuthorizationServer, secrets: Any = None, clock: Any = None, **policy: str) -> Any:
    credentials = SecretsManagerCredentials(SECRET_NAME, secrets)
    return IntrospectionPhoneTokenVerifier("https://as.example/introspect", credentials,
                                           TokenPolicy(**({"client_id": PHONE_APP} | policy)), post=server,
                                           clock=clock or ManualClock())


def test_an_active_access_token_of_the_phone_app_logs_its_user_in(server, secrets):
    token = server.issue(name="Alice")
    assert introspector(server, secrets).verify(token) == PhoneUser("alice", "Alice")


@pytest.mark.parametrize(("case", "issue", "policy", "reason"), [
    ("inactive (revoked or unknown)", lambda s: "never-issued", {}, "not active"),
    ("a refresh token", lambda s: s.issue("refresh"), {}, "not an access token"),
    ("a refresh token that says so", lambda s: s.issue("refresh", token_type="refresh_token"), {},
     "not an access token"),
    ("an Ory refresh token", lambda s: s.issue("access", token_use="refresh_token"), {}, "not an access token"),
    ("another app's token", lambda s: s.issue(client_id="web-app"), {}, "another app"),
    ("another audience", lambda s: s.issue(aud=["https://other-api.example"]), {"audience": "https://api.example"},
     "another audience"),
    ("no scope", lambda s: s.issue(scope="openid"), {"required_scope": "qrlogin/approve"}, "scope"),
    ("expired though active", lambda s: s.issue(exp=int(time.time()) - 5), {}, "expired"),
    ("no subject", lambda s: s.issue(sub=""), {}, "subject"),
    ("active as a string", lambda s: s.issue(active="true"), {}, "not active"),
])
def test_a_token_the_server_does_not_vouch_for_this_app_is_refused(server, secrets, case, issue, policy, reason):
    # When a phone presents such a token, Then it is refused (401): the user must sign in to the app again
    with pytest.raises(errors.Unauthorized, match=reason):
        introspector(server, secrets, **policy).verify(issue(server))


def test_credentials_go_as_client_secret_basic_with_each_part_form_encoded(server, secrets):
    # The client secret has a colon, spaces and a plus: only RFC 6749 §2.3.1's encoding gets it through intact
    assert introspector(server, secrets).verify(server.issue()).sub == "alice"
    assert server.calls == 1


def test_our_own_credentials_refused_is_503_logged_by_name_without_the_secret(server, secrets, all_output):
    # Given a server that no longer knows our secret (and a stored secret that is still the old one)
    server.clients["qrlogin"] = "rotated-on-the-server-only"
    verifier = introspector(server, secrets)

    # When a phone calls, Then it is "try again later" (503), never a login and never "your token is bad"
    with pytest.raises(errors.AuthUnavailable):
        verifier.verify(server.issue())

    # And the secret was re-read once (a second call with it), and the log names the problem but not the secret
    assert server.calls == 2
    output = all_output()
    assert "introspection misconfigured" in output and "401" in output and "invalid_client" in output
    assert "s3cret" not in output and "rotated-on-the-server-only" not in output


def test_a_rotated_secret_is_read_again_once_on_401_and_phones_log_in(server, secrets):
    # Given a verifier that read the secret, then a rotation (new secret in Secrets Manager and on the server)
    clock = ManualClock()
    verifier = introspector(server, secrets, clock)
    assert verifier.verify(server.issue()).sub == "alice"
    server.clients["qrlogin"] = "new-secret"
    secrets.put_secret_value(SecretId=SECRET_NAME,
                             SecretString=json.dumps({"client_id": "qrlogin", "client_secret": "new-secret"}))

    # When the next phone calls, Then the 401 makes it read the secret once more, and the phone logs in
    assert verifier.verify(server.issue()).sub == "alice"
    assert server.calls == 3

    # And a server that keeps refusing does not make every phone re-read the secret
    server.clients["qrlogin"] = "rotated-again"
    clock.now += 5
    with pytest.raises(errors.AuthUnavailable):
        verifier.verify(server.issue())
    assert server.calls == 4


@pytest.mark.parametrize(("status", "body"), [
    (500, b'{"error":"server_error"}'),
    (502, b"<html>bad gateway</html>"),
    (200, b"<html>not json</html>"),
    (200, b"[1, 2]"),
    (302, b""),
    (400, b'{"error":"invalid_request"}'),
])
def test_a_failing_server_is_503_never_a_login(server, secrets, status, body):
    server.status_override = (status, body)
    with pytest.raises(errors.AuthUnavailable):
        introspector(server, secrets).verify(server.issue())


def test_a_token_type_the_server_does_not_introspect_is_a_refused_token(server, secrets):
    # node-oidc-provider answers 400 unsupported_token_type for a JWT: the token is wrong, not the server
    server.status_override = (400, b'{"error":"unsupported_token_type"}')
    with pytest.raises(errors.Unauthorized):
        introspector(server, secrets).verify("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")


@pytest.mark.parametrize("stored", [None, "not json", json.dumps({"client_id": "qrlogin"}), json.dumps(["x"])])
def test_a_missing_or_malformed_secret_is_503_and_named(server, aws, all_output, stored):
    import boto3

    client = boto3.client("secretsmanager", region_name="us-east-1")
    if stored is not None:
        client.create_secret(Name=SECRET_NAME, SecretString=stored)
    with pytest.raises(errors.AuthUnavailable):
        introspector(server, client).verify(server.issue())
    assert SECRET_NAME in all_output() and server.calls == 0


@pytest.mark.parametrize("token", ["héllo", "a b", "x" * 20000, "tok\udcff"])
def test_a_token_that_is_not_a_bearer_token_never_reaches_the_server(server, secrets, token):
    with pytest.raises(errors.Unauthorized):
        introspector(server, secrets).verify(token)
    assert server.calls == 0


# -- introspection through the handlers -------------------------------------------------


@pytest.fixture
def introspection(tmp_path, monkeypatch, secrets):
    """Switches the container to introspection against a file:// answer (urllib reads the file for a POST)."""

    def use(document: Any) -> None:
        path = tmp_path / "introspection.json"
        if document is not None:
            path.write_text(json.dumps(document))
        monkeypatch.setenv("PHONE_AUTH_MODE", "introspection")
        monkeypatch.setenv("INTROSPECTION_URL", path.as_uri())
        monkeypatch.setenv("INTROSPECTION_SECRET_NAME", SECRET_NAME)
        monkeypatch.setenv("PHONE_JWT_CLIENT_ID", PHONE_APP)
        monkeypatch.setenv("PHONE_JWT_AUDIENCE", "")
        deps.reset()

    return use


def test_introspection_mode_scans_and_confirms_as_the_vouched_user(flow, introspection):
    login = flow.issue()
    introspection({"active": True, "sub": "alice", "name": "Alice", "client_id": PHONE_APP, "token_type": "Bearer"})

    scanned = flow.api.http("POST", f"/sessions/{login.session_id}/scan", token="opaque-1")
    confirmed = flow.api.http("POST", f"/sessions/{login.session_id}/confirm", token="opaque-1")

    assert (scanned.status, confirmed.status) == (200, 200)
    assert flow.status(login).body["user"] == "Alice"


def test_introspection_mode_refuses_an_inactive_token_with_401(flow, introspection, read_item):
    login = flow.issue()
    introspection({"active": False})
    before = read_item(login.session_id)

    assert_error(flow.api.http("POST", f"/sessions/{login.session_id}/scan", token="opaque"), 401, "unauthorized")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize("action", ["scan", "confirm", "deny"])
def test_an_unreachable_introspection_endpoint_is_503_and_never_a_transition(flow, introspection, read_item, action):
    # Given a session Alice scanned (through the jwt mode), then an auth service that cannot be reached
    login = flow.drive("scan:alice")
    introspection(None)
    before = read_item(login.session_id)

    result = flow.api.http("POST", f"/sessions/{login.session_id}/{action}", token="opaque")

    assert_error(result, 503, "auth_unavailable")
    assert read_item(login.session_id) == before


@pytest.mark.parametrize("missing", ["PHONE_JWT_ISSUER", "PHONE_JWT_AUDIENCE"])
def test_a_container_without_whom_tokens_are_for_refuses_every_phone_and_logs_the_setting(
        flow, monkeypatch, all_output, read_item, missing):
    # Given a pending session, then a container started with the setting left empty (the template's Rules
    # stop such a deploy; this is the cold start's own check)
    login = flow.issue()
    before = read_item(login.session_id)
    monkeypatch.setenv(missing, "")
    deps.reset()

    # When a phone scans with a token the development IdP issued
    result = flow.api.http("POST", f"/sessions/{login.session_id}/scan", token=flow.tokens["alice"])

    # Then nobody is logged in: the phone gets a plain 500, the log names what to set, and the session is unchanged
    assert result.status == 500 and result.body["error"] == "internal_error"
    assert missing in all_output()
    assert read_item(login.session_id) == before
