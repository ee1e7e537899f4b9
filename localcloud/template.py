"""Reading template.yaml: CloudFormation tags, and the definitions the local
stack and the tests build from (so the template and they cannot drift apart).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 (SafeLoader subclass)


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def table_definition(template: dict[str, Any], table_name: str) -> dict[str, Any]:
    """``create_table`` arguments for the template's one DynamoDB table."""
    (props,) = [r["Properties"] for r in resources_of_type(template, "AWS::DynamoDB::Table").values()]
    definition = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props["BillingMode"],
    }
    if "StreamSpecification" in props:
        definition["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return definition


def table_ttl_attribute(template: dict[str, Any]) -> str:
    (props,) = [r["Properties"] for r in resources_of_type(template, "AWS::DynamoDB::Table").values()]
    return props["TimeToLiveSpecification"]["AttributeName"]


def signing_key_definition(template: dict[str, Any]) -> dict[str, Any]:
    """``kms.create_key`` arguments for the template's signing key."""
    (props,) = [r["Properties"] for r in resources_of_type(template, "AWS::KMS::Key").values()]
    return {"KeySpec": props["KeySpec"], "KeyUsage": props["KeyUsage"], "Description": props.get("Description", "")}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Serverless functions by logical id, with Globals.Function merged in."""
    globals_ = template.get("Globals", {}).get("Function", {})
    merged = {}
    for name, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = {**globals_, **resource["Properties"]}
        env = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **resource["Properties"].get("Environment", {}).get("Variables", {}),
        }
        props["Environment"] = {"Variables": env}
        merged[name] = props
    return merged


def http_routes(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(METHOD, path template, function logical id) for every HttpApi event."""
    routes = []
    for name, props in functions(template).items():
        for event in props.get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes.append((event["Properties"]["Method"].upper(), event["Properties"]["Path"], name))
    return routes
