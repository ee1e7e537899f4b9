"""Lambda event filtering: does a record pass an event source mapping's FilterCriteria?

The local stream poller asks this before it invokes a function, as Lambda does
for ``AWS::Lambda::EventSourceMapping`` ``FilterCriteria``.  The pattern syntax
is the one Lambda documents ("Control which events Lambda sends to your
function"), a subset of EventBridge patterns:

- a record passes if ANY filter's pattern matches; no filters pass everything;
- a pattern matches if EVERY key matches; objects nest; ``"$or": [p1, p2]``
  matches if any of the sub-patterns matches at that level;
- a leaf is a non-empty list of alternatives: exact values (string, number,
  bool, null; no type coercion, so ``"5"`` is not ``5`` and ``true`` is not
  ``1``) or operator objects: ``prefix``, ``suffix``, ``equals-ignore-case``,
  ``anything-but`` (value, list, or prefix/suffix/equals-ignore-case object),
  ``numeric`` (``["<", 10, ">=", 0]``; JSON numbers only, so DynamoDB's
  ``{"N": "5"}`` strings never match it), ``exists`` (true/false);
- arrays in the record match if any element does (like EventBridge, arrays of
  objects are flattened: each path collects the values of every element);
- ``exists`` looks at leaf values only: a path holding an object has no leaf
  value, so ``exists: true`` does not match it and ``exists: false`` does.
  That is why DynamoDB patterns say ``{"attr": {"S": [...]}}``: the stream's
  images are DynamoDB JSON, an attribute is an object keyed by its type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Path = tuple[str, ...]

_MISSING: list[Any] = []  # no leaf value at a path


class FilterPatternError(ValueError):
    """A pattern Lambda would refuse when the event source mapping is created."""


def record_matches(filter_criteria: Mapping[str, Any] | None, record: Mapping[str, Any]) -> bool:
    """True if ``record`` passes ``{"Filters": [{"Pattern": "<json>"}, ...]}`` (any filter)."""
    filters = (filter_criteria or {}).get("Filters") or []
    if not filters:
        return True
    return any(pattern_matches(parse_pattern(f.get("Pattern", "")), record) for f in filters)


def parse_pattern(pattern: str | Mapping[str, Any]) -> Mapping[str, Any]:
    """A filter's ``Pattern`` (a JSON string in CloudFormation) as an object."""
    if isinstance(pattern, str):
        try:
            parsed = json.loads(pattern)
        except json.JSONDecodeError as error:
            raise FilterPatternError(f"pattern is not JSON: {error}") from error
    else:
        parsed = pattern
    if not isinstance(parsed, Mapping):
        raise FilterPatternError("pattern must be a JSON object")
    return parsed


def pattern_matches(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    return _object_matches(pattern, _leaf_values(record), ())


def _leaf_values(record: Any) -> dict[Path, list[Any]]:
    """Every path of the record to the leaf values found there (arrays flattened)."""
    found: dict[Path, list[Any]] = {}

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, Mapping):
            for key, child in value.items():
                walk(child, (*path, str(key)))
        elif isinstance(value, list):
            for element in value:
                walk(element, path)
        else:
            found.setdefault(path, []).append(value)

    walk(record, ())
    return found


def _object_matches(pattern: Mapping[str, Any], values: dict[Path, list[Any]], prefix: Path) -> bool:
    for key, rule in pattern.items():
        if key == "$or":
            if not isinstance(rule, list) or len(rule) < 2 or not all(isinstance(r, Mapping) for r in rule):
                raise FilterPatternError('"$or" takes a list of at least two pattern objects')
            if not any(_object_matches(alternative, values, prefix) for alternative in rule):
                return False
        elif isinstance(rule, Mapping):
            if not _object_matches(rule, values, (*prefix, key)):
                return False
        elif isinstance(rule, list):
            if not _leaf_matches(rule, values.get((*prefix, key), _MISSING)):
                return False
        else:
            raise FilterPatternError(f"{'.'.join((*prefix, key))}: a leaf must be a list of values or operators")
    return True


