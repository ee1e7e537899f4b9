"""localcloud.filters: Lambda event filtering, one operator at a time (no sockets).

Each case states a pattern, a record and whether Lambda would invoke the
function with it, following "Control which events Lambda sends to your
function" and "Using event filtering with a DynamoDB event source".
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud.filters import FilterPatternError, parse_pattern, pattern_matches, record_matches

pytestmark = pytest.mark.template


def criteria(*patterns: dict[str, Any]) -> dict[str, Any]:
    """FilterCriteria as CloudFormation and the Lambda API hold it: patterns as JSON strings."""
    return {"Filters": [{"Pattern": json.dumps(p)} for p in patterns]}


def ddb_record(event_name: str = "MODIFY", **attributes: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB stream record as Lambda hands it over: NewImage in DynamoDB JSON."""
    return {
        "eventID": "1",
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"pk": {"S": "session#abc"}},
            "NewImage": {"pk": {"S": "session#abc"}, **attributes},
            "StreamViewType": "NEW_IMAGE",
        },
    }


CUSTOMER = {
    "name": "Pat",
    "count": 5,
    "ratio": 2.5,
    "active": True,
    "nothing": None,
    "empty": "",
    "tags": ["blue", "green"],
    "address": {"city": "Lisbon", "zip": "1000-001"},
    "orders": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 9}],
}


# -- criteria: any filter, every key -----------------------------------------


def test_no_filters_let_every_record_through():
    # Given an event source mapping without FilterCriteria (or with an empty list)
    # When / Then any record is passed to the function
    assert record_matches(None, CUSTOMER)
    assert record_matches({}, CUSTOMER)
    assert record_matches({"Filters": []}, CUSTOMER)


def test_a_record_passes_if_any_filter_matches():
    # Given two filters, only the second of which matches
    both = criteria({"name": ["Sam"]}, {"count": [5]})
    # When / Then the record passes; with neither matching it does not
    assert record_matches(both, CUSTOMER)
    assert not record_matches(criteria({"name": ["Sam"]}, {"count": [6]}), CUSTOMER)


def test_a_pattern_matches_only_if_every_key_matches():
    assert pattern_matches({"name": ["Pat"], "count": [5]}, CUSTOMER)
    assert not pattern_matches({"name": ["Pat"], "count": [6]}, CUSTOMER)


def test_a_pattern_on_a_missing_field_does_not_match():
    assert not pattern_matches({"surname": ["Pat"]}, CUSTOMER)


# -- exact values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"name": ["Pat"]}, True),
        ({"name": ["pat"]}, False),  # exact match is case-sensitive
        ({"name": ["Sam", "Pat"]}, True),  # a leaf list is an OR
        ({"count": [5]}, True),
        ({"count": [5.0]}, True),  # numbers compare as numbers
        ({"count": ["5"]}, False),  # no string/number coercion
        ({"ratio": [2.5]}, True),
        ({"active": [True]}, True),
        ({"active": [1]}, False),  # true is not 1
        ({"count": [True]}, False),
        ({"nothing": [None]}, True),  # null matches an explicit null
        ({"name": [None]}, False),
        ({"empty": [""]}, True),  # empty matches the empty string
        ({"nothing": [""]}, False),  # ... not null
    ],
)
def test_exact_values(pattern, expected):
    assert pattern_matches(pattern, CUSTOMER) is expected


def test_null_does_not_match_a_missing_field():
    assert not pattern_matches({"surname": [None]}, CUSTOMER)


# -- string operators ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"prefix": "Pa"}, True),
        ({"prefix": "pa"}, False),
        ({"prefix": {"equals-ignore-case": "pA"}}, True),
        ({"suffix": "at"}, True),
        ({"suffix": "AT"}, False),
        ({"suffix": {"equals-ignore-case": "AT"}}, True),
        ({"equals-ignore-case": "pAT"}, True),
        ({"equals-ignore-case": "pa"}, False),
    ],
)
def test_string_operators(rule, expected):
    assert pattern_matches({"name": [rule]}, CUSTOMER) is expected


def test_string_operators_never_match_numbers():
    assert not pattern_matches({"count": [{"prefix": "5"}]}, CUSTOMER)


# -- anything-but ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"anything-but": "Sam"}, True),
        ({"anything-but": "Pat"}, False),
        ({"anything-but": ["Sam", "Pat"]}, False),
        ({"anything-but": ["Sam", "Kim"]}, True),
        ({"anything-but": {"prefix": "Pa"}}, False),
        ({"anything-but": {"prefix": "Sa"}}, True),
        ({"anything-but": {"suffix": "at"}}, False),
        ({"anything-but": {"equals-ignore-case": "PAT"}}, False),
    ],
)
def test_anything_but(rule, expected):
    assert pattern_matches({"name": [rule]}, CUSTOMER) is expected


def test_anything_but_numbers_and_a_missing_field():
    assert pattern_matches({"count": [{"anything-but": [1, 2]}]}, CUSTOMER)
    assert not pattern_matches({"count": [{"anything-but": [5]}]}, CUSTOMER)
    # anything-but still needs the field to be there
    assert not pattern_matches({"surname": [{"anything-but": "Pat"}]}, CUSTOMER)


# -- numeric -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (["=", 5], True),
        (["=", 6], False),
        ([">", 4, "<=", 5], True),
        ([">", 5], False),
        ([">=", 5, "<", 10], True),
        (["<", 5], False),
    ],
)
def test_numeric(rule, expected):
    assert pattern_matches({"count": [{"numeric": rule}]}, CUSTOMER) is expected


