"""Cold start: a fresh Python process per sample, as a ratio to a boto3 baseline.

Each sample is a new ``python -S -P bench/cold_probe.py`` process (with
``bench.package``'s Lambda-shaped path) that imports a
function's handler and runs its first invocation (``bench.scenarios``) up to
the moment the first AWS request would be sent.  The baseline process only
imports boto3 and creates one DynamoDB client.  Each round runs every
function once, in a shuffled order, each right after a baseline process, so
that a burst of load on the shared machine hits both of a pair; the figure is
the median over rounds of function wall time / its baseline's (spawn to exit).
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import package
from bench.environment import FUNCTION_NAMES, handler_path, identity_provider, median
from bench.scenarios import first_invocations

PROBE = Path(__file__).resolve().parent / "cold_probe.py"
ROUNDS = int(os.environ.get("BENCH_COLD_ROUNDS", "12"))
TARGET_RATIO = 1.3


def _child_env(settings: dict[str, str], python_path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env.update(settings)
    env["PYTHONPATH"] = python_path  # Lambda's task root and runtime, nothing else (bench.package)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # never write .pyc files mid-run: every sample sees the same tree
    return env


def _sample(name: str, events_file: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of one fresh process."""
    handler = "" if name == "baseline" else handler_path(name)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-S", "-P", str(PROBE), name, handler, events_file], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"cold probe {name} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


SOURCE = " (no .pyc)"


def measure(rounds: int = ROUNDS) -> dict[str, dict[str, list[float]]]:
    """Samples per kind: each function (package with .pyc), each function + SOURCE, and "baseline".

    Every function sample is taken right after a baseline sample, and each
    kind's "ratio" list holds function / that baseline: the two processes
    ran back to back, so a burst of load on the shared machine hits both.
    """
    kinds = [*FUNCTION_NAMES, *(n + SOURCE for n in FUNCTION_NAMES)]
    samples: dict[str, dict[str, list[float]]] = {
        k: {"wall": [], "cpu": [], "ratio": [], "cpu_ratio": []} for k in ["baseline", *kinds]}
    with identity_provider() as (idp, settings), tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        envs = {bytecode: _child_env(settings, package.build(directory, bytecode=bytecode))
                for bytecode in (True, False)}
        events = first_invocations(idp.mint("alice", "Alice"))
        files = {}
        for name in ["baseline", *FUNCTION_NAMES]:
            files[name] = str(directory / f"{name}.json")
            Path(files[name]).write_text(json.dumps(events.get(name, [])))

        def sample(kind: str) -> tuple[float, float]:
            name = kind.removesuffix(SOURCE)
            return _sample(name, files[name], envs[not kind.endswith(SOURCE)])

        for kind in ["baseline", *kinds]:  # warm the page cache; not counted
            sample(kind)
        order = random.Random(7)
        for _ in range(rounds):
            order.shuffle(kinds)
            for kind in kinds:
                base_wall, base_cpu = sample("baseline")
                wall, cpu = sample(kind)
                samples["baseline"]["wall"].append(base_wall)
                samples["baseline"]["cpu"].append(base_cpu)
                samples[kind]["wall"].append(wall)
                samples[kind]["cpu"].append(cpu)
                samples[kind]["ratio"].append(wall / base_wall)
                samples[kind]["cpu_ratio"].append(cpu / base_cpu)
    return samples


def run() -> dict[str, Any]:
    samples = measure()

    def ratio(kind: str, measure: str = "ratio") -> float:
        return round(median(samples[kind][measure]), 2)

    wall_ms = {kind: round(median(s["wall"]), 1) for kind, s in samples.items()}
    how = (f"fresh process, import + first invocation up to its first AWS call, package with .pyc; median over "
           f"{ROUNDS} rounds of its wall time / the baseline's (import boto3 + 1 DynamoDB client) run just "
           f"before it; target <= {TARGET_RATIO}")
    rows: list[tuple[str, Any, str]] = [("cold start baseline ms", wall_ms["baseline"],
                                         "python -c 'import boto3; boto3.client(\"dynamodb\")', median wall ms")]
    for name in FUNCTION_NAMES:
        rows.append((f"cold start {name} (x baseline)", ratio(name),
                     f"{wall_ms[name]:.0f} ms; CPU {ratio(name, 'cpu_ratio')}x; without .pyc (sam build's package) "
                     f"{ratio(name + SOURCE)}x"))
    return {
        "cold_start_ratio": {n: ratio(n) for n in FUNCTION_NAMES},
        "cold_start_cpu_ratio": {n: ratio(n, "cpu_ratio") for n in FUNCTION_NAMES},
        "cold_start_ratio_without_pyc": {n: ratio(n + SOURCE) for n in FUNCTION_NAMES},
        "cold_start_ms": wall_ms,
        "how": {
            "cold_start_ratio": how,
            "cold_start_cpu_ratio": "same pairs, user+system CPU time / the baseline's",
            "cold_start_ratio_without_pyc": "same, the package without .pyc files (as sam build ships it)",
            "cold_start_ms": "median wall ms of the same processes",
        },
        "rows": rows,
    }
