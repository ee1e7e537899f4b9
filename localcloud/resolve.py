"""Template values made local: parameters, intrinsic functions, API URLs.

CloudFormation resolves ``!Ref``, ``!GetAtt``, ``!Sub`` ... to physical ids on
deploy; the local stack resolves them to what moto and the local gateway made.
Only values something reads locally are resolved (function environments, CORS,
the stage name), so a reference with no local meaning fails loudly, by name,
only if it is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from localcloud.events import ACCOUNT_ID, REGION
from localcloud.template import condition

URL_SUFFIX = "amazonaws.com"
# An API Gateway endpoint as the template spells it after !Sub.
_EXECUTE_API = re.compile(r"^(https|wss)://[\w-]+\.execute-api\.[\w-]+\." + re.escape(URL_SUFFIX))
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class UnresolvableValue(ValueError):
    pass


def parameters(template: dict[str, Any], local_defaults: Mapping[str, str],
               overrides: Mapping[str, str]) -> dict[str, str]:
    """Parameter values: template default, then local default, then ``--param``; validated."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise UnresolvableValue(f"unknown parameter(s): {', '.join(unknown)}")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            value = overrides[name]
        elif name in local_defaults:
            value = local_defaults[name]
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            raise UnresolvableValue(f"parameter {name} has no default: pass --param {name}=...")
        _check_parameter(name, spec, value)
        values[name] = value
    check_rules(template, values)
    return values


def check_rules(template: dict[str, Any], values: Mapping[str, str]) -> None:
    """The template's ``Rules``, as CloudFormation checks them before a deploy: a failed assertion stops it."""

    def holds(node: Any) -> bool:  # rule functions are the Conditions' (Equals, Not, And, Or over Ref)
        return condition({**template, "Conditions": {**template.get("Conditions", {}), "rule": node}}, "rule",
                         dict(values))

    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not holds(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions", []):
            if not holds(assertion["Assert"]):
                raise UnresolvableValue(f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}")


def _check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        raise UnresolvableValue(f"parameter {name} must be one of {allowed}, not {value!r}")
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        raise UnresolvableValue(f"parameter {name} must match {spec['AllowedPattern']}")
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise UnresolvableValue(f"parameter {name} must be a number, not {value!r}") from None
        if "MinValue" in spec and number < float(spec["MinValue"]):
            raise UnresolvableValue(f"parameter {name} must be >= {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            raise UnresolvableValue(f"parameter {name} must be <= {spec['MaxValue']}")


class Resolver:
    """Evaluates intrinsic functions against local physical ids and attributes."""

    def __init__(self, template: dict[str, Any], parameters: Mapping[str, str], refs: Mapping[str, str],
                 attributes: Mapping[str, str], stack_name: str) -> None:
        self.template = template
        self.parameters = dict(parameters)
        self.refs = {
            **parameters,
            **refs,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": stack_name,
        }
        self.attributes = attributes
        self.intrinsics: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref, "Fn::GetAtt": self._get_att, "Fn::Sub": self._sub,
            "Fn::FindInMap": self._find_in_map, "Fn::Split": self._split, "Fn::Join": self._join,
            "Fn::If": self._if,
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name in self.intrinsics:
                return self.intrinsics[name](argument)
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        if name not in self.refs:
            raise UnresolvableValue(f"no local value for Ref {name}")
        return self.refs[name]

    def _get_att(self, argument: list[str] | str) -> str:
        key = ".".join(argument) if isinstance(argument, list) else argument
        if key not in self.attributes:
            raise UnresolvableValue(f"no local value for GetAtt {key}")
        return self.attributes[key]

    def _sub(self, argument: str | list[Any]) -> str:
        text, extra = (argument, {}) if isinstance(argument, str) else (argument[0], self.resolve(argument[1]))

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name:
                return self._get_att(name)
            return self._ref(name)

        return _SUB_VARIABLE.sub(substitute, text)

    def _if(self, argument: list[Any]) -> Any:
        name, if_true, if_false = argument
        return self.resolve(if_true if condition(self.template, name, self.parameters) else if_false)

    def _find_in_map(self, argument: list[Any]) -> str:
        mapping, first, second = self.resolve(argument)
        return str(self.template["Mappings"][mapping][first][second])

    def _split(self, argument: list[Any]) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(delimiter)

    def _join(self, argument: list[Any]) -> str:
        delimiter, items = argument
        return delimiter.join(str(v) for v in self.resolve(items))


def localize_url(value: str, base_url: str) -> str:
    """Point an API Gateway URL (https:// or wss://) at the local gateway, keeping the path."""
    match = _EXECUTE_API.match(value)
    if not match:
        return value
    scheme = "ws" if match.group(1) == "wss" else "http"
    host = base_url.split("://", 1)[1].rstrip("/")
    return f"{scheme}://{host}{value[match.end():]}"
