"""Confirm-to-push latency on the local stack (``python -m localcloud``).

For each login: a browser creates a session, opens a WebSocket and
subscribes; a phone scans (the "scanned" push is awaited); then the clock
starts when the phone sends its confirm and stops when the browser's socket
receives the "confirmed" push.  That path is the whole local pipeline: the
confirm handler's conditional write, moto's stream, the stream poller and its
FilterCriteria, the notifier, the Management API and the socket.  Logins run
one after another; the first few warm the stack and are not counted.

On AWS one hop differs in kind: the local poller is woken the moment a
function writes, while Lambda polls each DynamoDB stream shard about four
times a second when it has nothing in flight.  The modelled AWS figure adds
to each local sample a poll wait drawn uniformly from 0 to 250 ms (fixed
seed), and says so; the other hops (API Gateway in and out, the stream's own
propagation) are not modelled: moto's slower request handling stands in for
them locally.

    python -m bench push_latency        (BENCH_PUSH_LOGINS=200 by default)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any

import aiohttp

from bench.environment import percentile
from localcloud.process import StackProcess

LOGINS = int(os.environ.get("BENCH_PUSH_LOGINS", "200"))
WARMUP = 5
TARGET_P99_MS = 300.0
# Lambda polls a DynamoDB stream shard about 4 times a second: a record waits up to 250 ms to be picked up.
AWS_STREAM_POLL_INTERVAL_MS = 250.0
WAIT_S = 10.0


async def _status(socket: aiohttp.ClientWebSocketResponse, session_id: str, status: str) -> float:
    """When (perf_counter) the socket received the session's ``status`` push."""
    while True:
        message = await socket.receive(timeout=WAIT_S)
        if message.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"socket closed before the {status} push: {message}")
        body = json.loads(message.data)
        if body.get("session_id") == session_id and body.get("status") == status:
            return time.perf_counter()


async def _login(http: aiohttp.ClientSession, base_url: str, phone: dict[str, str]) -> float:
    """One login; returns confirm-to-push milliseconds."""
    async with http.post(f"{base_url}/sessions", json={}) as response:
        session = await response.json()
    session_id = session["session_id"]
    async with http.ws_connect(session["websocket_url"]) as socket:
        await socket.send_json({"action": "subscribe", "session_id": session_id,
                                "browser_token": session["browser_token"]})
        scanned = asyncio.create_task(_status(socket, session_id, "scanned"))
        async with http.post(f"{base_url}/sessions/{session_id}/scan", headers=phone) as response:
            assert response.status == 200, await response.text()
        await scanned
        # Listen before confirming: the push may beat the confirm's own HTTP response.
        confirmed = asyncio.create_task(_status(socket, session_id, "confirmed"))
        started = time.perf_counter()
        async with http.post(f"{base_url}/sessions/{session_id}/confirm", headers=phone) as response:
            assert response.status == 200, await response.text()
        return (await confirmed - started) * 1000


async def measure(base_url: str, logins: int) -> list[float]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base_url}/dev/phone-token", json={"sub": "bench", "name": "Bench"}) as response:
            phone = {"Authorization": f"Bearer {(await response.json())['access_token']}"}
        samples = [await _login(http, base_url, phone) for _ in range(WARMUP + logins)]
    return samples[WARMUP:]


def run() -> dict[str, Any]:
    # The issue rate limit would stop a benchmark from one address; it is not what is measured here.
    with StackProcess("IssueRateLimitPerMinute=0") as stack:
        samples = asyncio.run(measure(stack.base_url, LOGINS))
    figures = {"p50": round(percentile(samples, 50), 1), "p99": round(percentile(samples, 99), 1),
               "max": round(max(samples), 1), "logins": len(samples)}
    modelled = aws_model(samples)
    how = (f"local stack, {len(samples)} sequential logins after {WARMUP} warm-up: phone sends confirm -> "
           f"browser socket receives the push; nearest-rank percentiles; target p99 <= {TARGET_P99_MS:.0f} ms")
    model_how = ("modelled for AWS: each local sample + a stream-poll wait uniform in "
                 f"0-{AWS_STREAM_POLL_INTERVAL_MS:.0f} ms (Lambda polls a shard ~4x/s); API Gateway hops and "
                 "stream propagation not modelled")
    return {
        "push_latency_ms": figures,
        "push_latency_aws_modelled_ms": modelled,
        "how": {"push_latency_ms": how, "push_latency_aws_modelled_ms": model_how},
        "rows": [
            ("push latency p50 ms", figures["p50"], how),
            ("push latency p99 ms", figures["p99"], f"max {figures['max']} ms"),
            ("push latency on AWS p50 / p99 ms (modelled)", f"{modelled['p50']} / {modelled['p99']}", model_how),
        ],
    }


def aws_model(samples: list[float]) -> dict[str, float]:
    """The local samples with Lambda's stream-poll wait added (seeded, so a rerun on the same samples agrees)."""
    draw = random.Random(4)
    modelled = [s + draw.uniform(0, AWS_STREAM_POLL_INTERVAL_MS) for s in samples]
    return {"p50": round(percentile(modelled, 50), 1), "p99": round(percentile(modelled, 99), 1)}


if __name__ == "__main__":
    print(json.dumps(run()["push_latency_ms"]))
