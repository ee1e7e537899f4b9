"""Signing keys over a stack's life: rotation, KMS key replacement, SigningKeyMode switches (DESIGN §7).

Each survives with no failed redeem, and every token issued along the way
verifies against the JWKS until it expires.  The handlers run in-process on
moto; a "deploy" is new settings and fresh collaborators (``deps.reset()``:
Lambda starts new containers when a function's configuration changes); the
rotation is the operator's command (scripts/signing_keys.py) run against the
same table and KMS.
"""

from __future__ import annotations

import json

import boto3
import jwt
import pytest
from botocore.stub import Stubber

from localcloud.template import load_template, signing_key_definitions
from qrlogin import deps, signing
from qrlogin.keyring import KEY_REFRESH_SECONDS, RETIRED_KEY_PUBLISHED_SECONDS, ROTATION_NOTICE_SECONDS
from qrlogin.store import LEGACY_SIGNING_KEY_PK, SessionStore
from scripts import signing_keys
from tests.unit.conftest import TABLE_NAME

TEMPLATE = load_template()


@pytest.fixture
def keys_clock(clock, monkeypatch):
    """The handlers' frozen clock, also the signer's (key activation and refresh are decided by time)."""
    monkeypatch.setattr(signing, "time", clock)
    return clock


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def login(flow) -> str:
    """A whole login; its redeem must succeed. Returns the id_token."""
    redeemed = flow.redeem(flow.drive("scan:alice", "confirm:alice"))
    assert redeemed.status == 200, redeemed.body
    return redeemed.body["id_token"]


def jwks(api) -> dict:
    result = api.http("GET", "/.well-known/jwks.json")
    assert result.status == 200
    return result.body


def verifies(token: str, jwks_document: dict) -> bool:
    """What a relying party does: the key its kid names in the JWKS, and that key's algorithm only."""
    found = [k for k in jwks_document["keys"] if k["kid"] == kid_of(token)]
    if not found:
        return False
    claims = jwt.decode(token, jwt.PyJWK(found[0]).key, algorithms=[found[0]["alg"]], audience="example-app",
                        options={"verify_exp": False, "verify_iat": False})
    return claims["sub"] == "alice"


