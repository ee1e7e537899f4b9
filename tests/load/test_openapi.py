"""openapi.yaml: the HTTP API as documented is the API as routed and as answered.

- Its paths and methods are exactly template.yaml's HttpApi routes.
- schemathesis generates requests from it (valid and invalid, a bounded number
  per operation) against the running local stack: no 5xx, and every answer's
  status, content type, headers and body are what the document says,
  error bodies included.
"""

from __future__ import annotations

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from localcloud.template import ROOT, http_routes, load_template

pytestmark = pytest.mark.load

SPEC_PATH = ROOT / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
OPERATIONS = sorted((method.upper(), path) for path, item in SPEC["paths"].items() for method in item
                    if method in METHODS)
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 15}


def has_inputs(method: str, path: str) -> bool:
    """Whether invalid requests can be made from the document (else negative mode has nothing to vary)."""
    item = SPEC["paths"][path]
    operation = item[method.lower()]
    return bool(item.get("parameters") or operation.get("parameters") or operation.get("requestBody")
                or operation.get("security"))


RUNS = [(method, path, mode) for method, path in OPERATIONS for mode in EXAMPLES
        if mode is GenerationMode.POSITIVE or has_inputs(method, path)]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def test_the_documented_paths_and_methods_are_the_templates_routes():
    routed = sorted((method, path) for method, path, _ in http_routes(load_template()))
    assert routed == OPERATIONS


def test_the_document_is_openapi_3_1_and_every_operation_documents_its_errors():
    assert SPEC["openapi"].startswith("3.1.")
    for method, path in OPERATIONS:
        responses = SPEC["paths"][path][method.lower()]["responses"]
        assert any(code.startswith("2") for code in responses), (method, path)
        assert "503" in responses, (method, path)  # any dependency may fail
        if "{session_id}" in path:
            assert "404" in responses, (method, path)


@pytest.fixture(scope="module")
def api_schema():
    return schemathesis.openapi.from_path(SPEC_PATH)


@pytest.mark.parametrize(("method", "path", "mode"), RUNS, ids=[f"{m} {p} {mode.value}" for m, p, mode in RUNS])
def test_generated_requests_get_documented_answers_and_no_5xx(api_schema, stack, method, path, mode):
    operation = api_schema[path][method]

    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def answered_as_documented(case):
        response = case.call(base_url=stack.base_url, timeout=20)
        case.validate_response(response, checks=CHECKS)

    answered_as_documented()
