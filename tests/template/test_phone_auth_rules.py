"""DESIGN §6 in template.yaml: a stack that would accept phone tokens meant for another app cannot be made,
and only an introspection-mode ConfirmFunction may read the one secret.

The Rules are read as CloudFormation checks them before a deploy (cfn-lint
checks their syntax in test_template.py); the local stack applies the same
check at start (localcloud/resolve.check_rules), which is what runs here.
"""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.resolve import UnresolvableValue, check_rules, parameters
from localcloud.template import choose_branches, functions, load_template, parameter_values

pytestmark = pytest.mark.template

TEMPLATE = load_template()
DEPLOY = {"AllowedOrigins": "https://app.example.com"}  # the one parameter without a default
COGNITO = {"PhoneJwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab12", "PhoneJwtClientId": "app"}
INTROSPECTION = {"PhoneAuthMode": "introspection", "IntrospectionUrl": "https://as.example/introspect",
                 "IntrospectionSecretName": "qrlogin/introspection", "PhoneJwtClientId": "phone-app"}


def deploy(**overrides: str) -> dict[str, str]:
    return parameters(TEMPLATE, {}, {**DEPLOY, **overrides})


def test_a_deploy_with_the_template_defaults_is_refused_naming_what_to_set():
    with pytest.raises(UnresolvableValue, match="PhoneJwtAudience or PhoneJwtClientId"):
        deploy()


@pytest.mark.parametrize(("overrides", "missing"), [
    ({"PhoneJwtIssuer": COGNITO["PhoneJwtIssuer"]}, "PhoneJwtAudience or PhoneJwtClientId"),
    ({"PhoneJwtClientId": "app"}, "PhoneJwtIssuer"),
    ({"PhoneJwtAudience": "https://api.example.com"}, "PhoneJwtIssuer"),
    ({**INTROSPECTION, "IntrospectionSecretName": ""}, "IntrospectionSecretName"),
    ({**INTROSPECTION, "IntrospectionUrl": ""}, "IntrospectionUrl"),
    ({**INTROSPECTION, "PhoneJwtClientId": ""}, "PhoneJwtAudience or PhoneJwtClientId"),
])
def test_a_phone_setup_that_skips_a_check_is_refused(overrides, missing):
    with pytest.raises(UnresolvableValue, match=missing):
        deploy(**overrides)


@pytest.mark.parametrize("overrides", [
    COGNITO,
    {"PhoneJwtIssuer": "https://tenant.eu.auth0.com/", "PhoneJwtAudience": "https://api.example.com"},
    {**COGNITO, "PhoneJwtAudience": "https://api.example.com", "PhoneRequiredScope": "qrlogin/approve"},
    INTROSPECTION,
    {**INTROSPECTION, "PhoneJwtClientId": "", "PhoneJwtAudience": "https://api.example.com"},
])
def test_each_readme_setup_passes_the_rules(overrides):
    check_rules(TEMPLATE, deploy(**overrides))


def test_a_required_scope_is_one_scope():
    with pytest.raises(UnresolvableValue, match="PhoneRequiredScope"):
        deploy(**COGNITO, PhoneRequiredScope="qrlogin/approve openid")


def _secret_statements(overrides: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Function -> its statements that touch Secrets Manager, with Fn::If resolved as CloudFormation would."""
    values = parameter_values(TEMPLATE, {**DEPLOY, **overrides})
    found: dict[str, list[dict[str, Any]]] = {}
    for name, function in functions(TEMPLATE).items():
        for policy in choose_branches(TEMPLATE, function.get("Policies", []), values):
            for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if any(action.startswith("secretsmanager:") for action in actions):
                    found.setdefault(name, []).append(statement)
    return found


def test_in_jwt_mode_no_function_may_read_any_secret():
    assert _secret_statements(COGNITO) == {}


def test_in_introspection_mode_only_confirm_reads_only_the_named_secret():
    found = _secret_statements(INTROSPECTION)
    assert list(found) == ["ConfirmFunction"]
    (statement,) = found["ConfirmFunction"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "secretsmanager:GetSecretValue"
    # The secret's ARN: its name and the six random characters Secrets Manager appends, nothing wider.
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:"
                                                "${AWS::AccountId}:secret:${IntrospectionSecretName}-??????"}


def test_the_policy_names_exactly_the_arn_secrets_manager_gives_that_secret():
    import fnmatch

    import boto3
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID

    # Given the secrets Secrets Manager (moto) makes for the name, and for a longer name that starts the same
    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        ours = client.create_secret(Name="qrlogin/introspection", SecretString="{}")["ARN"]
        other = client.create_secret(Name="qrlogin/introspection-admin", SecretString="{}")["ARN"]

    # Then the statement's resource (IAM's ? is one character, as fnmatch's) covers ours and not the other
    template = _secret_statements(INTROSPECTION)["ConfirmFunction"][0]["Resource"]["Fn::Sub"]
    resource = (template.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "us-east-1")
                .replace("${AWS::AccountId}", DEFAULT_ACCOUNT_ID)
                .replace("${IntrospectionSecretName}", INTROSPECTION["IntrospectionSecretName"]))
    assert fnmatch.fnmatchcase(ours, resource)
    assert not fnmatch.fnmatchcase(other, resource)


# The keys that sign phone tokens, and the introspection client secret, travel over these URLs:
# plain http would let anyone on the path swap the keys or read the secret.
@pytest.mark.parametrize("name", ["PhoneJwksUrl", "IntrospectionUrl"])
@pytest.mark.parametrize("url", ["http://idp.example.com/jwks", "ftp://idp.example.com/jwks", "idp.example.com/jwks",
                                 "http://127.0.0.1.example.com/jwks"])
def test_a_url_that_phone_auth_fetches_must_be_https_off_loopback(name: str, url: str):
    with pytest.raises(UnresolvableValue, match=name):
        deploy(**COGNITO, **{name: url})


@pytest.mark.parametrize("name", ["PhoneJwksUrl", "IntrospectionUrl"])
@pytest.mark.parametrize("url", ["", "https://idp.example.com/jwks", "http://127.0.0.1:3000/dev/jwks", "http://localhost:9",
                                 "http://[::1]:3000/dev/jwks.json"])
def test_https_and_the_local_stacks_loopback_urls_are_accepted(name: str, url: str):
    assert deploy(**COGNITO, **{name: url})[name] == url
