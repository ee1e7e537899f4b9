"""Least privilege, proven: every AWS call a function makes is allowed by its own
policy in template.yaml, and its policy allows nothing it never calls.

Complete flows run through the real handlers against moto (mock_aws, no
sockets) while a recorder notes every botocore API call and which function's
handler was running.  Each call is mapped to the IAM action and resource AWS
would authorize, and checked against that function's policy statements with
the template's intrinsics resolved to this test's real ARNs.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import botocore.client
import pytest
from botocore.stub import ANY, Stubber
from moto.core import DEFAULT_ACCOUNT_ID

from localcloud.events import LambdaContext, stream_record
from localcloud.template import choose_branches, functions, load_template, parameter_values
from qrlogin import deps

pytestmark = pytest.mark.template

TEMPLATE = load_template()
FUNCTIONS = functions(TEMPLATE)
REGION = "us-east-1"
WEBSOCKET_API_ID = "wsapi12345"
STAGE = TEMPLATE["Mappings"]["Constants"]["WebSocket"]["StageName"]
CONNECTIONS_URL = f"https://{WEBSOCKET_API_ID}.execute-api.{REGION}.amazonaws.com/{STAGE}"
ORIGIN = "https://app.example.com"

# Granted to a function's role but called by Lambda itself, not by our code:
# the DynamoDB stream event source mapping reads the stream with the notifier's
# role, and sends records it gives up on to the on-failure queue with it.
CALLED_BY_LAMBDA = {
    "NotifierFunction": {
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "sqs:SendMessage",
    },
}

# -- the recorder ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    function: str
    service: str
    operation: str
    params: dict[str, Any]
    region: str
    endpoint: str


@dataclass
class Recorder:
    """Every botocore API call made while a handler runs, attributed to that handler's function."""

    calls: list[Call] = field(default_factory=list)
    current: str | None = None

    def wrap(self, function_name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(event: Any, context: Any) -> Any:
            self.current = function_name
            try:
                return handler(event, context)
            finally:
                self.current = None

        return recorded


@pytest.fixture
def recorder(aws, monkeypatch) -> Recorder:
    recorder = Recorder()
    real_call = botocore.client.BaseClient._make_api_call

    def make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        # Recorded before it runs: a refused call counts as much as an answered one.
        if recorder.current is not None:
            recorder.calls.append(Call(recorder.current, client.meta.service_model.service_name, operation_name,
                                       dict(api_params), client.meta.region_name, client.meta.endpoint_url))
        return real_call(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
    for name, props in FUNCTIONS.items():
        module_name, attribute = props["Handler"].rsplit(".", 1)
        module = importlib.import_module(module_name)
        monkeypatch.setattr(module, attribute, recorder.wrap(name, getattr(module, attribute)))
    return recorder


# -- calls to IAM requests --------------------------------------------------------------------

# The Management API's operations, by the HTTP method IAM puts in the resource.
MANAGEMENT_METHODS = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}


def iam_request(call: Call) -> tuple[str, str]:
    """(action, resource ARN) that AWS authorizes for one API call."""
    account = DEFAULT_ACCOUNT_ID
    if call.service == "dynamodb" and "TableName" in call.params:
        table = call.params["TableName"]
        return f"dynamodb:{call.operation}", f"arn:aws:dynamodb:{call.region}:{account}:table/{table}"
    if call.service == "kms" and "KeyId" in call.params:
        key = call.params["KeyId"]
        assert key.startswith("arn:aws:kms:"), f"KMS call by key id/alias {key!r}: map it to the key ARN here"
        return f"kms:{call.operation}", key
    if call.service == "apigatewaymanagementapi" and call.operation in MANAGEMENT_METHODS:
        endpoint = urlparse(call.endpoint)
        api_id, stage = endpoint.hostname.split(".")[0], endpoint.path.strip("/")
        method = MANAGEMENT_METHODS[call.operation]
        return ("execute-api:ManageConnections",
                f"arn:aws:execute-api:{call.region}:{account}:{api_id}/{stage}/{method}/@connections/"
                f"{call.params['ConnectionId']}")
    raise AssertionError(f"{call.function} calls {call.service}.{call.operation}: teach iam_request its IAM action")


# -- the template's policies, resolved ------------------------------------------------------


def resolver(aws_resources: dict[str, Any], signing_mode: str) -> Callable[[Any], Any]:
    """Resolves Fn::If (for this SigningKeyMode), Ref, Fn::GetAtt, Fn::Sub and Fn::FindInMap to this
    test's real names and ARNs."""
    parameters = parameter_values(TEMPLATE, {"SigningKeyMode": signing_mode})
    account = DEFAULT_ACCOUNT_ID
    pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": account,
              "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "qrlogin"}
    refs = {"SessionsTable": aws_resources["table_name"], "WebSocketApi": WEBSOCKET_API_ID}
    attributes = {
        "SessionsTable.Arn": aws_resources["table_arn"],
        "SessionsTable.StreamArn": aws_resources["stream_arn"],
        "SigningKey.Arn": aws_resources["key_arn"],
        "NotifierFailureQueue.Arn": f"arn:aws:sqs:{REGION}:{account}:qrlogin-NotifierFailureQueue",
    }

    def variable(name: str, extra: dict[str, Any]) -> str:
        for table in (extra, pseudo, refs, attributes):
            if name in table:
                return str(table[name])
        raise AssertionError(f"cannot resolve ${{{name}}}: add it to the test's resolver")

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: resolve(v) for k, v in value.items()}
        ((kind, argument),) = value.items()
        if kind == "Ref":
            return variable(argument, {})
        if kind == "Fn::GetAtt":
            return variable(".".join(argument), {})
        if kind == "Fn::FindInMap":
            mapping, first, second = (resolve(a) for a in argument)
            return TEMPLATE["Mappings"][mapping][first][second]
        if kind == "Fn::Sub":
            text, extra = (argument, {}) if isinstance(argument, str) else (argument[0], resolve(argument[1]))
            return re.sub(r"\$\{([^}!]+)\}", lambda m: variable(m.group(1), extra), text)
        return {kind: resolve(argument)}

    return lambda value: resolve(choose_branches(TEMPLATE, value, parameters))


