"""Cold start: a fresh Python process per sample, as a ratio to a boto3 baseline.

Each sample is a new ``python -S -P bench/cold_probe.py`` process (with
``bench.package``'s Lambda-shaped path: the package ``sam build`` makes) that imports a
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
from bench.environment import TEMPLATE, identity_provider, median
from bench.scenarios import COLD_START_FUNCTIONS, WITH_SCENARIO, first_invocations
from localcloud.template import functions

PROBE = Path(__file__).resolve().parent / "cold_probe.py"
ROUNDS = int(os.environ.get("BENCH_COLD_ROUNDS", "12"))
TARGET_RATIO = 1.3


def _child_env(settings: dict[str, str], python_path: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env.update(settings)
    env["PYTHONPATH"] = python_path  # Lambda's task root and runtime, nothing else (bench.package)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # never write .pyc files mid-run: every sample sees the same tree
    return env


def handler_path(name: str) -> str:
    return str(functions(TEMPLATE)[COLD_START_FUNCTIONS[name]]["Handler"])


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


def measure(names: list[str], rounds: int = ROUNDS) -> dict[str, dict[str, list[float]]]:
    """Samples per kind: each function (sam build's package), each function + SOURCE, and "baseline".

    Every function sample is taken right after a baseline sample, and each
    kind's "ratio" list holds function / that baseline: the two processes
    ran back to back, so a burst of load on the shared machine hits both.
    """
    kinds = [*names, *(n + SOURCE for n in names)]
    samples: dict[str, dict[str, list[float]]] = {
        k: {"wall": [], "cpu": [], "ratio": [], "cpu_ratio": []} for k in ["baseline", *kinds]}
    with identity_provider() as (idp, settings), tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        paths = {bytecode: package.build(directory, bytecode=bytecode) for bytecode in (True, False)}
        events = first_invocations(idp.mint("alice", "Alice"))
        files = {}
        for name in ["baseline", *names]:
            files[name] = str(directory / f"{name}.json")
            Path(files[name]).write_text(json.dumps(events.get(name, [])))

        def sample(kind: str) -> tuple[float, float]:
            name = kind.removesuffix(SOURCE)
            logical = COLD_START_FUNCTIONS.get(name, "IssueFunction")  # baseline: any task root, boto3 only
            env = _child_env(settings, paths[not kind.endswith(SOURCE)][logical])
            return _sample(name, files[name], env)

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
    names = [n for n in COLD_START_FUNCTIONS if n in WITH_SCENARIO]
    unmeasured = sorted(set(COLD_START_FUNCTIONS) - set(names))
    samples = measure(names)

    def ratio(kind: str, measure: str = "ratio") -> float:
        return round(median(samples[kind][measure]), 2)

    wall_ms = {kind: round(median(s["wall"]), 1) for kind, s in samples.items()}
    how = (f"fresh process, import + first invocation up to its first AWS call, the package sam build makes "
           f"(functions/Makefile: with .pyc), built for this Python and machine; median over "
           f"{ROUNDS} rounds of its wall time / the baseline's (import boto3 + 1 DynamoDB client) run just "
           f"before it; target <= {TARGET_RATIO}")
    rows: list[tuple[str, Any, str]] = [("cold start baseline ms", wall_ms["baseline"],
                                         "python -c 'import boto3; boto3.client(\"dynamodb\")', median wall ms")]
    for name in names:
        rows.append((f"cold start {name} (x baseline)", ratio(name),
                     f"{wall_ms[name]:.0f} ms; CPU {ratio(name, 'cpu_ratio')}x; same package without .pyc "
                     f"{ratio(name + SOURCE)}x"))
    rows += [(f"cold start {name}", "not measured", "no first invocation in bench/scenarios.py")
             for name in unmeasured]
    return {
        "cold_start_ratio": {n: ratio(n) for n in names},
        "cold_start_cpu_ratio": {n: ratio(n, "cpu_ratio") for n in names},
        "cold_start_ratio_without_pyc": {n: ratio(n + SOURCE) for n in names},
        "cold_start_ms": wall_ms,
        "how": {
            "cold_start_ratio": how,
            "cold_start_cpu_ratio": "same pairs, user+system CPU time / the baseline's",
            "cold_start_ratio_without_pyc": "same, the package without its .pyc files "
                                            "(what sam build shipped before functions/Makefile)",
            "cold_start_ms": "median wall ms of the same processes",
        },
        "rows": rows,
    }
