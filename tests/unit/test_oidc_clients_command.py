"""scripts/oidc_clients.py: register, list and remove clients of a deployed stack (table from its outputs)."""

from __future__ import annotations

import json

import boto3
import pytest

from qrlogin.oauth.clients import ClientRegistry
from scripts import oidc_clients
from tests.unit.conftest import TABLE_NAME


@pytest.fixture
def registry(aws) -> ClientRegistry:
    return ClientRegistry(TABLE_NAME, aws["dynamodb"])


def run(capsys, registry, *argv: str) -> tuple[int, str, str]:
    code = oidc_clients.main(["--stack", "qrlogin", *argv], registry=registry)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_register_prints_the_secret_once_and_list_never(capsys, registry):
    code, out, _ = run(capsys, registry, "register", "--redirect-uri", "https://app.example.com/cb", "--name", "App")
    registered = json.loads(out)
    assert code == 0 and registered["client_secret"] and registered["id_token_signed_response_alg"] == "RS256"
    code, out, _ = run(capsys, registry, "list")
    listed = json.loads(out)
    assert [c["client_id"] for c in listed] == [registered["client_id"]]
    assert registered["client_secret"] not in out and "secret_hash" not in out


def test_a_public_client_has_no_secret(capsys, registry):
    _, out, _ = run(capsys, registry, "register", "--redirect-uri", "http://127.0.0.1:8765/cb", "--public")
    assert "client_secret" not in json.loads(out)


def test_remove_deletes_and_says_when_there_was_nothing(capsys, registry):
    _, out, _ = run(capsys, registry, "register", "--redirect-uri", "https://app.example.com/cb")
    client_id = json.loads(out)["client_id"]
    assert run(capsys, registry, "remove", client_id)[0] == 0
    assert registry.get(client_id) is None
    assert run(capsys, registry, "remove", client_id)[0] == 1


def test_a_bad_redirect_uri_is_refused_by_the_functions_rules(capsys, registry):
    code, out, err = run(capsys, registry, "register", "--redirect-uri", "http://app.example.com/cb")
    assert code == 2 and "refused" in err and out == ""
    assert registry.list() == []


def test_the_table_comes_from_the_stacks_outputs(aws):
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(StackName="qrlogin-test", TemplateBody=json.dumps({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"TableName": {"Value": "the-sessions-table"}, "Other": {"Value": "x"}},
    }))
    assert oidc_clients.table_of_stack(cloudformation, "qrlogin-test") == "the-sessions-table"