def deploy(monkeypatch, **env: str) -> None:
    """A configuration change: new environment, new containers."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    deps.reset()


def target(aws, mode: str = "envelope") -> signing_keys.Target:
    return signing_keys.Target(TABLE_NAME, mode, {"SigningKey": aws["key_arn"]}, aws["dynamodb"], aws["kms"])


def test_a_rotation_is_published_first_signs_later_and_the_old_key_stays_until_its_tokens_expired(
        api, aws, flow, keys_clock, capsys):
    # Given a stack signing with its first key
    first = login(flow)
    old_kid = kid_of(first)

    # When the operator rotates (the command's default notice)
    assert signing_keys.rotate(target(aws), ["ES256"], ROTATION_NOTICE_SECONDS, keys_clock.time()) == 0
    new_kid = capsys.readouterr().out.split("new key ", 1)[1].split(",", 1)[0]

    # Then the JWKS publishes the new key at once, while the old one still signs
    keys_clock.advance(KEY_REFRESH_SECONDS)
    published = {k["kid"] for k in jwks(api)["keys"]}
    assert {old_kid, new_kid} <= published
    assert kid_of(login(flow)) == old_kid

    # When the new key's time comes, the warm container meets it and signs with it (no redeem fails)
    keys_clock.advance(ROTATION_NOTICE_SECONDS)
    with Stubber(deps.signer().client) as kms:  # it decrypts the new key: one KMS call, answered by moto
        kms.add_response("decrypt", {"Plaintext": _decrypt_new_key(aws, new_kid), "KeyId": aws["key_arn"]})
        second = login(flow)
        kms.assert_no_pending_responses()
    assert kid_of(second) == new_kid

    # And the old key's token still verifies, until every token the old key can have signed has expired
    assert verifies(first, jwks(api)) and verifies(second, jwks(api))
    keys_clock.advance(RETIRED_KEY_PUBLISHED_SECONDS)
    assert old_kid not in {k["kid"] for k in jwks(api)["keys"]}
    assert verifies(login(flow), jwks(api))


def test_the_jwks_shows_a_rotation_at_once_even_from_a_warm_container(api, aws, flow, keys_clock, capsys):
    # Given a warm container whose keyrings were read just now (its signing path would keep them a minute)
    login(flow)
    jwks(api)

    # When the operator rotates
    signing_keys.rotate(target(aws), ["ES256"], ROTATION_NOTICE_SECONDS, keys_clock.time())
    new_kid = capsys.readouterr().out.split("new key ", 1)[1].split(",", 1)[0]

    # Then the same container's JWKS already holds the new key (the route reads afresh: a relying
    # party that refetches for an unknown kid must find it)
    assert new_kid in {k["kid"] for k in jwks(api)["keys"]}


def _decrypt_new_key(aws, kid: str) -> bytes:
    ring = SessionStore(TABLE_NAME, client=aws["dynamodb"]).get_keyring("ES256", consistent=True)
    (entry,) = [e for e in ring.entries if e.kid == kid]
    return aws["kms"].decrypt(CiphertextBlob=entry.ciphertext,
                              EncryptionContext=signing.envelope_context(kid, "ES256"))["Plaintext"]


def test_a_rotation_with_no_notice_switches_at_once(api, aws, flow, keys_clock, capsys):
    first = login(flow)
    jwks(api)  # both algorithms have a key
    signing_keys.rotate(target(aws), ["ES256", "RS256"], 0, keys_clock.time())
    keys_clock.advance(KEY_REFRESH_SECONDS)  # the warm container's next refresh
    second = login(flow)
    assert kid_of(second) != kid_of(first)
    assert verifies(first, jwks(api)) and verifies(second, jwks(api))
    assert len([k for k in jwks(api)["keys"] if k["alg"] == "RS256"]) == 2


def test_a_replaced_kms_key_makes_a_new_signing_key_and_no_redeem_fails(api, aws, flow, monkeypatch, all_output):
    # Given a stack that signed with a key protected by its KMS key, which is then replaced (and disabled)
    first = login(flow)
    jwks(api)  # the RS256 key exists too
    replacement = aws["kms"].create_key(**signing_key_definitions(TEMPLATE)["SigningKey"])["KeyMetadata"]["Arn"]
    aws["kms"].disable_key(KeyId=aws["key_arn"].rsplit("/", 1)[-1])  # moto: by id
    deploy(monkeypatch, SIGNING_KEY_ID=replacement)

    # When the next browser redeems
    second = login(flow)

    # Then it succeeds with a new key bound to the new KMS key, and the JWKS holds both tokens' keys
    assert kid_of(second) != kid_of(first)
    ring = SessionStore(TABLE_NAME, client=aws["dynamodb"]).get_keyring("ES256", consistent=True)
    assert ring.current(float("inf")).protected_by == replacement
    document = jwks(api)
    assert verifies(first, document) and verifies(second, document)
    rsa = SessionStore(TABLE_NAME, client=aws["dynamodb"]).get_keyring("RS256", consistent=True)
    assert [e.protected_by for e in rsa.entries] == [aws["key_arn"], replacement]

    # And the operator can see why a new key was made, and which one it replaced
    made = [json.loads(line) for line in all_output().splitlines() if '"signing key made"' in line]
    assert {(m["algorithm"], m.get("replaces"), m["because"]) for m in made} >= {
        ("ES256", kid_of(first), "bound to another KMS key or mode")}


def test_switching_signing_key_mode_back_and_forth_never_fails_a_redeem(api, aws, flow, monkeypatch):
    kms_keys = {name: aws["kms"].create_key(**definition)["KeyMetadata"]["Arn"]
                for name, definition in signing_key_definitions(TEMPLATE, {"SigningKeyMode": "kms"}).items()}
    envelope = {"SIGNING_KEY_MODE": "envelope", "SIGNING_KEY_ID": aws["key_arn"], "RSA_SIGNING_KEY_ID": ""}
    kms = {"SIGNING_KEY_MODE": "kms", "SIGNING_KEY_ID": kms_keys["SigningKey"],
           "RSA_SIGNING_KEY_ID": kms_keys["RsaSigningKey"]}
    tokens = [login(flow)]
    for configuration in (kms, envelope, kms):
        # When the stack is redeployed in the other mode
        deploy(monkeypatch, **configuration)
        # Then the next redeem succeeds, and every token issued so far verifies against the JWKS
        tokens.append(login(flow))
        document = jwks(api)
        assert all(verifies(token, document) for token in tokens)
    # kms mode names its key by the KMS key id; the two envelope keys differ (a new one, not the retired one)
    assert kid_of(tokens[1]) == kid_of(tokens[3]) == kms_keys["SigningKey"].rsplit("/", 1)[-1]
    assert kid_of(tokens[0]) != kid_of(tokens[2])


def test_containers_racing_to_replace_an_unbound_key_agree_on_one(aws, flow, monkeypatch, settings_env):
    # Given two warm containers that both hold the keyring of a KMS key since replaced
    login(flow)
    replacement = aws["kms"].create_key(**signing_key_definitions(TEMPLATE)["SigningKey"])["KeyMetadata"]["Arn"]
    deploy(monkeypatch, SIGNING_KEY_ID=replacement)
    settings = deps.get_settings()
    first, second = (signing.signer_for(settings, SessionStore(TABLE_NAME, client=aws["dynamodb"]), aws["kms"])
                     for _ in range(2))
    now = signing.time.time()
    for signer in (first, second):
        signer.keys.keyring("ES256", now)

    # When both sign: the second's write loses the race (generation) and it re-reads
    claims = {"sub": "alice", "aud": "example-app", "iat": int(now), "exp": int(now) + 300}
    a, b = first.sign(claims), second.sign(claims)

    # Then both use the first one's new key, and one key was added
    assert kid_of(a) == kid_of(b)
    ring = SessionStore(TABLE_NAME, client=aws["dynamodb"]).get_keyring("ES256", consistent=True)
    assert len(ring.entries) == 2 and ring.entries[-1].kid == kid_of(a)


def test_the_pre_keyring_key_stays_published_while_its_tokens_live(api, aws, flow, keys_clock):
    # Given the one key item a stack before keyrings had (as that code stored it)
    legacy = {"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "qrl-legacy",
              "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
    aws["dynamodb"].put_item(TableName=TABLE_NAME, Item={
        "pk": {"S": LEGACY_SIGNING_KEY_PK}, "kid": {"S": "qrl-legacy"}, "public_jwk": {"S": json.dumps(legacy)},
        "private_key_ciphertext": {"B": b"old ciphertext"}, "created_at": {"N": "1000"}})

    # When the upgraded stack signs
    login(flow)

    # Then its new key signs, and the old key is published until its last tokens have expired
    assert "qrl-legacy" in {k["kid"] for k in jwks(api)["keys"]}
    keys_clock.advance(RETIRED_KEY_PUBLISHED_SECONDS + KEY_REFRESH_SECONDS)
    assert "qrl-legacy" not in {k["kid"] for k in jwks(api)["keys"]}


@pytest.mark.parametrize("signing_mode", ["kms"])
def test_rotating_in_kms_mode_is_refused_with_what_to_do(aws, signing_mode, capsys):
    assert signing_keys.rotate(target(aws, "kms"), ["ES256"], 0, 0.0) == 2
    assert "replacing the KMS key" in capsys.readouterr().err
    with pytest.raises(ValueError):
        deps.signer().keys.rotate("ES256", 0.0)


def test_the_list_command_shows_each_key_and_its_state(aws, flow, keys_clock, capsys):
    login(flow)
    signing_keys.rotate(target(aws), ["ES256"], 100, keys_clock.time())
    capsys.readouterr()
    signing_keys.list_keys(target(aws), keys_clock.time())
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in out[:1]] == ["current"]
    assert "upcoming: signs from" in out[1]
    assert out[2].startswith("RS256") and "no key yet" in out[2]
    signing_keys.list_keys(target(aws), keys_clock.time() + 101)
    assert "retired: published until" in capsys.readouterr().out


def test_the_command_finds_a_deployed_stack_by_name(aws, capsys):
    # Given a deployed stack (moto's CloudFormation): its table output, its mode parameter, its KMS key
    template = {
        "Parameters": {"SigningKeyMode": {"Type": "String", "Default": "envelope"}},
        "Resources": {
            "SigningKey": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": "{}"}},  # moto takes it as text
            "SessionsTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}},
        },
        "Outputs": {"TableName": {"Value": {"Ref": "SessionsTable"}}},
    }
    boto3.client("cloudformation", region_name="us-east-1").create_stack(StackName="qrlogin",
                                                                          TemplateBody=json.dumps(template))

    # When the operator rotates it by name
    assert signing_keys.main(["--stack", "qrlogin", "--region", "us-east-1", "rotate", "--activate-in", "0"]) == 0

    # Then each algorithm's new key is in the stack's table, bound to the stack's KMS key by ARN
    found = signing_keys.stack_target("qrlogin", "us-east-1")
    assert found.mode == "envelope" and found.table_name != TABLE_NAME
    key_arn = found.kms_key_arns["SigningKey"]
    assert key_arn.startswith("arn:aws:kms:")
    store = SessionStore(found.table_name, client=aws["dynamodb"])
    for algorithm in ("ES256", "RS256"):
        (entry,) = store.get_keyring(algorithm, consistent=True).entries
        assert entry.protected_by == key_arn and entry.mode == "envelope"
    assert signing_keys.main(["--stack", "qrlogin", "--region", "us-east-1", "list"]) == 0
    assert capsys.readouterr().out.count("current") == 2
