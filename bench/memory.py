"""Peak memory per function: a fresh process, its first invocation and a warm one.

Each sample is a new ``python -S -P bench/memory_probe.py`` process with the
Lambda-shaped path of ``bench.package`` (so moto, pytest and pillow are not
in it), talking to moto's server on loopback (``localcloud.cloud``) and, for
the notifier, to a minimal Management API that accepts every post.  The
sessions each function needs are prepared beforehand through the shared
package itself (``qrlogin.service`` and ``qrlogin.store``).  The figure is the
process's peak resident set size (``VmHWM``), median of a few samples.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench import package
from bench.environment import FUNCTION_NAMES, TEMPLATE, handler_path, http_request_event, identity_provider, ws_event
from bench.per_login import captured_output
from bench.scenarios import status_change_event
from localcloud.cloud import FAKE_CREDENTIALS, LocalCloud, client
from localcloud.events import new_connection_id
from localcloud.template import functions
from qrlogin import service
from qrlogin.config import Settings
from qrlogin.sessions import PhoneUser
from qrlogin.store import SessionStore

PROBE = Path(__file__).resolve().parent / "memory_probe.py"
SAMPLES = int(os.environ.get("BENCH_MEMORY_SAMPLES", "3"))
# Lambda's own runtime client (awslambdaric) shares the process; it is not in the probe.
RUNTIME_CLIENT_ALLOWANCE_MB = 20
HEADROOM = 1.5
# Below this, Lambda's CPU share (memory / 1,769 MB of one vCPU) makes the CPU-bound
# parts (JWT verification, QR rendering, JSON) slow enough for a person to notice.
LATENCY_FLOOR_MB = 256


class _ManagementApi(BaseHTTPRequestHandler):
    """POST /<stage>/@connections/<id>: API Gateway accepts the message (200)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def management_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ManagementApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/live"
    finally:
        server.shutdown()
        server.server_close()


def _scenarios(env: dict[str, str], endpoint: str, phone_token: str) -> dict[str, list[dict[str, Any]]]:
    """Per function: its first invocation and a warm one, with the sessions they need already in the table."""
    settings = Settings.from_env(env)
    store = SessionStore(settings.table_name, client=client("dynamodb", endpoint))
    now = time.time()

    def issued() -> service.IssuedSession:
        return service.issue_session(store, settings, source_ip="198.51.100.7", user_agent="bench", now=now)

    phone_user = PhoneUser("alice", "Alice")
    to_scan, to_redeem, to_subscribe, to_push = issued(), issued(), issued(), issued()
    store.scan(to_redeem.session.session_id, phone_user, now)
    store.confirm(to_redeem.session.session_id, phone_user, now, redeem_deadline=int(now) + 60)
    connection_id = new_connection_id()
    store.attach_connection(to_push.session.session_id, to_push.session.browser_token_hash, connection_id)
    scanned, _ = store.scan(to_push.session.session_id, phone_user, now)
    confirmed, _ = store.confirm(to_push.session.session_id, phone_user, now, redeem_deadline=int(now) + 60)
    subscribe = {"action": "subscribe", "session_id": to_subscribe.session.session_id,
                 "browser_token": to_subscribe.browser_token}
    return {
        "issue": [http_request_event("POST", "/sessions")[1] for _ in range(2)],
        "confirm": [http_request_event("POST", f"/sessions/{to_scan.session.session_id}/{step}",
                                       token=phone_token)[1] for step in ("scan", "confirm")],
        "status": [http_request_event(method, f"/sessions/{to_redeem.session.session_id}{suffix}",
                                      token=to_redeem.browser_token)[1]
                   for method, suffix in (("GET", ""), ("POST", "/token"))],
        "websocket": [ws_event("$connect", connection_id), ws_event("subscribe", connection_id, subscribe),
                      ws_event("ping", connection_id, {"action": "ping"})],
        "notifier": [status_change_event(scanned, connection_id), status_change_event(confirmed, connection_id)],
    }


def _succeeded(name: str, responses: list[Any]) -> bool:
    if name == "notifier":
        return all(r == {"batchItemFailures": []} for r in responses)
    if name == "websocket":
        return all(r.get("statusCode") == 200 and '"error"' not in (r.get("body") or "") for r in responses)
    return all(200 <= r.get("statusCode", 500) < 300 for r in responses)