def test_numeric_never_matches_strings_such_as_dynamodb_numbers():
    # DynamoDB JSON carries numbers as strings: {"N": "5"}
    record = ddb_record(version={"N": "5"})
    assert not pattern_matches({"dynamodb": {"NewImage": {"version": {"N": [{"numeric": ["=", 5]}]}}}}, record)
    assert pattern_matches({"dynamodb": {"NewImage": {"version": {"N": ["5"]}}}}, record)


# -- exists --------------------------------------------------------------------


def test_exists_true_and_false_on_leaves():
    assert pattern_matches({"name": [{"exists": True}]}, CUSTOMER)
    assert not pattern_matches({"name": [{"exists": False}]}, CUSTOMER)
    assert pattern_matches({"surname": [{"exists": False}]}, CUSTOMER)
    assert not pattern_matches({"surname": [{"exists": True}]}, CUSTOMER)
    assert pattern_matches({"nothing": [{"exists": True}]}, CUSTOMER)  # an explicit null is there


def test_exists_only_looks_at_leaf_nodes():
    # Given "address" holds an object (an intermediate node, not a leaf)
    # Then exists: true does not match it, and exists: false does
    assert not pattern_matches({"address": [{"exists": True}]}, CUSTOMER)
    assert pattern_matches({"address": [{"exists": False}]}, CUSTOMER)
    # ... while a leaf under it works as usual
    assert pattern_matches({"address": {"city": [{"exists": True}]}}, CUSTOMER)


def test_exists_on_dynamodb_attributes_needs_the_type_key():
    # A DynamoDB attribute is an object keyed by its type: {"subscribed": {"BOOL": true}}
    record = ddb_record(subscribed={"BOOL": True})
    image = {"dynamodb": {"NewImage": {"subscribed": [{"exists": True}]}}}
    typed = {"dynamodb": {"NewImage": {"subscribed": {"BOOL": [{"exists": True}]}}}}
    assert not pattern_matches(image, record)
    assert pattern_matches(typed, record)
    assert pattern_matches({"dynamodb": {"NewImage": {"gone": {"S": [{"exists": False}]}}}}, record)


# -- nesting, arrays, $or ------------------------------------------------------------


def test_nested_objects_recurse():
    assert pattern_matches({"address": {"city": ["Lisbon"], "zip": [{"prefix": "1000"}]}}, CUSTOMER)
    assert not pattern_matches({"address": {"city": ["Porto"]}}, CUSTOMER)
    assert not pattern_matches({"name": {"first": ["Pat"]}}, CUSTOMER)  # "name" is a string, not an object


def test_an_array_in_the_record_matches_if_any_element_matches():
    assert pattern_matches({"tags": ["green"]}, CUSTOMER)
    assert not pattern_matches({"tags": ["red"]}, CUSTOMER)
    assert pattern_matches({"orders": {"sku": [{"prefix": "B-"}]}}, CUSTOMER)
    assert pattern_matches({"orders": {"qty": [{"numeric": [">", 8]}]}}, CUSTOMER)
    assert not pattern_matches({"orders": {"qty": [{"numeric": [">", 9]}]}}, CUSTOMER)


def test_or_across_fields():
    either = {"$or": [{"name": ["Sam"]}, {"count": [{"numeric": [">", 3]}]}]}
    assert pattern_matches(either, CUSTOMER)
    assert not pattern_matches({"$or": [{"name": ["Sam"]}, {"count": [1]}]}, CUSTOMER)
    # $or combines with the other keys of its level (AND)
    assert not pattern_matches({"active": [False], **either}, CUSTOMER)
    assert pattern_matches({"address": {"$or": [{"city": ["Porto"]}, {"zip": [{"suffix": "001"}]}]}}, CUSTOMER)


# -- the DynamoDB stream shape ----------------------------------------------------------------


def test_dynamodb_new_image_attributes_match_by_type():
    record = ddb_record(status={"S": "confirmed"}, subscribed={"BOOL": True}, version={"N": "3"})
    confirmed = {"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["confirmed"]}}}}
    assert record_matches(criteria(confirmed), record)
    assert not record_matches(criteria({"dynamodb": {"NewImage": {"status": ["confirmed"]}}}), record)
    assert not record_matches(criteria({"dynamodb": {"NewImage": {"subscribed": {"S": ["true"]}}}}), record)
    assert record_matches(criteria({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "session#"}]}}}}), record)
    assert not record_matches(criteria({"eventName": ["INSERT"]}), record)


# -- patterns Lambda refuses ----------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "not json",
        "[1, 2]",
        json.dumps({"name": "Pat"}),  # a leaf must be a list
        json.dumps({"name": []}),
        json.dumps({"name": [{"prefix": 1}]}),
        json.dumps({"name": [{"exists": "yes"}]}),
        json.dumps({"name": [{"numeric": [">"]}]}),
        json.dumps({"name": [{"numeric": ["~", 1]}]}),
        json.dumps({"name": [{"wildcard-ish": "x"}]}),
        json.dumps({"name": [{"prefix": "a", "suffix": "b"}]}),
        json.dumps({"$or": [{"name": ["Pat"]}]}),
    ],
)
def test_invalid_patterns_are_refused(pattern):
    with pytest.raises(FilterPatternError):
        record_matches({"Filters": [{"Pattern": pattern}]}, CUSTOMER)


def test_parse_pattern_accepts_an_object_or_json():
    assert parse_pattern({"a": [1]}) == parse_pattern('{"a": [1]}') == {"a": [1]}
