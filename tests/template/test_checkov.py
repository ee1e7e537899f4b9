"""checkov (pinned in requirements-checkov.txt, its own venv .venv-checkov) on template.yaml.

Every framework that applies runs: CloudFormation's checks, and the secrets
scan (a key or password written into the template fails it).  No check
fails; a check that does not apply to this design is skipped in the
resource's own ``Metadata`` (``checkov: skip: [{id, comment}]``) with its
reason, so a reader of the template sees why.  The checks the design does
need (access logs on both APIs, an encrypted on-failure queue) pass outright.
A resource added later that fails a check makes the first test name it.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from typing import Any

import pytest

from localcloud.template import ROOT, TEMPLATE_PATH, choose_branches, load_template, parameter_values

pytestmark = pytest.mark.template

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
# A reason says why, not just "n/a".
MIN_REASON_LENGTH = 30


@cache
def checkov_reports() -> dict[str, dict[str, Any]]:
    """checkov's JSON reports of template.yaml by framework (cloudformation, and secrets if it finds any),
    every framework that applies to the file; no download: the scan is local and offline."""
    stamp = CHECKOV.parent.parent / ".installed"
    if not (CHECKOV.exists() and stamp.exists()):
        result = subprocess.run(["make", "checkov"], cwd=ROOT, capture_output=True, text=True, timeout=900,
                                check=False)
        assert result.returncode == 0 and CHECKOV.exists(), f"`make checkov` failed:\n{result.stderr[-2000:]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BC_", "PRISMA_"))}
    result = subprocess.run(
        [str(CHECKOV), "--file", str(TEMPLATE_PATH), "--skip-download", "--compact", "--output", "json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode in (0, 1), result.stderr[-4000:]  # 1: some check failed (the tests say which)
    reports = json.loads(result.stdout)
    return {report["check_type"]: report for report in (reports if isinstance(reports, list) else [reports])}


def results(kind: str) -> list[dict[str, Any]]:
    return [result for report in checkov_reports().values() for result in report.get("results", {}).get(kind, [])]


def test_checkov_read_the_whole_template():
    summary = checkov_reports()["cloudformation"]["summary"]
    assert summary["checkov_version"] == "3.3.30"  # the pinned one
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] == len(load_template()["Resources"])


def test_no_checkov_check_fails():
    failed = [f"{r['check_id']} on {r['resource']}: {r['check_name']} (add the fix, or a Metadata skip with its "
              "reason as on the resources next to it)" for r in results("failed_checks")]
    assert not failed, "\n".join(failed)


def test_every_skip_is_in_the_resources_metadata_with_its_reason():
    # Given every skip the template declares
    declared = {}
    for name, resource in load_template()["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert set(skip) == {"id", "comment"}, f"{name}: {skip}"
            assert len(skip["comment"].strip()) >= MIN_REASON_LENGTH, f"{name} skips {skip['id']} without a reason"
            declared[(skip["id"], name)] = skip["comment"]

    # Then checkov skipped exactly those, and nothing else (no skip from a command line or a config file)
    skipped = {(r["check_id"], r["resource"].split(".", 1)[1]): r.get("check_result", {}).get("suppress_comment")
               for r in results("skipped_checks")}
    assert set(skipped) == set(declared)
    assert all(skipped[key] == declared[key] for key in skipped)


@pytest.mark.parametrize(("check", "resource"), [
    ("CKV_AWS_95", "AWS::Serverless::HttpApi.HttpApi"),
    ("CKV_AWS_95", "AWS::ApiGatewayV2::Stage.WebSocketStage"),
    ("CKV_AWS_27", "AWS::SQS::Queue.NotifierFailureQueue"),
])
def test_the_checks_that_apply_pass_outright(check, resource):
    # Access logs on both APIs, server-side encryption of the on-failure queue (issue 11): passed, not skipped
    assert (check, resource) in {(r["check_id"], r["resource"]) for r in results("passed_checks")}


@pytest.mark.parametrize(("mode", "rotates"), [("envelope", True), ("kms", False)])
def test_the_symmetric_signing_key_rotates(mode, rotates):
    # checkov cannot read the !If (its skip says so): the template itself, resolved per mode.
    # Envelope mode's key is symmetric and rotates yearly; kms mode's is asymmetric, which KMS cannot rotate.
    template = load_template()
    key = choose_branches(template, template["Resources"]["SigningKey"]["Properties"],
                          parameter_values(template, {"SigningKeyMode": mode}))
    assert key["EnableKeyRotation"] is rotates
    assert (key["KeySpec"] == "SYMMETRIC_DEFAULT") is rotates


def test_access_log_formats_name_no_path_query_or_header():
    # Secrets travel in headers and bodies; paths carry session ids: none of them is logged
    resources = load_template()["Resources"]
    formats = [resources["HttpApi"]["Properties"]["AccessLogSettings"]["Format"],
               resources["WebSocketStage"]["Properties"]["AccessLogSettings"]["Format"]]
    for log_format in formats:
        fields = json.loads(log_format)  # each line is JSON
        variables = set(fields.values())
        assert "$context.requestId" in variables and "$context.status" in variables
        for forbidden in ("path", "querystring", "header", "authorizer", "body", "integrationErrorMessage"):
            assert not any(forbidden.lower() in variable.lower() for variable in variables), forbidden