def _leaf_matches(rules: list[Any], values: list[Any]) -> bool:
    if not rules:
        raise FilterPatternError("a leaf list must not be empty")
    return any(_rule_matches(rule, values) for rule in rules)


def _rule_matches(rule: Any, values: list[Any]) -> bool:
    if not isinstance(rule, Mapping):
        return any(_equal(rule, value) for value in values)
    if len(rule) != 1:
        raise FilterPatternError(f"an operator object has exactly one key: {sorted(rule)}")
    ((operator, operand),) = rule.items()
    if operator == "exists":
        if not isinstance(operand, bool):
            raise FilterPatternError('"exists" takes true or false')
        return bool(values) == operand
    test = _value_test(operator, operand)
    return any(test(value) for value in values)


def _value_test(operator: str, operand: Any) -> Any:
    """A predicate on one leaf value for a value operator."""
    if operator in ("prefix", "suffix", "equals-ignore-case"):
        return _string_test(operator, operand)
    if operator == "anything-but":
        if isinstance(operand, Mapping):
            if len(operand) != 1:
                raise FilterPatternError('"anything-but" takes one prefix/suffix/equals-ignore-case object')
            ((inner, inner_operand),) = operand.items()
            excluded = _string_test(inner, inner_operand)
            # The value must be a string for a string operator to exclude it.
            return lambda value: isinstance(value, str) and not excluded(value)
        excluded_values = operand if isinstance(operand, list) else [operand]
        if any(isinstance(v, (Mapping, list)) for v in excluded_values):
            raise FilterPatternError('"anything-but" takes values or one string operator object')
        return lambda value: not any(_equal(excluded, value) for excluded in excluded_values)
    if operator == "numeric":
        return _numeric_test(operand)
    raise FilterPatternError(f"unsupported operator {operator!r}")


def _string_test(operator: str, operand: Any) -> Any:
    if operator in ("prefix", "suffix") and isinstance(operand, Mapping):
        # {"prefix": {"equals-ignore-case": "abc"}}: case-insensitive prefix/suffix.
        if list(operand) != ["equals-ignore-case"] or not isinstance(operand["equals-ignore-case"], str):
            raise FilterPatternError(f'"{operator}" takes a string or {{"equals-ignore-case": string}}')
        folded = operand["equals-ignore-case"].casefold()
        if operator == "prefix":
            return lambda value: isinstance(value, str) and value.casefold().startswith(folded)
        return lambda value: isinstance(value, str) and value.casefold().endswith(folded)
    if not isinstance(operand, str):
        raise FilterPatternError(f'"{operator}" takes a string')
    if operator == "prefix":
        return lambda value: isinstance(value, str) and value.startswith(operand)
    if operator == "suffix":
        return lambda value: isinstance(value, str) and value.endswith(operand)
    if operator == "equals-ignore-case":
        folded = operand.casefold()
        return lambda value: isinstance(value, str) and value.casefold() == folded
    raise FilterPatternError(f"unsupported string operator {operator!r}")


_COMPARISONS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric_test(operand: Any) -> Any:
    if not isinstance(operand, list) or not operand or len(operand) % 2:
        raise FilterPatternError('"numeric" takes pairs: ["<", 10, ">=", 0]')
    pairs = list(zip(operand[0::2], operand[1::2], strict=True))
    for comparison, bound in pairs:
        if comparison not in _COMPARISONS or not _is_number(bound):
            raise FilterPatternError(f'"numeric": bad comparison {comparison!r} {bound!r}')
    return lambda value: _is_number(value) and all(_COMPARISONS[c](value, bound) for c, bound in pairs)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(expected: Any, value: Any) -> bool:
    """JSON equality without Python's coercions (True == 1, 1 == 1.0 stays true for numbers)."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(expected, bool) and isinstance(value, bool) and expected is value
    if _is_number(expected) or _is_number(value):
        return _is_number(expected) and _is_number(value) and expected == value
    if expected is None or value is None:
        return expected is None and value is None
    if isinstance(expected, str):
        return isinstance(value, str) and expected == value
    raise FilterPatternError(f"unsupported value in a leaf list: {expected!r}")

