"""Least privilege, proven: every AWS call a function makes is allowed by its own
policy in template.yaml, its policy allows nothing it never calls, and on the
one table it reaches only the kinds of item it uses.

Complete flows run through the real handlers against moto (mock_aws, no
sockets) while a recorder notes every botocore API call and which function's
handler was running.  Each call is mapped to the IAM request AWS would
authorize (action, resource, and the condition keys it carries: for a DynamoDB
item, ``dynamodb:LeadingKeys`` = its partition key) and checked against that
function's policy statements, conditions included, with the template's
intrinsics resolved to this test's real ARNs.

Item kinds are the prefixes of partition keys (``session#``, ``rate#``,
``signing-key``...).  A function owns the kinds its flows really touch; the
proof evaluates its policy against a key of every other kind and every item
action, and finds each one refused.  A function added to the template is in
the proof by itself; its flows go in ``privilege_flows.FLOWS``.
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
from localcloud.template import choose_branches, functions, load_template, parameter_values, resources_of_type
from qrlogin import deps
from tests.template.privilege_flows import FLOWS

pytestmark = pytest.mark.template

TEMPLATE = load_template()
FUNCTIONS = functions(TEMPLATE)
REGION = "us-east-1"
WEBSOCKET_API_ID = "wsapi12345"
STAGE = TEMPLATE["Mappings"]["Constants"]["WebSocket"]["StageName"]
CONNECTIONS_URL = f"https://{WEBSOCKET_API_ID}.execute-api.{REGION}.amazonaws.com/{STAGE}"
ORIGIN = "https://app.example.com"
((_TABLE, _TABLE_RESOURCE),) = resources_of_type(TEMPLATE, "AWS::DynamoDB::Table").items()
(PARTITION_KEY,) = [k["AttributeName"] for k in _TABLE_RESOURCE["Properties"]["KeySchema"] if k["KeyType"] == "HASH"]

# DynamoDB actions on items: each request names the item's partition key (dynamodb:LeadingKeys).
# Scan is not one: a request without keys satisfies any ForAllValues condition (the empty set).
ITEM_ACTIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem", "Query")

# A key of every kind of item in the table (the coordination board's prefixes). Kinds the flows
# touch join by themselves; this list makes sure kinds no flow of a function touches are tried too.
ITEM_KEYS = (
    "session#AAAAAAAAAAAAAAAAAAAAAA",
    "rate#198.51.100.7#29500000",
    "signing-key#ES256",
    "signing-key#RS256",
    "signing-key",
    "client#demo-client",
    "usercode#BCDFGHJK",
    "guess#user#alice#1",
    "guess#ip#198.51.100.7#1",
)


def item_kind(partition_key: str) -> str:
    return partition_key.split("#", 1)[0]

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


@dataclass(frozen=True)
class Request:
    """What IAM authorizes for one API call."""

    action: str
    resource: str
    # dynamodb:LeadingKeys: the partition key of the item an item action names; () for other calls.
    leading_keys: tuple[str, ...] = ()

    @property
    def context(self) -> dict[str, tuple[str, ...]]:
        return {"dynamodb:LeadingKeys": self.leading_keys} if self.leading_keys else {}


def iam_request(call: Call) -> Request:
    """The request AWS authorizes for one API call."""
    account = DEFAULT_ACCOUNT_ID
    if call.service == "dynamodb" and "TableName" in call.params:
        table = call.params["TableName"]
        arn = f"arn:aws:dynamodb:{call.region}:{account}:table/{table}"
        if call.operation not in ITEM_ACTIONS:
            return Request(f"dynamodb:{call.operation}", arn)
        assert call.operation != "Query", "teach iam_request the partition key of a Query's KeyConditionExpression"
        item = call.params.get("Key") or call.params["Item"]
        return Request(f"dynamodb:{call.operation}", arn, (item[PARTITION_KEY]["S"],))
    if call.service == "kms" and "KeyId" in call.params:
        key = call.params["KeyId"]
        assert key.startswith("arn:aws:kms:"), f"KMS call by key id/alias {key!r}: map it to the key ARN here"
        return Request(f"kms:{call.operation}", key)
    if call.service == "apigatewaymanagementapi" and call.operation in MANAGEMENT_METHODS:
        endpoint = urlparse(call.endpoint)
        api_id, stage = endpoint.hostname.split(".")[0], endpoint.path.strip("/")
        method = MANAGEMENT_METHODS[call.operation]
        return Request("execute-api:ManageConnections",
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
        **{f"{name}.Arn": arn for name, arn in aws_resources["key_arns"].items()},
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
    # The statement's Condition block ({operator: {key: values}}), as a hashable tuple; () for none.
    condition: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def leading_key_patterns(self) -> tuple[str, ...] | None:
        found = [values for _, key, values in self.condition if key == "dynamodb:LeadingKeys"]
        return found[0] if found else None


# Condition operators the proof evaluates (IAM's semantics); any other fails the proof by name.
CONDITION_OPERATORS = {"ForAllValues:StringLike", "ForAllValues:StringEquals", "StringLike", "StringEquals"}


def _condition(statement: dict[str, Any], function_name: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    found = []
    for operator, keys in statement.get("Condition", {}).items():
        assert operator in CONDITION_OPERATORS, f"{function_name}: teach the proof the condition operator {operator}"
        for key, values in keys.items():
            found.append((operator, key, tuple(values) if isinstance(values, list) else (values,)))
    return tuple(sorted(found))


def grants(function_name: str, resolve: Callable[[Any], Any]) -> list[Grant]:
    """Every (action, resource, condition) the function's inline policy statements allow."""
    found = []
    for policy in FUNCTIONS[function_name].get("Policies", []):
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, (
            f"{function_name}: only inline statements can be proven here, not {policy!r}")
        for statement in resolve(policy)["Statement"]:
            assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            condition = _condition(statement, function_name)
            found += [Grant(a, r, condition) for a in actions for r in resources]
    return found


