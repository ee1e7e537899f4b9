"""The template's metric filters count what the functions really log (the audit trail is the metric).

Each ``AWS::Logs::MetricFilter`` counts one kind of INFO audit line in one
function's log group, so a transition costs no EMF document of its own
(docs/performance.md, "Per login"). These tests drive every flow in-process
(the least-privilege tier's ``run_every_flow``: QR logins, denial,
cancellation, typed codes, WebSocket, notifier, the OpenID Provider and the
device flow), keep each invocation's log lines under its function's log
group, and evaluate every filter pattern against them: a misspelt message,
a wrong log group or a line that moved to DEBUG fails here, not silently on
a dashboard.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import re
from collections import defaultdict
from typing import Any

import pytest

from localcloud.template import functions, load_template, resources_of_type
from qrlogin import observability
from qrlogin.observability import logger as powertools_logger
from tests.template.test_least_privilege import run_every_flow, websocket_settings  # noqa: F401

pytestmark = pytest.mark.template

TEMPLATE = load_template()
FILTERS = resources_of_type(TEMPLATE, "AWS::Logs::MetricFilter")
# Function logical id -> the logical id of the log group it writes to.
LOG_GROUP_OF = {name: props["LoggingConfig"]["LogGroup"]["Ref"] for name, props in functions(TEMPLATE).items()}
CONDITION = re.compile(r'\$\.(\w+)\s*(!=|=)\s*"([^"]*)"')
# Metrics the flows cannot reach, each with the filter whose line proves the message is logged.
NOT_DRIVEN = {"AuthorizationDenied": "AuthorizationCompleted"}


def conditions(pattern: str) -> list[tuple[str, str, str]]:
    """The ``{ $.a = "x" && $.b != "y" }`` subset of CloudWatch's JSON filter patterns the template uses."""
    body = pattern.strip()
    assert body.startswith("{") and body.endswith("}"), pattern
    parts = [part.strip() for part in body[1:-1].split("&&")]
    found = [CONDITION.fullmatch(part) for part in parts]
    assert all(found), f"pattern outside the supported subset: {pattern}"
    return [(m.group(1), m.group(2), m.group(3)) for m in found if m]


def matches(pattern: str, line: dict[str, Any]) -> bool:
    for field, operator, value in conditions(pattern):
        present = field in line and str(line[field]) == value
        if present != (operator == "="):
            return False
    return True


@pytest.fixture
def lines_by_log_group(monkeypatch, websocket_settings, api, issue, idp, aws):  # noqa: F811
    """Every JSON line each function wrote while all flows ran, by the log group it goes to."""
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    handler = powertools_logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    def logged(function: Any, function_name: str) -> Any:
        def invoke(event: Any, context: Any) -> Any:
            buffer = io.StringIO()
            with handler.lock:
                previous, handler.stream = handler.stream, buffer
            try:
                return function(event, context)
            finally:
                with handler.lock:
                    handler.stream = previous
                for text in buffer.getvalue().splitlines():
                    if text.startswith("{"):
                        by_group[LOG_GROUP_OF[function_name]].append(json.loads(text))

        return invoke

    level = powertools_logger.log_level
    powertools_logger.setLevel("INFO")  # the template's default LogLevel: the audit trail is on
    # Wrap each handler where the template points (whoever calls it: the API driver, the OIDC relying party...).
    handlers = {name: props["Handler"].rsplit(".", 1) for name, props in functions(TEMPLATE).items()}
    assert len({tuple(h) for h in handlers.values()}) == len(handlers), "a handler shared by two functions"
    for function_name, (module_name, attribute) in handlers.items():
        module = importlib.import_module(module_name)
        monkeypatch.setattr(module, attribute, logged(getattr(module, attribute), function_name))
    try:
        run_every_flow(api, issue, idp, aws)
    finally:
        powertools_logger.setLevel(level)
    return by_group


def test_the_template_counts_the_audited_transitions():
    metrics = {props["Properties"]["MetricTransformations"][0]["MetricName"] for props in FILTERS.values()}
    assert {"SessionIssued", "SessionScanned", "SessionConfirmed", "SessionRedeemed"} <= metrics
    for props in FILTERS.values():
        transform = props["Properties"]["MetricTransformations"][0]
        assert (transform["MetricNamespace"], transform["MetricValue"]) == ("qrlogin", "1")
        assert props["Properties"]["LogGroupName"]["Ref"] in set(LOG_GROUP_OF.values())
        conditions(props["Properties"]["FilterPattern"])  # parses


def test_every_metric_filter_matches_lines_its_log_group_really_gets(lines_by_log_group):
    # Given the lines every flow wrote, by log group
    counted: dict[str, int] = {}
    for name, props in FILTERS.items():
        properties = props["Properties"]
        metric = properties["MetricTransformations"][0]["MetricName"]
        lines = lines_by_log_group.get(properties["LogGroupName"]["Ref"], [])
        # When the filter's pattern is evaluated against its group's lines
        counted[name] = sum(matches(properties["FilterPattern"], line) for line in lines)
        # Then it counts the transition there, at INFO (no line of another level is counted)
        assert all(line.get("level") == "INFO" for line in lines if matches(properties["FilterPattern"], line))
        if metric not in NOT_DRIVEN:
            assert counted[name] >= 1, f"{name}: no {metric} line in {properties['LogGroupName']['Ref']}"
    # And a metric the flows do not reach shares its message with one they do
    for metric, sibling in NOT_DRIVEN.items():
        pattern = next(p["Properties"]["FilterPattern"] for p in FILTERS.values()
                       if p["Properties"]["MetricTransformations"][0]["MetricName"] == metric)
        sibling_pattern = next(p["Properties"]["FilterPattern"] for p in FILTERS.values()
                               if p["Properties"]["MetricTransformations"][0]["MetricName"] == sibling)
        assert conditions(pattern)[0] == conditions(sibling_pattern)[0]


def test_a_repeated_call_is_not_counted_again(lines_by_log_group):
    # The filters match the message exactly: "session scanned (repeat)" is not a second scan.
    repeat = {"level": "INFO", "message": "session scanned (repeat)"}
    scanned = next(p["Properties"]["FilterPattern"] for p in FILTERS.values()
                   if p["Properties"]["MetricTransformations"][0]["MetricName"] == "SessionScanned")
    assert not matches(scanned, repeat)
    assert matches(scanned, {"level": "INFO", "message": "session scanned"})


def test_the_functions_skip_the_emf_count_of_exactly_the_metrics_the_filters_count():
    # The audited names in the code are the template's filtered names: none counted twice, none lost
    filtered = {p["Properties"]["MetricTransformations"][0]["MetricName"] for p in FILTERS.values()}
    assert filtered == observability.AUDITED


@pytest.mark.parametrize(("level", "audited_as_emf"), [("INFO", False), ("DEBUG", False), ("WARNING", True)])
def test_an_audited_transition_is_an_emf_count_only_while_its_info_line_is_off(level, audited_as_emf):
    before = powertools_logger.log_level
    powertools_logger.setLevel(level)
    try:
        observability.metrics.clear_metrics()
        observability.count("SessionScanned")  # audited: a metric filter counts its INFO line
        observability.count("ConnectionGone")  # not audited (it has no INFO line): always EMF
        recorded = set(observability.metrics.metric_set)
    finally:
        observability.metrics.clear_metrics()
        powertools_logger.setLevel(before)
    assert "ConnectionGone" in recorded
    assert ("SessionScanned" in recorded) is audited_as_emf