@dataclass(frozen=True)
class Grant:
    action: str
    resource: str


def grants(function_name: str, resolve: Callable[[Any], Any]) -> list[Grant]:
    """Every (action, resource) the function's inline policy statements allow."""
    found = []
    for policy in FUNCTIONS[function_name].get("Policies", []):
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, (
            f"{function_name}: only inline statements can be proven here, not {policy!r}")
        for statement in resolve(policy)["Statement"]:
            assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            found += [Grant(a, r) for a in actions for r in resources]
    return found


def _glob(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$", flags)


def allows(grant: Grant, action: str, resource: str) -> bool:
    # IAM: actions match case-insensitively, resources case-sensitively; both take * and ? wildcards.
    return bool(_glob(grant.action, re.IGNORECASE).match(action) and _glob(grant.resource).match(resource))


# -- the flows ---------------------------------------------------------------------------------


def stream_event(aws: dict[str, Any], table_name: str, session_id: str, stream_arn: str) -> dict[str, Any]:
    """The stream record of the session's latest write, as Lambda hands it to the notifier."""
    key = {"pk": {"S": f"session#{session_id}"}}
    item = aws["dynamodb"].get_item(TableName=table_name, Key=key, ConsistentRead=True)["Item"]
    raw = {"eventName": "MODIFY", "dynamodb": {"Keys": key, "NewImage": item, "StreamViewType": "NEW_IMAGE",
                                                "SequenceNumber": "1", "SizeBytes": 100}}
    return {"Records": [stream_record(raw, stream_arn)]}


def run_every_flow(api, issue, idp, aws) -> dict[str, Any]:
    """Issue, JWKS, scan/confirm/deny, status/token/cancel, WebSocket routes, notifier push and 410."""
    table_name = deps.store().table_name
    table = aws["dynamodb"].describe_table(TableName=table_name)["Table"]
    alice = idp.mint("alice", "Alice")
    ws_headers = {"Origin": ORIGIN}

    # Browser and phone over HTTP: a login to the end, a denied one, a cancelled one.
    login, denied, cancelled = issue(), issue(), issue()
    assert api.http("GET", "/.well-known/jwks.json").status == 200
    assert api.http("POST", f"/sessions/{login.session_id}/scan", token=alice).status == 200
    assert api.http("POST", f"/sessions/{login.session_id}/confirm", token=alice).status == 200
    assert api.http("GET", f"/sessions/{login.session_id}", token=login.browser_token).status == 200
    assert api.http("POST", f"/sessions/{login.session_id}/token", token=login.browser_token).status == 200
    assert api.http("POST", f"/sessions/{denied.session_id}/deny", token=alice).status == 200
    assert api.http("DELETE", f"/sessions/{cancelled.session_id}", token=cancelled.browser_token).status == 204

    # Typed codes (DESIGN §8): the page mints one, the phone resolves it, and a wrong one is counted.
    typed = issue()
    code = api.http("POST", f"/sessions/{typed.session_id}/user_code", token=typed.browser_token).body["user_code"]
    assert api.http("POST", "/sessions/lookup", token=alice, body={"user_code": code}).status == 200
    assert api.http("POST", "/sessions/lookup", token=alice, body={"user_code": "BBBB-BBBB"}).status == 404

    # The WebSocket routes, then the notifier pushing to a live connection (moto's Management API)...
    watched = issue()
    live, gone = api.new_connection(), api.new_connection()
    assert api.ws("$connect", connection_id=live, headers=ws_headers)["statusCode"] == 200
    subscribe = {"action": "subscribe", "session_id": watched.session_id, "browser_token": watched.browser_token}
    assert json.loads(api.ws("subscribe", connection_id=live, body=subscribe)["body"])["type"] == "status"
    assert json.loads(api.ws("ping", connection_id=live, body={"action": "ping"})["body"]) == {"type": "pong"}
    assert json.loads(api.ws("$default", connection_id=live, body="hello")["body"])["type"] == "error"
    assert api.http("POST", f"/sessions/{watched.session_id}/scan", token=alice).status == 200
    notifier = handler_for("NotifierFunction")
    pushed = notifier(stream_event(aws, table_name, watched.session_id, table["LatestStreamArn"]),
                      LambdaContext("NotifierFunction"))
    assert pushed == {"batchItemFailures": []}

    # ... and to a connection API Gateway says is gone (410): the notifier detaches it.
    assert json.loads(api.ws("subscribe", connection_id=gone, body=subscribe)["body"])["type"] == "status"
    assert api.http("POST", f"/sessions/{watched.session_id}/confirm", token=alice).status == 200
    event = stream_event(aws, table_name, watched.session_id, table["LatestStreamArn"])
    with Stubber(deps.connections()) as management:
        for connection_id in sorted([live, gone]):  # the notifier posts in this order
            if connection_id == gone:
                management.add_client_error("post_to_connection", service_error_code="GoneException",
                                            http_status_code=410, expected_params={"ConnectionId": gone,
                                                                                   "Data": ANY})
            else:
                management.add_response("post_to_connection", {}, {"ConnectionId": live, "Data": ANY})
        assert notifier(event, LambdaContext("NotifierFunction")) == {"batchItemFailures": []}
        management.assert_no_pending_responses()
    key = {"pk": {"S": f"session#{watched.session_id}"}}
    connections = aws["dynamodb"].get_item(TableName=table_name, Key=key)["Item"]["connections"]["SS"]
    assert connections == [live]
    assert api.ws("$disconnect", connection_id=live)["statusCode"] == 200

    return {"table_name": table_name, "table_arn": table["TableArn"], "stream_arn": table["LatestStreamArn"],
            "key_arn": aws["key_arn"]}


def handler_for(function_name: str) -> Callable[..., Any]:
    module_name, attribute = FUNCTIONS[function_name]["Handler"].rsplit(".", 1)
    return getattr(importlib.import_module(module_name), attribute)


@pytest.fixture
def websocket_settings(settings_env, monkeypatch):
    # The Management API endpoint as the template builds it (CONNECTIONS_URL), with a known API id.
    monkeypatch.setenv("CONNECTIONS_URL", CONNECTIONS_URL)
    deps.reset()


@pytest.fixture(params=["envelope", "kms"])
def signing_mode(request) -> str:
    """Each proof runs in both SigningKeyModes: their policies differ (Fn::If)."""
    return request.param


@pytest.fixture
def proof(websocket_settings, recorder, api, issue, idp, aws, signing_mode) -> tuple[Recorder, Callable[[Any], Any]]:
    resources = run_every_flow(api, issue, idp, aws)
    return recorder, resolver(resources, signing_mode)


# -- the proofs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_every_call_is_allowed_by_the_function_policy(proof, function_name):
    recorder, resolve = proof
    # Given the function's own grants and the calls it made during every flow
    granted = grants(function_name, resolve)
    calls = [c for c in recorder.calls if c.function == function_name]
    assert calls, f"{function_name} made no AWS call in the flows: the proof would be empty"
    # Then each call is allowed by one of its grants
    refused = sorted({iam_request(c) for c in calls if not any(allows(g, *iam_request(c)) for g in granted)})
    assert refused == [], f"{function_name} would be refused these (action, resource) by its policy"


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_the_function_policy_grants_nothing_it_never_uses(proof, function_name):
    recorder, resolve = proof
    requests = {iam_request(c) for c in recorder.calls if c.function == function_name}
    unused = []
    for grant in grants(function_name, resolve):
        assert grant.resource != "*", f"{function_name}: {grant.action} on every resource"
        assert "*" not in grant.action, f"{function_name}: wildcard action {grant.action}"
        if grant.action in CALLED_BY_LAMBDA.get(function_name, set()):
            continue
        if not any(allows(grant, action, resource) for action, resource in requests):
            unused.append((grant.action, grant.resource))
    assert unused == [], f"{function_name} is granted what none of its calls needs"


def test_the_recorder_sees_calls_and_their_functions(proof, signing_mode):
    # The proof depends on the recorder; a flow's known calls must be in it.
    recorder, _ = proof
    seen = {(c.function, c.service, c.operation) for c in recorder.calls}
    signing = ({("IssueFunction", "kms", "GetPublicKey"), ("StatusFunction", "kms", "Sign")} if signing_mode == "kms"
               else {("IssueFunction", "dynamodb", "GetItem"), ("StatusFunction", "kms", "Encrypt"),
                     ("StatusFunction", "kms", "Decrypt")})
    assert {("IssueFunction", "dynamodb", "PutItem"), ("NotifierFunction", "dynamodb", "UpdateItem"),
            ("NotifierFunction", "apigatewaymanagementapi", "PostToConnection")} | signing <= seen


def test_the_grants_resolve_to_this_test_arns(proof):
    # Given the notifier's grants resolved  Then they name this table, stream and WebSocket API, no placeholders
    _, resolve = proof
    resources = {g.resource for g in grants("NotifierFunction", resolve)}
    assert any(r.endswith(f":{WEBSOCKET_API_ID}/{STAGE}/POST/@connections/*") for r in resources), resources
    assert not [r for r in resources if "${" in r or not r.startswith("arn:aws:")], resources


def test_iam_request_maps_the_management_api_to_manage_connections():
    call = Call("NotifierFunction", "apigatewaymanagementapi", "PostToConnection", {"ConnectionId": "abc="},
                REGION, CONNECTIONS_URL)
    assert iam_request(call) == ("execute-api:ManageConnections",
                                 f"arn:aws:execute-api:{REGION}:{DEFAULT_ACCOUNT_ID}:{WEBSOCKET_API_ID}/{STAGE}"
                                 "/POST/@connections/abc=")


def test_allows_honours_wildcards_and_case():
    grant = Grant("dynamodb:UpdateItem", "arn:aws:dynamodb:us-east-1:1:table/t")
    assert allows(grant, "DynamoDB:updateitem", "arn:aws:dynamodb:us-east-1:1:table/t")
    assert not allows(grant, "dynamodb:UpdateItem", "arn:aws:dynamodb:us-east-1:1:table/T")
    assert not allows(grant, "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:1:table/t")
    assert allows(Grant("execute-api:ManageConnections", "arn:x/live/POST/@connections/*"),
                  "execute-api:ManageConnections", "arn:x/live/POST/@connections/abc")
    assert not allows(Grant("execute-api:ManageConnections", "arn:x/live/POST/@connections/*"),
                      "execute-api:ManageConnections", "arn:x/live/DELETE/@connections/abc")