def _glob(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$", flags)


def condition_holds(condition: tuple[tuple[str, str, tuple[str, ...]], ...],
                    context: dict[str, tuple[str, ...]]) -> bool:
    """IAM's evaluation of a Condition block against a request's context keys.

    ForAllValues: every value the request carries matches one of the condition's values; a
    request that carries none satisfies it (why ITEM_ACTIONS leaves Scan out). Without a
    qualifier: the request carries exactly one value and it matches.
    """
    for operator, key, values in condition:
        qualifier, _, test = operator.rpartition(":")
        if test == "StringLike":
            def match(value: str, values: tuple[str, ...] = values) -> bool:
                return any(_glob(pattern).match(value) for pattern in values)
        else:
            def match(value: str, values: tuple[str, ...] = values) -> bool:
                return value in values
        present = context.get(key, ())
        holds = all(match(v) for v in present) if qualifier == "ForAllValues" else (
            len(present) == 1 and match(present[0]))
        if not holds:
            return False
    return True


def allows(grant: Grant, request: Request) -> bool:
    # IAM: actions match case-insensitively, resources case-sensitively; both take * and ? wildcards.
    return bool(_glob(grant.action, re.IGNORECASE).match(request.action) and _glob(grant.resource).match(
        request.resource) and condition_holds(grant.condition, request.context))


def narrowed(grant: Grant) -> list[Grant]:
    """The grant once per dynamodb:LeadingKeys pattern it names (each must be used on its own)."""
    patterns = grant.leading_key_patterns
    if not patterns:
        return [grant]
    return [Grant(grant.action, grant.resource,
                  tuple((op, key, (pattern,) if key == "dynamodb:LeadingKeys" else values)
                        for op, key, values in grant.condition))
            for pattern in patterns]


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
    deps.reset()  # the redeem runs in another container: it reads the keys the JWKS request made (Decrypt)
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

    # Flows of functions added since (OIDC, device flow, ...): tests/template/privilege_flows.py.
    for flow in FLOWS:
        flow(api, issue, idp, aws)

    return {"table_name": table_name, "table_arn": table["TableArn"], "stream_arn": table["LatestStreamArn"],
            "key_arns": aws["key_arns"]}


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


@dataclass(frozen=True)
class Recorded:
    """What the flows of one SigningKeyMode called (plain data, kept for the module's other proofs)."""

    calls: list[Call]
    table_arn: str
    resources: dict[str, Any]


# The flows run once per SigningKeyMode; every proof of that mode reads the same record.
_RECORDED: dict[str, Recorded] = {}


@pytest.fixture
def proof(request, signing_mode) -> tuple[Recorded, Callable[[Any], Any]]:
    if signing_mode not in _RECORDED:
        request.getfixturevalue("websocket_settings")
        recorder = request.getfixturevalue("recorder")
        resources = run_every_flow(*(request.getfixturevalue(name) for name in ("api", "issue", "idp", "aws")))
        _RECORDED[signing_mode] = Recorded(list(recorder.calls), resources["table_arn"], resources)
    recorded = _RECORDED[signing_mode]
    return recorded, resolver(recorded.resources, signing_mode)


# -- the proofs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_every_call_is_allowed_by_the_function_policy(proof, function_name):
    recorder, resolve = proof
    # Given the function's own grants and the calls it made during every flow
    granted = grants(function_name, resolve)
    calls = [c for c in recorder.calls if c.function == function_name]
    assert calls, f"{function_name} made no AWS call in the flows: the proof would be empty"
    # Then each call is allowed by one of its grants, conditions included
    refused = sorted({iam_request(c) for c in calls if not any(allows(g, iam_request(c)) for g in granted)},
                     key=repr)
    assert refused == [], f"{function_name} would be refused these requests by its policy"


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
        # Item kinds too: each dynamodb:LeadingKeys pattern of a grant is used by some call.
        for part in narrowed(grant):
            if not any(allows(part, request) for request in requests):
                unused.append((part.action, part.resource, part.leading_key_patterns))
    assert unused == [], f"{function_name} is granted what none of its calls needs"


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_every_table_grant_names_the_item_kinds_it_reaches(proof, function_name):
    # Given the function's grants on the table itself (not its stream)
    recorder, resolve = proof
    on_table = [g for g in grants(function_name, resolve) if g.resource == recorder.table_arn]
    for grant in on_table:
        # Then each is an item action under a ForAllValues dynamodb:LeadingKeys condition: a Scan (or
        # any request without keys) would satisfy ForAllValues with the empty set and read every kind.
        assert grant.action.split(":", 1)[1] in ITEM_ACTIONS, f"{function_name}: {grant.action} is not item-level"
        operators = {op for op, key, _ in grant.condition if key == "dynamodb:LeadingKeys"}
        assert operators and operators <= {"ForAllValues:StringLike", "ForAllValues:StringEquals"}, (
            f"{function_name}: {grant.action} on the table without a ForAllValues dynamodb:LeadingKeys condition")


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_no_role_reaches_an_item_kind_it_does_not_use(proof, function_name):
    recorder, resolve = proof
    # Given the kinds of item the function really touched, and a key of every kind in the table
    requests = [iam_request(c) for c in recorder.calls]
    owned = {item_kind(k) for r, c in zip(requests, recorder.calls, strict=True) if c.function == function_name
             for k in r.leading_keys}
    every_key = set(ITEM_KEYS) | {k for r in requests for k in r.leading_keys}
    others = sorted(k for k in every_key if item_kind(k) not in owned)
    assert {item_kind(k) for k in others} >= {"signing-key"} - owned, "the proof must try the signing keys"

    # When its policy is asked for every item action on each key of another kind
    granted = grants(function_name, resolve)
    reached = [(action, key) for key in others for action in ITEM_ACTIONS
               if any(allows(g, Request(f"dynamodb:{action}", recorder.table_arn, (key,))) for g in granted)]

    # Then every one is refused
    assert reached == [], f"{function_name} (owns {sorted(owned)}) could reach items of other kinds"


def test_only_the_signing_path_can_replace_a_published_key(proof, signing_mode):
    recorder, resolve = proof
    # Given the functions that really sign (KMS Sign, or Decrypt of an envelope key)
    signers = {c.function for c in recorder.calls if c.service == "kms" and c.operation in ("Sign", "Decrypt")}
    assert "StatusFunction" in signers
    # When each role is asked to write a keyring item (or the pre-keyring key item)
    writes = [Request(f"dynamodb:{action}", recorder.table_arn, (key,))
              for key in ("signing-key#ES256", "signing-key#RS256", "signing-key")
              for action in ("PutItem", "UpdateItem", "DeleteItem")]
    writers = {name for name in FUNCTIONS if any(allows(g, w) for g in grants(name, resolve) for w in writes)}
    # Then only signers may: no internet-facing function that does not sign can publish a key of its own
    assert writers and writers <= signers, f"{sorted(writers - signers)} could replace the published key"


def test_the_recorder_sees_calls_and_their_functions(proof, signing_mode):
    # The proof depends on the recorder; a flow's known calls must be in it.
    recorder, _ = proof
    seen = {(c.function, c.service, c.operation) for c in recorder.calls}
    signing = ({("StatusFunction", "kms", "GetPublicKey"), ("StatusFunction", "kms", "Sign")} if signing_mode == "kms"
               else {("StatusFunction", "kms", "Encrypt"), ("StatusFunction", "kms", "Decrypt")})
    assert {("IssueFunction", "dynamodb", "PutItem"), ("NotifierFunction", "dynamodb", "UpdateItem"),
            ("StatusFunction", "dynamodb", "PutItem"),
            ("NotifierFunction", "apigatewaymanagementapi", "PostToConnection")} | signing <= seen
    keys = {k for c in recorder.calls for k in iam_request(c).leading_keys}
    assert {"signing-key#ES256", "signing-key#RS256", "signing-key"} <= keys


def test_the_grants_resolve_to_this_test_arns(proof):
    # Given the notifier's grants resolved  Then they name this table, stream and WebSocket API, no placeholders
    _, resolve = proof
    resources = {g.resource for g in grants("NotifierFunction", resolve)}
    assert any(r.endswith(f":{WEBSOCKET_API_ID}/{STAGE}/POST/@connections/*") for r in resources), resources
    assert not [r for r in resources if "${" in r or not r.startswith("arn:aws:")], resources


def test_iam_request_maps_the_management_api_to_manage_connections():
    call = Call("NotifierFunction", "apigatewaymanagementapi", "PostToConnection", {"ConnectionId": "abc="},
                REGION, CONNECTIONS_URL)
    assert iam_request(call) == Request("execute-api:ManageConnections",
                                        f"arn:aws:execute-api:{REGION}:{DEFAULT_ACCOUNT_ID}:{WEBSOCKET_API_ID}/"
                                        f"{STAGE}/POST/@connections/abc=")


def test_iam_request_names_the_item_a_dynamodb_call_reaches():
    table = f"arn:aws:dynamodb:{REGION}:{DEFAULT_ACCOUNT_ID}:table/t"
    get = Call("StatusFunction", "dynamodb", "GetItem", {"TableName": "t", "Key": {"pk": {"S": "signing-key#ES256"}}},
               REGION, "")
    put = Call("IssueFunction", "dynamodb", "PutItem", {"TableName": "t", "Item": {"pk": {"S": "session#x"}}},
               REGION, "")
    assert iam_request(get) == Request("dynamodb:GetItem", table, ("signing-key#ES256",))
    assert iam_request(put).context == {"dynamodb:LeadingKeys": ("session#x",)}


def test_allows_honours_wildcards_and_case():
    grant = Grant("dynamodb:UpdateItem", "arn:aws:dynamodb:us-east-1:1:table/t")
    assert allows(grant, Request("DynamoDB:updateitem", "arn:aws:dynamodb:us-east-1:1:table/t"))
    assert not allows(grant, Request("dynamodb:UpdateItem", "arn:aws:dynamodb:us-east-1:1:table/T"))
    assert not allows(grant, Request("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:1:table/t"))
    assert allows(Grant("execute-api:ManageConnections", "arn:x/live/POST/@connections/*"),
                  Request("execute-api:ManageConnections", "arn:x/live/POST/@connections/abc"))
    assert not allows(Grant("execute-api:ManageConnections", "arn:x/live/POST/@connections/*"),
                      Request("execute-api:ManageConnections", "arn:x/live/DELETE/@connections/abc"))


LIKE = (("ForAllValues:StringLike", "dynamodb:LeadingKeys", ("session#*", "rate#*")),)


@pytest.mark.parametrize(("keys", "expected"), [
    (("session#abc",), True),
    (("rate#198.51.100.7#1",), True),
    (("signing-key#ES256",), False),
    (("signing-key",), False),
    (("Session#abc",), False),               # StringLike is case-sensitive
    (("xsession#abc",), False),              # anchored at the start
    (("session#abc", "signing-key"), False),  # ForAllValues: every key must match
    ((), True),                              # ... and no key at all satisfies it: why Scan is never granted
])
def test_leading_keys_conditions_are_evaluated_as_iam_does(keys, expected):
    context = {"dynamodb:LeadingKeys": keys} if keys else {}
    assert condition_holds(LIKE, context) is expected


def test_equals_and_single_valued_operators():
    equals = (("ForAllValues:StringEquals", "dynamodb:LeadingKeys", ("session#*",)),)
    assert not condition_holds(equals, {"dynamodb:LeadingKeys": ("session#abc",)})  # no wildcards in Equals
    assert condition_holds(equals, {"dynamodb:LeadingKeys": ("session#*",)})
    single = (("StringLike", "dynamodb:LeadingKeys", ("session#*",)),)
    assert condition_holds(single, {"dynamodb:LeadingKeys": ("session#a",)})
    assert not condition_holds(single, {})  # without ForAllValues, a missing key fails the condition


def test_a_grant_with_several_kinds_is_used_kind_by_kind():
    grant = Grant("dynamodb:GetItem", "arn:t", LIKE)
    parts = narrowed(grant)
    assert [p.leading_key_patterns for p in parts] == [("session#*",), ("rate#*",)]
    assert allows(parts[0], Request("dynamodb:GetItem", "arn:t", ("session#a",)))
    assert not allows(parts[0], Request("dynamodb:GetItem", "arn:t", ("rate#a",)))


def test_an_unknown_condition_operator_fails_the_proof_by_name():
    with pytest.raises(AssertionError, match="NumericLessThan"):
        _condition({"Condition": {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}}, "F")
