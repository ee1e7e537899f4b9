"""localcloud.template's reading of Conditions and Fn::If, as CloudFormation evaluates them."""

import pytest

from localcloud.template import choose_branches, condition, load_template, parameter_values, signing_key_definition

pytestmark = pytest.mark.template

TEMPLATE = {
    "Parameters": {"Mode": {"Type": "String", "Default": "a"}, "Level": {"Type": "String", "Default": "1"}},
    "Conditions": {
        "IsB": {"Fn::Equals": [{"Ref": "Mode"}, "b"]},
        "NotB": {"Fn::Not": [{"Condition": "IsB"}]},
        "BAndTwo": {"Fn::And": [{"Condition": "IsB"}, {"Fn::Equals": [{"Ref": "Level"}, "2"]}]},
        "BOrTwo": {"Fn::Or": [{"Condition": "IsB"}, {"Fn::Equals": [{"Ref": "Level"}, "2"]}]},
    },
}


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, {"IsB": False, "NotB": True, "BAndTwo": False, "BOrTwo": False}),
    ({"Mode": "b"}, {"IsB": True, "NotB": False, "BAndTwo": False, "BOrTwo": True}),
    ({"Mode": "b", "Level": "2"}, {"IsB": True, "NotB": False, "BAndTwo": True, "BOrTwo": True}),
])
def test_conditions_follow_defaults_then_overrides(overrides, expected):
    parameters = parameter_values(TEMPLATE, overrides)
    assert {name: condition(TEMPLATE, name, parameters) for name in expected} == expected


def test_fn_if_picks_its_branch_and_no_value_drops_the_item():
    node = {"Statements": [{"Fn::If": ["IsB", "only-b", {"Ref": "AWS::NoValue"}]}, "always"],
            "Action": {"Fn::If": ["IsB", "kms:Sign", ["kms:Encrypt", "kms:Decrypt"]]}}
    assert choose_branches(TEMPLATE, node, parameter_values(TEMPLATE)) == {
        "Statements": ["always"], "Action": ["kms:Encrypt", "kms:Decrypt"]}
    assert choose_branches(TEMPLATE, node, parameter_values(TEMPLATE, {"Mode": "b"})) == {
        "Statements": ["only-b", "always"], "Action": "kms:Sign"}


@pytest.mark.parametrize(("mode", "spec", "usage"), [
    ("envelope", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), ("kms", "ECC_NIST_P256", "SIGN_VERIFY")])
def test_the_signing_key_follows_signing_key_mode(mode, spec, usage):
    definition = signing_key_definition(load_template(), {"SigningKeyMode": mode})
    assert (definition["KeySpec"], definition["KeyUsage"]) == (spec, usage)
