"""SigningKeyMode=envelope (the default): keys that KMS protects, used in-process.

The first token of an algorithm (or the first JWKS request) makes its key and
stores its private half encrypted under the stack's KMS key; every container
decrypts a key once and signs in memory.
"""

from __future__ import annotations

import jwt
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from qrlogin import deps
from qrlogin.signing import envelope_context
from qrlogin.store import SIGNING_KEY_PREFIX, signing_key_pk
from tests.unit.conftest import TABLE_NAME


def keyring_item(aws, algorithm: str) -> dict | None:
    return aws["dynamodb"].get_item(TableName=TABLE_NAME, Key={"pk": {"S": signing_key_pk(algorithm)}},
                                    ConsistentRead=True).get("Item")


def signing_items(aws) -> list[dict]:
    return aws["dynamodb"].scan(TableName=TABLE_NAME, FilterExpression="begins_with(pk, :p)",
                                ExpressionAttributeValues={":p": {"S": SIGNING_KEY_PREFIX}})["Items"]


def test_the_first_jwks_request_makes_the_keys_and_may_be_cached(api, aws):
    # Given a stack that has signed nothing yet
    assert signing_items(aws) == []

    # When a relying backend fetches the JWKS
    result = api.http("GET", "/.well-known/jwks.json")

    # Then it holds an ES256 and an RS256 key (never an empty set), which were stored, and may be cached
    assert result.status == 200
    assert sorted(k["alg"] for k in result.body["keys"]) == ["ES256", "RS256"]
    assert result.headers["cache-control"] == "public, max-age=300"
    assert len(signing_items(aws)) == 2


def test_the_first_redeem_makes_only_the_es256_key_and_the_jwks_publishes_it(api, aws, flow):
    # Given a confirmed session
    login = flow.drive("scan:alice", "confirm:alice")

    # When the browser redeems
    redeemed = flow.redeem(login)

    # Then only the key that signed was made (no RSA key generated on the redeem path)
    assert redeemed.status == 200
    assert keyring_item(aws, "ES256") is not None and keyring_item(aws, "RS256") is None

    # And the token verifies against the published key its kid names
    jwks = api.http("GET", "/.well-known/jwks.json").body
    token = redeemed.body["id_token"]
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"]]
    assert {k: jwk[k] for k in ("kty", "crv", "alg", "use")} == {"kty": "EC", "crv": "P-256", "alg": "ES256",
                                                                 "use": "sig"}
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"], audience="example-app",
                        issuer="https://login.example.com")
    assert claims["sub"] == "alice"


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_the_stored_private_key_is_only_readable_through_kms_with_its_context(aws, algorithm):
    # Given a stack that has published its keys
    assert deps.signer().jwks["keys"]

    # When the key item is read straight from the table
    item = keyring_item(aws, algorithm)

    # Then it has no TTL attribute, records the KMS key that protects it, and holds ciphertext
    # that KMS decrypts only under the key's own context (purpose, kid, algorithm)
    assert item is not None and "expires_at" not in item
    (key,) = item["keys"]["L"]
    key = key["M"]
    assert key["protected_by"]["S"] == aws["key_arn"] and key["mode"]["S"] == "envelope"
    ciphertext = key["ciphertext"]["B"]
    assert not ciphertext.startswith(b"\x30\x82") and not ciphertext.startswith(b"\x30\x81")  # not DER PKCS#8
    context = envelope_context(key["kid"]["S"], algorithm)
    assert aws["kms"].decrypt(CiphertextBlob=ciphertext, EncryptionContext=context)["Plaintext"].startswith(b"\x30")
    for other in ({"purpose": context["purpose"]}, {**context, "kid": "qrl-other"},
                  {**context, "alg": "ES256" if algorithm == "RS256" else "RS256"}):
        with pytest.raises(ClientError):
            aws["kms"].decrypt(CiphertextBlob=ciphertext, EncryptionContext=other)


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
