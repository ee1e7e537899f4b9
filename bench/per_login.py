"""Per-login resource use, counted during complete logins, and what a million logins cost.

Each login runs every step a real one takes, in-process against moto
(``mock_aws``), through the handlers named in template.yaml with real event
shapes: the browser's POST /sessions, WebSocket $connect and subscribe; the
phone's scan and confirm; the stream notifier fed with the records moto's
DynamoDB stream really produced that pass the template's FilterCriteria
(``localcloud.filters``), one invocation per step as at human pace; the
browser's redeem and $disconnect (if the template routes it).

Counted, not estimated: AWS calls and DynamoDB units (``bench.recorder``),
invocations per function, HTTP requests, WebSocket messages in and out, and
the bytes each invocation writes to its log.  Assumed, and said so in the
output: how long a login keeps its WebSocket open (billed per started
minute), the latency of each AWS call on AWS (moto answers in-process), and
Lambda's CPU share at the configured memory (1 vCPU at 1,769 MB).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from bench import pricing
from bench.environment import (
    BROWSER_UA,
    TEMPLATE,
    context,
    handler,
    http_request_event,
    identity_provider,
    mocked_aws,
    ws_event,
)
from bench.recorder import Call, Recorder, installed
from bench.scenarios import COLD_START_FUNCTIONS as ALL_FUNCTIONS
from localcloud.events import new_connection_id, stream_record
from localcloud.filters import record_matches
from localcloud.poller import stream_mapping
from localcloud.template import functions, resources_of_type

LOGINS = int(os.environ.get("BENCH_LOGINS", "30"))
WARMUP = 2  # the first logins pay imports and client creation; their timings are left out
# moto serves the Management API on execute-api hosts, as API Gateway does.
CONNECTIONS_URL = "https://b3nchws001.execute-api.us-east-1.amazonaws.com/live"
MOTO_ACCOUNT = "123456789012"

# -- assumptions (not measurable here) ---------------------------------------
# A device login's polls answered authorization_pending: the user takes about 25 s to scan and approve,
# polled at the default interval of 5 s (DevicePollIntervalSeconds).
DEVICE_PENDING_POLLS = 5
# A browser keeps its socket from showing the QR to redeeming: a scan and a tap,
# well under a minute; API Gateway bills connection time per started minute.
CONNECTION_MINUTES_PER_LOGIN = 1
# p50 latency of each call on AWS, in-region over a kept-alive connection; moto
# answers in-process, so these replace the time moto took in the duration figures.
AWS_CALL_MS = {"dynamodb": 5.0, "kms": 10.0, "apigatewaymanagementapi": 20.0}
# Lambda allocates CPU in proportion to memory: one vCPU at 1,769 MB.
FULL_VCPU_MB = 1769
# CloudWatch Logs counts 26 bytes of overhead per log event (one line = one event).
LOG_EVENT_OVERHEAD = 26
WS_MESSAGE_UNIT = 32 * 1024
HTTP_REQUEST_UNIT = 512 * 1024


@dataclass
class Invocation:
    function: str  # short name: IssueFunction -> issue
    route: str
    wall_ms: float
    cpu_ms: float
    calls: list[Call]
    log_bytes: int
    log_lines: int
    response: Any = None
    log_kinds: Counter[str] = field(default_factory=Counter)  # billable bytes by kind of line

    @property
    def aws_ms(self) -> float:
        """Time inside botocore calls (moto) and the recorder's sizing: not the handler's own."""
        return sum(c.seconds + c.overhead_seconds for c in self.calls) * 1000

    @property
    def own_cpu_ms(self) -> float:
        """CPU time of the handler's own code: this thread's CPU less what moto and the recorder used.

        CPU time, not wall time: on a busy shared machine wall time also counts
        waiting for a core, which Lambda's duration would not.
        """
        return max(0.0, self.cpu_ms - sum(c.cpu_seconds for c in self.calls) * 1000)


@dataclass
class Login:
    invocations: list[Invocation] = field(default_factory=list)
    http_requests: int = 0
    http_units: int = 0
    ws_in: int = 0
    ws_out: int = 0
    ws_units: int = 0
    access_log_bytes: int = 0  # API Gateway access log lines (both stages), with CloudWatch's per-event overhead


@contextmanager
def captured_output() -> Iterator[list[bytes]]:
    """What the block writes to file descriptors 1 and 2 (where Lambda collects logs)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    captured: list[bytes] = []
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            captured.append(sink.read())