def _sample(name: str, events_file: str, env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-S", "-P", str(PROBE), name, "" if name == "baseline" else
                           handler_path(name), events_file], env=env, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"peak_rss_mb"')]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"memory probe {name} exited {done.returncode}: {done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    if not _succeeded(name, result["responses"]):
        raise RuntimeError(f"memory probe {name}: an invocation failed: {result['responses']}")
    return float(result["peak_rss_mb"])


def memory_floor_mb(peak_mb: float) -> int:
    """The smallest power-of-two MemorySize (>= 128) with headroom over the peak and the runtime client."""
    need = (peak_mb + RUNTIME_CLIENT_ALLOWANCE_MB) * HEADROOM
    return max(128, 2 ** math.ceil(math.log2(need)))


def measure() -> dict[str, list[float]]:
    cloud = LocalCloud(TEMPLATE)
    resources = cloud.start()
    try:
        with identity_provider() as (idp, settings), management_api() as connections_url, \
                tempfile.TemporaryDirectory() as scratch:
            env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))},
                   **settings, **FAKE_CREDENTIALS,
                   "TABLE_NAME": resources.table_name, "SIGNING_KEY_ID": resources.key_arn,
                   "CONNECTIONS_URL": connections_url,
                   "AWS_ENDPOINT_URL_DYNAMODB": resources.endpoint, "AWS_ENDPOINT_URL_KMS": resources.endpoint,
                   "NO_PROXY": "127.0.0.1,localhost", "PYTHONDONTWRITEBYTECODE": "1"}
            paths = package.build(Path(scratch), bytecode=True)  # sam build's artifacts, per function
            samples: dict[str, list[float]] = {name: [] for name in ["baseline", *FUNCTION_NAMES]}
            for _ in range(SAMPLES):
                with captured_output():  # the shared package logs the sessions it prepares
                    scenarios = _scenarios(env, resources.endpoint, idp.mint("alice", "Alice"))
                for name in samples:
                    events_file = str(Path(scratch) / f"{name}.json")
                    Path(events_file).write_text(json.dumps(scenarios.get(name, [])))
                    path = paths[FUNCTION_NAMES.get(name, "IssueFunction")]  # baseline: boto3 only
                    samples[name].append(_sample(name, events_file, {**env, "PYTHONPATH": path}))
            return samples
    finally:
        cloud.stop()


def run() -> dict[str, Any]:
    samples = measure()
    peak = {name: round(statistics.median(values), 1) for name, values in samples.items()}
    configured = {name: int(functions(TEMPLATE)[logical].get("MemorySize", 128))
                  for name, logical in FUNCTION_NAMES.items()}
    floor = {name: memory_floor_mb(peak[name]) for name in FUNCTION_NAMES}
    recommended = {name: max(floor[name], LATENCY_FLOOR_MB) for name in FUNCTION_NAMES}
    how = (f"peak RSS (VmHWM) of a fresh process: import, first invocation and a warm one against moto's "
           f"server; median of {SAMPLES}; Lambda-shaped path (bench.package)")
    rows: list[tuple[str, Any, str]] = [("peak RSS baseline MB", peak["baseline"], "import boto3 + 1 DynamoDB client")]
    rows += [(f"peak RSS {name} MB", peak[name],
              f"MemorySize {configured[name]} in template; fits in {floor[name]} (x{HEADROOM} over peak + "
              f"{RUNTIME_CLIENT_ALLOWANCE_MB} MB runtime client); recommended {recommended[name]} (CPU share)")
              for name in FUNCTION_NAMES]
    rows[1] = (rows[1][0], rows[1][1], how + "; " + rows[1][2])
    return {
        "peak_rss_mb": {name: peak[name] for name in FUNCTION_NAMES},
        "peak_rss_baseline_mb": peak["baseline"],
        "memory_size_floor_mb": floor,
        "memory_size_recommended_mb": recommended,
        "how": {"peak_rss_mb": how,
                "memory_size_floor_mb": f"smallest power of two >= (peak + {RUNTIME_CLIENT_ALLOWANCE_MB}) x {HEADROOM}",
                "memory_size_recommended_mb": f"max(floor, {LATENCY_FLOOR_MB}): CPU share grows with memory, "
                                              "see docs/performance.md"},
        "rows": rows,
    }
