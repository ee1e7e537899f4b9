"""A Lambda-shaped ``sys.path`` for fresh-process benchmarks: task root + runtime.

On Lambda a function sees ``/var/task`` (CodeUri plus what ``sam build``
installs from ``functions/requirements.txt``) and the runtime's own boto3.
The development venv holds much more (moto, pillow, pytest...), and an import
that finds pillow there costs time that Lambda never pays (``qrcode`` imports
it when present).  So the fresh-process benchmarks run with ``python -S`` and
a ``PYTHONPATH`` of two folders built here from the venv's installed files
(hard links, so it takes milliseconds):

- the task root: ``functions/`` and the closure of ``functions/requirements.txt``
- the runtime: the closure of boto3

``sam build`` ships no ``.pyc`` files (its Python workflow excludes them and
unpacks wheels without compiling), so the task root comes in two layouts:
with bytecode (what a build step that compiles would ship) and without.
"""

from __future__ import annotations

import compileall
import importlib.metadata as metadata
import os
import shutil
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
RUNTIME_DISTRIBUTIONS = ["boto3"]  # what the Lambda Python runtime provides


def _requirements(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(Requirement(line).name)
    return names


def closure(names: list[str], exclude: frozenset[str] = frozenset()) -> list[metadata.Distribution]:
    """The installed distributions ``names`` need (extras not taken, markers evaluated)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen or key in exclude:
            continue
        dist = metadata.distribution(name)
        seen[key] = dist
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(seen.values())


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _install(dists: list[metadata.Distribution], target: Path, *, bytecode: bool) -> None:
    for dist in dists:
        for file in dist.files or []:
            parts = file.parts
            if parts[0].endswith((".dist-info", ".data")) or parts[0] == ".." or file.suffix == ".pth":
                continue
            if not bytecode and (file.suffix == ".pyc" or "__pycache__" in parts):
                continue
            source = Path(str(file.locate()))
            if source.is_file():
                _link(source, target / file)


def _runtime_names() -> frozenset[str]:
    return frozenset(d.metadata["Name"].lower().replace("_", "-") for d in closure(RUNTIME_DISTRIBUTIONS))


def build(directory: Path, *, bytecode: bool) -> str:
    """Build the task root and runtime under ``directory``; returns the PYTHONPATH to use."""
    runtime = directory / "runtime"
    if not runtime.exists():
        _install(closure(RUNTIME_DISTRIBUTIONS), runtime, bytecode=True)
    task_root = directory / ("task-root" if bytecode else "task-root-no-pyc")
    shutil.copytree(FUNCTIONS_DIR, task_root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dists = closure(_requirements(FUNCTIONS_DIR / "requirements.txt"), exclude=_runtime_names())
    _install(dists, task_root, bytecode=bytecode)
    if bytecode:
        compileall.compile_dir(task_root, quiet=1)
    return os.pathsep.join([str(task_root), str(runtime)])
