"""Warm cost per invocation: each handler in-process against moto, after the container is warm.

The invocations are those of complete logins (``bench.per_login``, without
its item sizing), so every route runs with the events a real login sends.
Wall and CPU time include moto, which answers each AWS call in-process and
takes most of the time (it parses, validates and evaluates each request
in Python); "own" is the wall time minus the time spent inside botocore
calls, i.e. what our code and Powertools cost.  On AWS each call instead
waits a few milliseconds on the network (see ``bench.per_login``).
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from bench.environment import percentile
from bench.per_login import WARMUP, run_logins

LOGINS = int(os.environ.get("BENCH_WARM_LOGINS", "150"))


def run() -> dict[str, Any]:
    logins = run_logins(LOGINS, size_items=False)[WARMUP:]
    samples: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for login in logins:
        for i in login.invocations:
            key = f"{i.function} {i.route}"
            samples[key]["wall"].append(i.wall_ms)
            samples[key]["cpu"].append(i.cpu_ms)
            samples[key]["own"].append(i.wall_ms - i.aws_ms)
    figures = {
        key: {f"{measure}_{q}": round(percentile(values, p), 3)
              for measure, values in by.items() for q, p in (("p50", 50), ("p99", 99))}
        for key, by in samples.items()
    }
    how = (f"{len(logins)} logins in-process against moto (mock_aws); ms per invocation; wall and CPU include "
           "moto, which dominates; own = wall minus time inside botocore calls")
    rows: list[tuple[str, Any, str]] = [
        (f"warm {key} ms", f"wall {f['wall_p50']:.2f}/{f['wall_p99']:.2f}, cpu {f['cpu_p50']:.2f}/"
         f"{f['cpu_p99']:.2f}, own {f['own_p50']:.2f}/{f['own_p99']:.2f}", "p50/p99")
        for key, f in figures.items()
    ]
    rows.insert(0, ("warm invocations", len(logins), how))
    return {"warm_ms": figures, "how": {"warm_ms": how}, "rows": rows}
