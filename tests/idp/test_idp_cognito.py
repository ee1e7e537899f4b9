"""Amazon Cognito user pool tokens (moto's cognito-idp) against a stack configured as the README says.

Parameters: PhoneJwtIssuer = the pool's issuer URL, PhoneJwtClientId = the
phone app's app client id, PhoneJwksUrl = the pool's JWKS (on AWS it may stay
empty: it defaults to issuer + /.well-known/jwks.json; moto serves it on its
own host), PhoneJwtAudience empty (Cognito access tokens carry no aud).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource

from localcloud.template import ROOT
from qrlogin.phone_auth import JwtPhoneTokenVerifier, TokenPolicy
from qrlogin.sessions import PhoneUser

pytestmark = pytest.mark.idp


@pytest.fixture(scope="module")
def pool(cognito):
    return cognito.pools[0]


@pytest.fixture(scope="module")
def stack(stacks):
    return stacks["cognito"]


def resigned(token: str, key: object, **changes: object) -> str:
    """The token's own claims and header, changed and signed again with ``key``."""
    header = jwt.get_unverified_header(token)
    claims = {**jwt.decode(token, options={"verify_signature": False}), **changes}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"]})


def moto_pool_key() -> object:
    """The private key moto signs every pool's tokens with (its JWKS publishes the public half)."""
    return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(load_resource("cognitoidp/resources/jwks-private.json")))


# -- accepted ----------------------------------------------------------------------------------


def test_the_access_token_of_the_configured_app_client_scans_and_confirms(stack, cognito, pool):
    # Given alice signed in to the phone app (the configured app client of the configured pool)
    tokens = cognito.tokens(pool, "phone-app")
    login = stack.login()

    # When her phone scans and confirms with the access token Cognito gave the app
    scanned = stack.phone("scan", login, tokens["AccessToken"])
    confirmed = stack.phone("confirm", login, tokens["AccessToken"])

    # Then both succeed, and the browser shows who approved
    assert scanned.status == 200, f"alice's phone cannot scan with its Cognito access token: {scanned.body}"
    assert confirmed.status == 200, f"alice cannot approve the login: {confirmed.body}"
    assert stack.status(login)["user"] == "alice", "the web page does not show alice as the approving user"


def test_the_id_token_of_the_configured_app_client_scans(stack, cognito, pool):
    tokens = cognito.tokens(pool, "phone-app")
    reply = stack.phone("scan", stack.login(), tokens["IdToken"])
    assert reply.status == 200, f"an app that sends its Cognito id token cannot scan: {reply.body}"


# -- refused -----------------------------------------------------------------------------------

CASES = [
    ("another app client's access token", lambda cognito, pools: cognito.tokens(pools[0], "other-app")["AccessToken"]),
    ("another app client's id token", lambda cognito, pools: cognito.tokens(pools[0], "other-app")["IdToken"]),
    ("another pool's access token", lambda cognito, pools: cognito.tokens(pools[1], "phone-app")["AccessToken"]),
    ("another pool's id token", lambda cognito, pools: cognito.tokens(pools[1], "phone-app")["IdToken"]),
    ("a refresh token", lambda cognito, pools: cognito.tokens(pools[0], "phone-app")["RefreshToken"]),
    ("an expired access token", lambda cognito, pools: resigned(
        cognito.tokens(pools[0], "phone-app")["AccessToken"], moto_pool_key(), exp=int(time.time()) - 300)),
    ("an access token signed by another key", lambda cognito, pools: resigned(
        cognito.tokens(pools[0], "phone-app")["AccessToken"],
        rsa.generate_private_key(public_exponent=65537, key_size=2048))),
]


@pytest.mark.parametrize(("case", "token_of"), CASES)
def test_a_token_not_meant_for_this_stack_is_401_and_changes_nothing(stack, cognito, case, token_of):
    # Given a pending login
    login = stack.login()

    # When a phone scans with such a token
    reply = stack.phone("scan", login, token_of(cognito, cognito.pools))

    # Then the phone is refused and the web page still waits for a scan
    assert (reply.status, (reply.body or {}).get("error")) == (401, "unauthorized"), (
        f"{case} was not refused with 401: a user of another app could log in here ({reply.body})")
    assert stack.status(login)["status"] == "pending", f"{case} changed the login the web page shows"


def test_the_resigning_helper_keeps_a_good_token_good(stack, cognito, pool):
    # The expired case above proves the expiry check only if moto's key re-signs tokens the stack accepts.
    token = resigned(cognito.tokens(pool, "phone-app")["AccessToken"], moto_pool_key())
    assert stack.phone("scan", stack.login(), token).status == 200, "moto's own key no longer signs valid tokens"


# -- the required scope, against the pool's real JWKS ------------------------------------------------


def test_a_required_scope_admits_access_tokens_that_carry_it_and_refuses_others(cognito, pool):
    # Given the verifier as PhoneRequiredScope configures it, reading moto's JWKS over HTTP
    def verifier(scope: str) -> JwtPhoneTokenVerifier:
        return JwtPhoneTokenVerifier(pool.issuer, pool.jwks_url,
                                     TokenPolicy(client_id=pool.clients["phone-app"], required_scope=scope))

    tokens = cognito.tokens(pool, "phone-app")
    sub = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})["sub"]

    # Then the scope every Cognito access token has admits it; a scope it lacks, and any id token, do not
    assert verifier("aws.cognito.signin.user.admin").verify(tokens["AccessToken"]) == PhoneUser(sub, "alice")
    from qrlogin import errors

    with pytest.raises(errors.Unauthorized, match="scope"):
        verifier("qrlogin/approve").verify(tokens["AccessToken"])
    with pytest.raises(errors.Unauthorized, match="scope"):
        verifier("aws.cognito.signin.user.admin").verify(tokens["IdToken"])


# -- the same verdicts as AWS's own verifier ----------------------------------------------------


def test_the_stack_accepts_and_refuses_exactly_what_aws_jwt_verify_does(stack, cognito, pool):
    # Given every token above, and aws-jwt-verify's CognitoJwtVerifier for the same pool and app client
    tokens = cognito.tokens(pool, "phone-app")
    judged = {"access token": tokens["AccessToken"], "id token": tokens["IdToken"],
              **{case: token_of(cognito, cognito.pools) for case, token_of in CASES}}
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(pool.jwks_url, timeout=10) as response:
        jwks = json.loads(response.read())
    request = {"userPoolId": pool.pool_id, "clientId": pool.clients["phone-app"], "jwks": jwks, "tokens": judged}
    node = shutil.which("node") or "node"
    result = subprocess.run([node, str(ROOT / "tests" / "idp" / "aws_jwt_verify.mjs")], input=json.dumps(request),
                            capture_output=True, text=True, timeout=60, check=True, cwd=ROOT)
    theirs = {case: verdict == "accepted" for case, verdict in json.loads(result.stdout).items()}

    # Then the stack lets exactly the same tokens scan
    ours = {case: stack.phone("scan", stack.login(), token).status == 200 for case, token in judged.items()}
    assert ours == theirs, "qrlogin and aws-jwt-verify disagree on which Cognito tokens log a user in"
    assert theirs["access token"] and theirs["id token"]
