"""SigningKeyMode=envelope (the default): a P-256 key that KMS protects, used in-process.

The first redeem makes the key and stores its private half encrypted under
the stack's KMS key; every container decrypts it once and signs in memory.
"""

from __future__ import annotations

import jwt
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from qrlogin import deps
from qrlogin.config import Settings
from qrlogin.signing import ENVELOPE_CONTEXT, EnvelopeTokenSigner, signer_for
from qrlogin.store import SIGNING_KEY_PK, SessionStore
from tests.unit.conftest import TABLE_NAME


def key_item(aws) -> dict | None:
    return aws["dynamodb"].get_item(TableName=TABLE_NAME, Key={"pk": {"S": SIGNING_KEY_PK}},
                                    ConsistentRead=True).get("Item")


def test_before_the_first_token_the_jwks_is_empty_and_not_cacheable(api, aws):
    # When a relying backend fetches the JWKS of a stack that has signed nothing yet
    result = api.http("GET", "/.well-known/jwks.json")

    # Then it holds no key, says not to cache that, and made no key
    assert result.status == 200 and result.body == {"keys": []}
    assert result.headers["cache-control"] == "no-store"
    assert key_item(aws) is None


def test_the_first_redeem_makes_the_key_and_the_jwks_publishes_it(api, aws, flow):
    # Given a confirmed session
    login = flow.drive("scan:alice", "confirm:alice")

    # When the browser redeems, and a backend fetches the JWKS
    redeemed = flow.redeem(login)
    jwks = api.http("GET", "/.well-known/jwks.json")

    # Then the token verifies against the one published key, which may be cached
    assert redeemed.status == 200
    (jwk,) = jwks.body["keys"]
    assert {k: jwk[k] for k in ("kty", "crv", "alg", "use")} == {"kty": "EC", "crv": "P-256", "alg": "ES256",
                                                                 "use": "sig"}
    token = redeemed.body["id_token"]
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"], audience="example-app",
                        issuer="https://login.example.com")
    assert claims["sub"] == "alice"
    assert jwks.headers["cache-control"] == "public, max-age=300"


def test_the_stored_private_key_is_only_readable_through_kms_with_its_context(aws, flow):
    # Given a stack that has signed a token
    flow.redeem(flow.drive("scan:alice", "confirm:alice"))

    # When the key item is read straight from the table
    item = key_item(aws)

    # Then it holds ciphertext (no PKCS#8 header), lives forever (no TTL attribute), and
    # KMS refuses to decrypt it under another encryption context
    assert item is not None and "expires_at" not in item
    ciphertext = item["private_key_ciphertext"]["B"]
    assert not ciphertext.startswith(b"\x30\x81\x87\x02\x01\x00")  # DER PKCS#8 of a P-256 key
    plaintext = aws["kms"].decrypt(CiphertextBlob=ciphertext, EncryptionContext=ENVELOPE_CONTEXT)["Plaintext"]
    assert plaintext.startswith(b"\x30")
    with pytest.raises(ClientError):
        aws["kms"].decrypt(CiphertextBlob=ciphertext, EncryptionContext={"purpose": "something else"})


def test_every_container_signs_with_the_one_stored_key(aws, flow, settings_env):
    # Given one container that made the key by redeeming
    first = flow.redeem(flow.drive("scan:alice", "confirm:alice")).body["id_token"]

    # When a second, cold container signs
    store = SessionStore(TABLE_NAME, client=aws["dynamodb"])
    cold = signer_for(Settings.from_env(), store, client=aws["kms"])
    assert isinstance(cold, EnvelopeTokenSigner)
    second = cold.sign({"sub": "bob"})

    # Then both tokens name the same key and no second key was stored
    assert jwt.get_unverified_header(first)["kid"] == jwt.get_unverified_header(second)["kid"]
    count = aws["dynamodb"].scan(TableName=TABLE_NAME, FilterExpression="begins_with(pk, :p)",
                                 ExpressionAttributeValues={":p": {"S": "signing-key"}})["Count"]
    assert count == 1


def test_a_cold_container_whose_kms_decrypt_fails_answers_503_and_the_login_survives(aws, flow, read_item):
    # Given a stack with a key, and a session confirmed in a fresh (cold) container
    flow.redeem(flow.drive("scan:alice", "confirm:alice"))
    deps.reset()
    login = flow.drive("scan:alice", "confirm:alice")
    before = read_item(login.session_id)

    # When KMS fails the cold container's one Decrypt
    with Stubber(deps.signer().client) as kms:
        kms.add_client_error("decrypt", service_error_code="KMSInternalException", http_status_code=500)
        failed = flow.redeem(login)
        kms.assert_no_pending_responses()  # the intended KMS call is the one that failed

    # Then the browser gets a retryable 503, the session is untouched, and the next try succeeds
    assert failed.status == 503 and failed.headers["retry-after"] == "1"
    assert read_item(login.session_id) == before
    assert flow.redeem(login).status == 200
