"""``python -m bench [NAME ...]``: run the benchmarks, print one table, write results.json.

With no NAME every module runs and ``bench/results.json`` is rewritten; with
names only those run and the file is left alone (a partial run is not a
release's figures).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

# Order matters a little: the process-spawning cold-start runs first, while
# nothing else of ours is loaded or warm.
MODULES = [
    "bench.cold_start",
    "bench.memory",
    "bench.qr",
    "bench.warm",
    "bench.per_login",
    "bench.push_latency",
    "bench.load",
]
RESULTS = Path(__file__).resolve().parent / "results.json"


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_format(v)}" for k, v in value.items())
    return str(value)


def print_table(rows: list[tuple[str, Any, str]]) -> None:
    width = max((len(figure) for figure, _, _ in rows), default=10)
    values = [_format(value) for _, value, _ in rows]
    value_width = min(max((len(v) for v in values), default=5), 48)
    print(f"{'figure':<{width}}  {'value':<{value_width}}  how measured")
    print(f"{'-' * width}  {'-' * value_width}  {'-' * 40}")
    for (figure, _, how), value in zip(rows, values, strict=True):
        print(f"{figure:<{width}}  {value:<{value_width}}  {how}")


def main(argv: list[str]) -> int:
    wanted = [m for m in MODULES if not argv or _short(m) in argv]
    unknown = set(argv) - {_short(m) for m in MODULES}
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(map(_short, MODULES))}")
        return 2
    results: dict[str, Any] = {}
    how: dict[str, str] = {}
    rows: list[tuple[str, Any, str]] = []
    failed = []
    for name in wanted:
        started = time.monotonic()
        print(f"[bench] {_short(name)} ...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            print(f"[bench] {_short(name)}: not present, skipped", file=sys.stderr)
            continue
        try:
            figures = dict(module.run())
        except Exception:
            traceback.print_exc()
            failed.append(_short(name))
            continue
        how.update(figures.pop("how", {}))
        module_rows = figures.pop("rows", None)
        results.update(figures)
        if module_rows is None:
            module_rows = [(key, value, how.get(key, "")) for key, value in figures.items()]
        rows.extend(module_rows)
        print(f"[bench] {_short(name)} done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    results["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["how_measured"] = how
    print_table(rows)
    if not argv and not failed:
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(f"\nwrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