# Every function of the template by short name (IssueFunction -> issue, OidcTokenFunction -> oidctoken).
_SHORT = {logical: short for short, logical in ALL_FUNCTIONS.items()}
OIDC_CALLBACK = "https://rp.example.com/callback"
WEBSOCKET_ROUTES = {route["Properties"]["RouteKey"]
                    for route in resources_of_type(TEMPLATE, "AWS::ApiGatewayV2::Route").values()}


class LoginDriver:
    """Drives complete logins through the handlers and records what each step costs."""

    def __init__(self, recorder: Recorder, streams: Any, stream_arn: str, phone_token: str) -> None:
        self.recorder = recorder
        self.streams = streams
        self.stream_arn = stream_arn
        self.phone_token = phone_token
        self.mapping = stream_mapping(TEMPLATE, "SessionsTable")
        description = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
        self.iterators = {
            shard["ShardId"]: streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                                         ShardIteratorType="LATEST")["ShardIterator"]
            for shard in description["Shards"]
        }
        self.login = Login()
        self.logins = 0
        self.source_ip = "2001:db8::"

    def invoke(self, logical_id: str, event: dict[str, Any], route: str) -> Any:
        function = handler(logical_id)
        with captured_output() as output, self.recorder.recording() as calls:
            started, cpu_started = time.perf_counter(), time.thread_time()
            response = function(event, context(logical_id))
            wall, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
        log = output[0]
        invocation = Invocation(_SHORT[logical_id], route, wall * 1000, cpu * 1000, calls,
                                len(log), log.count(b"\n"), response)
        for line in log.splitlines():
            kind = "metrics (EMF)" if line.startswith(b'{"_aws"') else (
                "application log" if line.startswith(b'{"level"') else "other output")
            invocation.log_kinds[kind] += len(line) + 1 + LOG_EVENT_OVERHEAD
        if PLATFORM_LOG_LINES:
            invocation.log_kinds["Lambda START/END/REPORT"] += platform_log_bytes(invocation)
        self.login.invocations.append(invocation)
        return response

    def http(self, method: str, path: str, *, token: str | None = None) -> tuple[int, Any]:
        """A JSON route of the browser or the phone: (status, parsed body)."""
        response = self.request(method, path, token=token, user_agent=BROWSER_UA)
        body = response.get("body")
        return response["statusCode"], json.loads(body) if body else None

    def ws(self, route_key: str, connection_id: str, body: Any = None) -> Any:
        if route_key not in WEBSOCKET_ROUTES:  # API Gateway invokes nothing for a route the API lacks
            return {"statusCode": 200}
        event = ws_event(route_key, connection_id, body)
        response = self.invoke("WebSocketFunction", event, route_key)
        self.login.access_log_bytes += access_log_line("WebSocketStage", event, response)
        if route_key not in ("$connect", "$disconnect"):
            self.login.ws_in += 1
            self.login.ws_units += max(1, math.ceil(len(event.get("body") or "") / WS_MESSAGE_UNIT))
            if response.get("body"):  # a route response: one message back on the same socket
                self.login.ws_out += 1
                self.login.ws_units += max(1, math.ceil(len(response["body"]) / WS_MESSAGE_UNIT))
        return response

    def deliver_stream(self) -> None:
        """What the event source mapping does after a step: read, filter, invoke with what passes."""
        passing = []
        with self.recorder.paused():
            for shard_id, iterator in list(self.iterators.items()):
                response = self.streams.get_records(ShardIterator=iterator)
                self.iterators[shard_id] = response["NextShardIterator"]
                records = [stream_record(raw, self.stream_arn) for raw in response["Records"]]
                passing += [r for r in records if record_matches(self.mapping.filter_criteria, r)]
        for start in range(0, len(passing), self.mapping.batch_size):
            batch = passing[start:start + self.mapping.batch_size]
            self.invoke(self.mapping.function_name, {"Records": batch}, "stream")
            for call in self.login.invocations[-1].calls:
                if call.operation == "PostToConnection":  # a push: one message out
                    self.login.ws_out += 1
                    self.login.ws_units += max(1, math.ceil(call.payload_bytes / WS_MESSAGE_UNIT))

    def request(self, method: str, path: str, *, query: str = "", body: bytes | None = None,
                headers: dict[str, str] | None = None, token: str | None = None,
                user_agent: str = "Mozilla/5.0") -> dict[str, Any]:
        """Any HTTP route of the template (query strings, form bodies, pages): the raw response."""
        logical_id, event = http_request_event(method, path, token=token, user_agent=user_agent,
                                               source_ip=self.source_ip, query=query, data=body, headers=headers)
        response = self.invoke(logical_id, event, event["routeKey"])
        self.login.http_requests += 1
        self.login.http_units += max(1, math.ceil(len(json.dumps(event)) / HTTP_REQUEST_UNIT))
        self.login.access_log_bytes += access_log_line("HttpApi", event, response)
        return dict(response)

    def run_oidc_login(self, client_id: str, client_secret: str) -> Login:
        """An OpenID Provider authorization-code login: what a relying party, its user's browser and phone send.

        GET /authorize (the hosted page), the page's WebSocket, the phone's scan
        and confirm, the page's POST /authorize/complete, the relying party's
        POST /token (client_secret_basic, PKCE) and GET /userinfo.  The page's two
        scripts are left out: a browser caches them (Cache-Control) after the first login.
        """
        self.login = Login()
        self.logins += 1
        self.source_ip = f"2001:db8:1::{self.logins:x}"
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({"client_id": client_id, "redirect_uri": OIDC_CALLBACK, "response_type": "code",
                           "scope": "openid profile", "state": secrets.token_urlsafe(16),
                           "nonce": secrets.token_urlsafe(16), "code_challenge": challenge,
                           "code_challenge_method": "S256"})
        page = self.request("GET", "/authorize", query=query)
        assert page["statusCode"] == 200, page
        found = re.search(r'id="qrl-authorization">(.*?)</script>', page["body"])
        assert found, "the hosted page carries no session"
        session = json.loads(found.group(1))["session"]
        session_id, browser_token = session["session_id"], session["browser_token"]
        connection_id = new_connection_id()
        assert self.ws("$connect", connection_id)["statusCode"] == 200
        self.ws("subscribe", connection_id,
                {"action": "subscribe", "session_id": session_id, "browser_token": browser_token})
        self.deliver_stream()
        for step in ("scan", "confirm"):
            status, body = self.http("POST", f"/sessions/{session_id}/{step}", token=self.phone_token)
            assert status == 200, body
            self.deliver_stream()
        done = self.request("POST", "/authorize/complete", headers={"content-type": "application/json"},
                            body=json.dumps({"session_id": session_id, "browser_token": browser_token}).encode())
        code = parse_qs(urlsplit(json.loads(done["body"])["redirect"]).query)["code"][0]
        self.deliver_stream()
        self.ws("$disconnect", connection_id)  # the browser leaves for the redirect_uri
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        form = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": OIDC_CALLBACK,
                          "code_verifier": verifier}).encode()
        answer = self.request("POST", "/token", body=form, headers={
            "authorization": f"Basic {basic}", "content-type": "application/x-www-form-urlencoded"})
        assert answer["statusCode"] == 200, answer
        self.deliver_stream()
        tokens = json.loads(answer["body"])
        info = self.request("GET", "/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"})
        assert info["statusCode"] == 200, info
        return self.login

    def run_device_login(self, client_id: str, client_secret: str) -> Login:
        """An RFC 8628 device login: the device's authorization request, its polls, the phone's scan and confirm.

        The phone scans the QR of ``verification_uri_complete`` (the typed
        code would add one lookup request).  The device polls every
        ``interval`` seconds (a clock moved forward by the interval before each
        poll, so no poll is early): DEVICE_PENDING_POLLS answered
        authorization_pending while the user scans and approves, then the one
        that gets the tokens.
        """
        self.login = Login()
        self.logins += 1
        self.source_ip = f"2001:db8:2::{self.logins:x}"
        basic = {"authorization": "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode(),
                 "content-type": "application/x-www-form-urlencoded"}
        started = self.request("POST", "/device_authorization", body=b"scope=openid+profile", headers=basic)
        assert started["statusCode"] == 200, started
        grant = json.loads(started["body"])
        session_id = urlsplit(grant["verification_uri_complete"]).path.rsplit("/", 1)[-1]
        form = urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                          "device_code": grant["device_code"]}).encode()
        phone_steps = {DEVICE_PENDING_POLLS // 2: "scan", DEVICE_PENDING_POLLS: "confirm"}
        with clock_moved() as move:
            for poll in range(1, DEVICE_PENDING_POLLS + 2):
                move(grant["interval"])
                answer = self.request("POST", "/token", body=form, headers=basic)
                self.deliver_stream()
                if poll <= DEVICE_PENDING_POLLS:
                    assert answer["statusCode"] == 400, answer
                    assert json.loads(answer["body"])["error"] == "authorization_pending", answer
                else:
                    assert answer["statusCode"] == 200, answer
                if poll in phone_steps:
                    status, body = self.http("POST", f"/sessions/{session_id}/{phone_steps[poll]}",
                                             token=self.phone_token)
                    assert status == 200, body
                    self.deliver_stream()
        return self.login

    def run_login(self) -> Login:
        self.login = Login()
        # Each login from its own address (IPv6 documentation prefix), as many browsers
        # would be: one address would soon meet the issue rate limit.
        self.logins += 1
        self.source_ip = f"2001:db8::{self.logins:x}"
        status, issued = self.http("POST", "/sessions")
        assert status == 201, issued
        session_id, browser_token = issued["session_id"], issued["browser_token"]
        connection_id = new_connection_id()
        assert self.ws("$connect", connection_id)["statusCode"] == 200
        snapshot = self.ws("subscribe", connection_id,
                           {"action": "subscribe", "session_id": session_id, "browser_token": browser_token})
        assert json.loads(snapshot["body"])["status"] == "pending", snapshot
        self.deliver_stream()
        for step in ("scan", "confirm"):
            status, body = self.http("POST", f"/sessions/{session_id}/{step}", token=self.phone_token)
            assert status == 200, body
            self.deliver_stream()
        status, token = self.http("POST", f"/sessions/{session_id}/token", token=browser_token)
        assert status == 200 and token["id_token"], token
        self.deliver_stream()
        self.ws("$disconnect", connection_id)
        self._check_pushes(connection_id, session_id)
        return self.login

    def _check_pushes(self, connection_id: str, session_id: str) -> None:
        from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

        connections = apigatewaymanagementapi_backends[MOTO_ACCOUNT]["us-east-1"].connections
        # moto keys a connection by its id as it appears in the URL path, percent-encoded.
        received = connections[quote(connection_id, safe="")].data
        for status in ("scanned", "confirmed"):
            assert f'"status":"{status}"'.encode() in received, f"the browser never got {status}: {received!r}"


def run_logins(count: int = LOGINS, *, size_items: bool = True, flow: str = "qr") -> list[Login]:
    """Complete logins of ``flow`` (qr, oidc, device); ``size_items`` reads each written item before and after."""
    with identity_provider() as (idp, env):
        env = {**env, "CONNECTIONS_URL": CONNECTIONS_URL, "POWERTOOLS_LOG_LEVEL": "INFO"}
        with mocked_aws(env) as aws:
            import boto3

            table = aws["dynamodb"].describe_table(TableName=env["TABLE_NAME"])["Table"]
            # botocore now derives an account-based streams host from the ARN; moto answers the classic one.
            streams = boto3.client("dynamodbstreams", region_name="us-east-1",
                                   endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
            recorder = Recorder(sizer=aws["dynamodb"] if size_items else None)
            with installed(recorder):
                driver = LoginDriver(recorder, streams, table["LatestStreamArn"], idp.mint("alice", "Alice"))
                if flow in ("oidc", "device"):
                    from qrlogin.oauth.clients import ClientRegistry

                    with recorder.paused():  # registering the client is not part of a login
                        client, secret = ClientRegistry(env["TABLE_NAME"], aws["dynamodb"]).register(
                            [OIDC_CALLBACK], now=int(time.time()))
                    assert secret is not None
                    run = driver.run_oidc_login if flow == "oidc" else driver.run_device_login
                    return [run(client.client_id, secret) for _ in range(count)]
                return [driver.run_login() for _ in range(count)]


def _access_log_format(logical_id: str) -> str | None:
    """The access log Format of a stage in template.yaml (the HTTP API's default stage, or the WebSocket stage)."""
    properties = TEMPLATE["Resources"].get(logical_id, {}).get("Properties", {})
    settings = properties.get("AccessLogSettings") or properties.get("DefaultRouteSettings", {}).get(
        "AccessLogSettings")
    return str(settings["Format"]) if settings and "Format" in settings else None


ACCESS_LOG_FORMATS = {stage: _access_log_format(stage) for stage in ("HttpApi", "WebSocketStage")}


def access_log_line(stage: str, event: dict[str, Any], response: Any) -> int:
    """Bytes API Gateway writes to the stage's access log for this request: its Format filled in, + 26 B."""
    form = ACCESS_LOG_FORMATS.get(stage)
    if form is None:
        return 0
    context = event.get("requestContext", {})
    body = response.get("body") if isinstance(response, dict) else None
    values = {  # API Gateway's own values, at their usual lengths
        "requestId": "JxPRgiQvIAMEbKw=", "requestTimeEpoch": "1770000000123",
        "identity.sourceIp": (context.get("http") or {}).get("sourceIp") or "198.51.100.7",
        "httpMethod": (context.get("http") or {}).get("method", ""), "routeKey": event.get("routeKey", ""),
        "status": str(response.get("statusCode", 200) if isinstance(response, dict) else 200),
        "responseLength": str(len(body or "")), "responseLatency": "23", "integrationLatency": "21",
        "error.message": "-", "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(
            context.get("routeKey", ""), "MESSAGE"),
        "connectionId": context.get("connectionId", ""),
    }
    line = re.sub(r"\$context\.([A-Za-z.]+)", lambda m: values.get(m.group(1), "-"), form)
    return len(line.encode()) + 1 + LOG_EVENT_OVERHEAD


@contextmanager
def clock_moved() -> Iterator[Any]:
    """``time.time`` running ahead by what ``move(seconds)`` added: a device's polls spaced as on a real clock."""
    real = time.time
    offset = [0.0]

    def move(seconds: float) -> None:
        offset[0] += seconds

    time.time = lambda: real() + offset[0]
    try:
        yield move
    finally:
        time.time = real


# -- figures -------------------------------------------------------------------


def _memory_mb(short_name: str) -> int:
    return int(functions(TEMPLATE)[ALL_FUNCTIONS[short_name]].get("MemorySize", 128))


def billed_ms(invocation: Invocation, memory_mb: int | None = None) -> float:
    """Duration on AWS: our own compute scaled to the memory's CPU share, plus each call's assumed latency."""
    own = invocation.own_cpu_ms
    scale = max(1.0, FULL_VCPU_MB / (memory_mb or _memory_mb(invocation.function)))
    return math.ceil(own * scale + sum(AWS_CALL_MS.get(c.service, 10.0) for c in invocation.calls))


# Lambda writes its START/END/REPORT lines only when the template's SystemLogLevel lets INFO through.
PLATFORM_LOG_LINES = TEMPLATE["Globals"]["Function"].get("LoggingConfig", {}).get("SystemLogLevel", "INFO") in (
    "DEBUG", "INFO")
# The template's default SigningKeyMode: the design the headline cost prices.
DEFAULT_SIGNING = TEMPLATE["Parameters"]["SigningKeyMode"]["Default"]


def platform_log_bytes(invocation: Invocation) -> int:
    """Lambda's own START / END / REPORT lines (text format), as it writes them."""
    request_id = "8c5e1d2a-3f4b-4c6d-9e8f-0a1b2c3d4e5f"
    lines = [
        f"START RequestId: {request_id} Version: $LATEST\n",
        f"END RequestId: {request_id}\n",
        f"REPORT RequestId: {request_id}\tDuration: {billed_ms(invocation):.2f} ms\tBilled Duration: "
        f"{billed_ms(invocation):.0f} ms\tMemory Size: {_memory_mb(invocation.function)} MB\tMax Memory Used: "
        f"90 MB\t\n",
    ]
    return sum(len(line) + LOG_EVENT_OVERHEAD for line in lines)


def summarize(logins: list[Login]) -> dict[str, Any]:
    counted = logins[WARMUP:] or logins
    n = len(counted)
    calls = [c for login in counted for i in login.invocations for c in i.calls]
    invocations = [i for login in counted for i in login.invocations]
    per_function = Counter(i.function for i in invocations)
    operations = Counter(f"{c.service}:{c.operation}" for c in calls)
    notifier = [i for i in invocations if i.function == "notifier"]
    log_kinds: Counter[str] = Counter()
    for i in invocations:
        log_kinds.update(i.log_kinds)
    access_log_bytes = sum(login.access_log_bytes for login in counted)
    if access_log_bytes:
        log_kinds["API Gateway access logs"] = access_log_bytes
    log_bytes = sum(v for k, v in log_kinds.items() if k != "API Gateway access logs")
    durations: dict[str, list[float]] = defaultdict(list)
    for i in invocations:
        durations[i.function].append(billed_ms(i))
    gb_seconds = sum(billed_ms(i) / 1000 * _memory_mb(i.function) / 1024 for i in invocations) / n
    # What the duration line would be if every function had one MemorySize.
    duration_usd_by_memory = {
        memory: sum(billed_ms(i, memory) / 1000 * memory / 1024 for i in invocations) / n
        * pricing.LAMBDA_GB_SECOND_ARM.usd * 1e6
        for memory in (128, 256, 512, 1024)
    }
    return {
        "logins": n,
        "write_units": sum(c.write_units for c in calls) / n,
        "read_units": sum(c.read_units for c in calls) / n,
        "strongly_consistent_reads": sum(c.strongly_consistent for c in calls) / n,
        "invocations": {f: per_function[f] / n for f in ALL_FUNCTIONS if per_function[f]},
        "http_requests": sum(login.http_requests for login in counted) / n,
        "http_units": sum(login.http_units for login in counted) / n,
        "ws_messages_in": sum(login.ws_in for login in counted) / n,
        "ws_messages_out": sum(login.ws_out for login in counted) / n,
        "ws_units": sum(login.ws_units for login in counted) / n,
        "operations": {op: k / n for op, k in sorted(operations.items())},
        "kms_sign": operations["kms:Sign"] / n,
        # Each id_token issued is one KMS Sign in SigningKeyMode=kms.
        "id_tokens": sum(1 for i in invocations if i.route.endswith("/token") and _status(i) == 200) / n,
        "kms_other": sum(k for op, k in operations.items() if op.startswith("kms:") and op != "kms:Sign") / n,
        "empty_notifier_invocations": sum(
            1 for i in notifier if not any(c.operation == "PostToConnection" for c in i.calls)),
        "log_bytes": (log_bytes + access_log_bytes) / n,
        "log_bytes_by_kind": {kind: round(b / n) for kind, b in log_kinds.most_common()},
        "gb_seconds": gb_seconds,
        "billed_ms_p50": {f: statistics.median(v) for f, v in durations.items()},
        "duration_usd_per_million_by_memory": {m: round(v, 2) for m, v in duration_usd_by_memory.items()},
    }


def _status(invocation: Invocation) -> int | None:
    response = invocation.response
    return response.get("statusCode") if isinstance(response, dict) else None


def costs(s: dict[str, Any], signing: str = DEFAULT_SIGNING) -> dict[str, float]:
    """USD per login, line by line; ``signing`` picks the id_token signing option."""
    line = {
        "Lambda requests": sum(s["invocations"].values()) * pricing.LAMBDA_REQUEST.usd,
        "Lambda duration (arm64)": s["gb_seconds"] * pricing.LAMBDA_GB_SECOND_ARM.usd,
        "HTTP API requests": s["http_units"] * pricing.HTTP_API_REQUEST.usd,
        "WebSocket messages": s["ws_units"] * pricing.WEBSOCKET_MESSAGE.usd,
        # A flow with no WebSocket (the device flow) holds no connection.
        "WebSocket connection minutes": (CONNECTION_MINUTES_PER_LOGIN if s["ws_messages_in"] else 0)
        * pricing.WEBSOCKET_CONNECTION_MINUTE.usd,
        "DynamoDB writes": s["write_units"] * pricing.DYNAMODB_WRITE_UNIT.usd,
        "DynamoDB reads": s["read_units"] * pricing.DYNAMODB_READ_UNIT.usd,
        "CloudWatch Logs ingestion": s["log_bytes"] / 1e9 * pricing.LOGS_INGESTED_GB.usd,
    }
    signs = s["id_tokens"]
    if signing == "kms":
        line["KMS Sign (ECC P-256)"] = signs * pricing.KMS_ASYMMETRIC_REQUEST.usd
    elif signing == "kms_rsa_2048":
        line["KMS Sign (RSA 2048)"] = signs * pricing.KMS_RSA_2048_REQUEST.usd
    elif signing == "envelope":
        # One KMS Decrypt of the wrapped key per new container; containers are
        # reused across thousands of logins, so this rounds to nothing per login.
        line["KMS Decrypt per container (~0 per login)"] = 0.0
    else:
        raise ValueError(signing)
    return line


SIGNING_OPTIONS = {
    "envelope": "SigningKeyMode=envelope (default): KMS-encrypted P-256 key, decrypted once per container",
    "kms": "SigningKeyMode=kms: KMS ECC_NIST_P256 Sign per login (key never leaves KMS)",
    "kms_rsa_2048": "not offered: KMS RSA_2048 Sign per login (RS256, not the contract's ES256)",
}


# The OpenID Provider's flows, priced the same way (the template's default signing: envelope, RS256).
OTHER_FLOWS = {
    "oidc": "OIDC authorization-code login: GET /authorize (hosted page, WebSocket), scan, confirm, "
            "POST /authorize/complete, POST /token (client_secret_basic + PKCE), GET /userinfo",
    "device": f"device login (RFC 8628): POST /device_authorization, the phone scans the QR and confirms, "
              f"{DEVICE_PENDING_POLLS} polls answered authorization_pending (about 25 s at the 5 s interval) + "
              "the one that gets the tokens",
}


def other_flows() -> tuple[dict[str, Any], list[tuple[str, Any, str]]]:
    figures: dict[str, Any] = {}
    rows: list[tuple[str, Any, str]] = []
    for flow, how in OTHER_FLOWS.items():
        s = summarize(run_logins(max(LOGINS // 3, WARMUP + 3), flow=flow))
        breakdown = {name: round(usd * 1e6, 2) for name, usd in costs(s).items()}
        total = round(sum(costs(s).values()) * 1e6, 2)
        counts = {"http_requests": s["http_requests"], "websocket_messages": s["ws_messages_in"] + s["ws_messages_out"],
                  "invocations": s["invocations"], "write_units": s["write_units"], "read_units": s["read_units"],
                  "log_bytes": round(s["log_bytes"]), "gb_seconds": round(s["gb_seconds"], 5)}
        figures[f"cost_per_million_{flow}_logins_usd"] = total
        figures[f"cost_per_million_{flow}_logins_breakdown_usd"] = breakdown
        figures[f"per_{flow}_login"] = counts
        rows.append((f"$/M {flow} logins", total, how))
        rows.append((f"  per {flow} login", ", ".join(
            f"{k} {v:g}" if not isinstance(v, dict) else f"{k} {sum(v.values()):g}" for k, v in counts.items()),
            "counted as for the QR login; " + ", ".join(f"{k} ${v:g}" for k, v in breakdown.items() if v)))
    return figures, rows


def run() -> dict[str, Any]:
    s = summarize(run_logins())
    flows, flow_rows = other_flows()
    per_million = {option: round(sum(costs(s, option).values()) * 1e6, 2) for option in SIGNING_OPTIONS}
    breakdown = {name: round(usd * 1e6, 2) for name, usd in costs(s).items()}
    invocations = sum(s["invocations"].values())
    how = f"counted by a botocore recorder over {s['logins']} complete in-process logins (moto), per login"
    rows: list[tuple[str, Any, str]] = [
        ("DynamoDB write units / login", s["write_units"], how + "; 1 per started KB of max(before, after); <= 6"),
        ("DynamoDB read units / login", s["read_units"],
         "redeem's GetItem, strongly consistent: 1 per started 4 KB (0.5 if eventually; docs/design.md)"),
        ("strongly consistent reads / login", s["strongly_consistent_reads"],
         "ConsistentRead=True calls: redeem's only; <= 1"),
        ("Lambda invocations / login", invocations,
         ", ".join(f"{f} {v:g}" for f, v in s["invocations"].items()) + "; notifier after FilterCriteria; <= 9"),
        ("notifier invocations sending nothing", s["empty_notifier_invocations"], "must be 0"),
        ("HTTP API requests / login", s["http_requests"], "POST /sessions, scan, confirm, token; <= 4"),
        ("WebSocket messages / login", s["ws_messages_in"] + s["ws_messages_out"],
         f"in {s['ws_messages_in']:g} (subscribe), out {s['ws_messages_out']:g} (snapshot + pushes); <= 5"),
        ("WebSocket connection-minutes / login", CONNECTION_MINUTES_PER_LOGIN,
         "assumed: QR shown to redeem < 1 min, billed per started minute"),
        ("KMS requests / login", s["kms_sign"] + s["kms_other"],
         f"SigningKeyMode={DEFAULT_SIGNING}: Decrypt once per container, not per login (kms mode: 1 Sign)"),
        ("log bytes / login", round(s["log_bytes"]), "captured stdout/stderr + Lambda START/END/REPORT, +26 B/event: "
         + ", ".join(f"{kind} {b}" for kind, b in s["log_bytes_by_kind"].items())),
        ("Lambda GB-s / login", round(s["gb_seconds"], 5),
         "own CPU here x 1769/MemorySize + assumed AWS call latency " + json.dumps(AWS_CALL_MS)),
    ]
    by_memory = ", ".join(f"{m} MB ${usd:.2f}" for m, usd in s["duration_usd_per_million_by_memory"].items())
    rows.append(("Lambda duration $/M by MemorySize", by_memory, "same model, every function at that size"))
    rows += [(f"  $/M logins: {name}", usd, "") for name, usd in breakdown.items()]
    rows += [(f"$/M logins, signing {option}", usd, SIGNING_OPTIONS[option]) for option, usd in per_million.items()]
    return {
        "write_units_per_login": s["write_units"],
        "read_units_per_login": s["read_units"],
        "strongly_consistent_reads_per_login": s["strongly_consistent_reads"],
        "invocations_per_login": invocations,
        "invocations_per_login_by_function": s["invocations"],
        "empty_notifier_invocations": s["empty_notifier_invocations"],
        "http_requests_per_login": s["http_requests"],
        "websocket_messages_per_login": {"in": s["ws_messages_in"], "out": s["ws_messages_out"]},
        "websocket_connection_minutes_per_login": CONNECTION_MINUTES_PER_LOGIN,
        "kms_requests_per_login": s["kms_sign"] + s["kms_other"],
        "aws_operations_per_login": s["operations"],
        "log_bytes_per_login": round(s["log_bytes"]),
        "log_bytes_per_login_by_kind": s["log_bytes_by_kind"],
        "lambda_billed_ms_p50": {f: v for f, v in s["billed_ms_p50"].items()},
        "lambda_duration_usd_per_million_by_memory_mb": s["duration_usd_per_million_by_memory"],
        "cost_per_million_logins_usd": per_million[DEFAULT_SIGNING],
        "cost_per_million_logins_breakdown_usd": breakdown,
        "cost_per_million_logins_by_signing_usd": per_million,
        "prices": {name: {"usd": p.usd, "per": p.per, "source": p.source}
                   for name, p in vars(pricing).items() if isinstance(p, pricing.Price)},
        "prices_as_of": pricing.PRICES_AS_OF,
        "how": {
            "write_units_per_login": how,
            "read_units_per_login": how,
            "invocations_per_login": how + "; stream invocations after the template's FilterCriteria",
            "http_requests_per_login": how + "; HTTP API events the handlers got",
            "websocket_messages_per_login": how + "; in: MESSAGE routes; out: route responses + PostToConnection",
            "websocket_connection_minutes_per_login": "assumed: one started minute per login",
            "kms_requests_per_login": how,
            "log_bytes_per_login": "bytes written to stdout/stderr per login + Lambda START/END/REPORT, 26 B/event",
            "lambda_billed_ms_p50": "own CPU time x 1769/MemorySize + assumed AWS call latency, per invocation",
            "cost_per_million_logins_usd": f"the counts above x us-east-1 list prices ({pricing.PRICES_AS_OF}, "
                                           "bench/pricing.py), the template's default SigningKeyMode "
                                           f"({DEFAULT_SIGNING})",
        },
        **flows,
        "rows": rows + flow_rows,
    }
