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


def parameter_values(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Each parameter's default, then the overrides (what a deploy would pass)."""
    values = {name: str(spec["Default"]) for name, spec in template.get("Parameters", {}).items() if "Default" in spec}
    return {**values, **(overrides or {})}


def condition(template: dict[str, Any], name: str, parameters: dict[str, str]) -> bool:
    """Evaluates one of the template's Conditions (Equals/Not/And/Or over parameters)."""

    def value(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((kind, argument),) = node.items()
            if kind == "Ref":
                return parameters[argument]
            if kind == "Condition":
                return condition(template, argument, parameters)
            if kind == "Fn::Equals":
                return str(value(argument[0])) == str(value(argument[1]))
            if kind == "Fn::Not":
                return not value(argument[0])
            if kind == "Fn::And":
                return all(value(a) for a in argument)
            if kind == "Fn::Or":
                return any(value(a) for a in argument)
        return node

    return bool(value(template["Conditions"][name]))


def choose_branches(template: dict[str, Any], node: Any, parameters: dict[str, str]) -> Any:
    """Replaces every Fn::If by the branch its condition picks (AWS::NoValue drops the item)."""
    if isinstance(node, list):
        chosen = [choose_branches(template, item, parameters) for item in node]
        return [item for item in chosen if item is not _NO_VALUE]
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, if_true, if_false = node["Fn::If"]
            return choose_branches(template, if_true if condition(template, name, parameters) else if_false,
                                   parameters)
        if node == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        return {key: choose_branches(template, value, parameters) for key, value in node.items()}
    return node


_NO_VALUE = object()


def signing_key_definition(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """``kms.create_key`` arguments for the template's signing key (as SigningKeyMode picks it)."""
    return signing_key_definitions(template, overrides)["SigningKey"]


def signing_key_definitions(template: dict[str, Any], overrides: dict[str, str] | None = None,
                            ) -> dict[str, dict[str, Any]]:
    """``kms.create_key`` arguments of every KMS key the parameters make (a key's Condition holds), by logical id."""
    parameters = parameter_values(template, overrides)
    definitions = {}
    for name, resource in resources_of_type(template, "AWS::KMS::Key").items():
        if "Condition" in resource and not condition(template, resource["Condition"], parameters):
            continue
        props = choose_branches(template, resource["Properties"], parameters)
        definitions[name] = {"KeySpec": props["KeySpec"], "KeyUsage": props["KeyUsage"],
                             "Description": props.get("Description", "")}
    return definitions


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Serverless functions by logical id, with Globals.Function merged in."""
    globals_ = template.get("Globals", {}).get("Function", {})
    merged = {}
    for name, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        props = merge_globals(globals_, resource["Properties"])
        props.setdefault("Environment", {}).setdefault("Variables", {})
        merged[name] = props
    return merged


def merge_globals(globals_: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """SAM's rule for maps: merged key by key, the resource's value winning (LoggingConfig's
    ApplicationLogLevel from Globals survives a function's own LogGroup); anything else is replaced."""
    merged = dict(globals_)
    for key, value in properties.items():
        both_maps = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge_globals(merged[key], value) if both_maps else value
    return merged


def http_routes(template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(METHOD, path template, function logical id) for every HttpApi event."""
    routes = []
    for name, props in functions(template).items():
        for event in props.get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes.append((event["Properties"]["Method"].upper(), event["Properties"]["Path"], name))
    return routes
