"""A Lambda-shaped ``sys.path`` for fresh-process benchmarks: the package ``sam build`` makes + the runtime.

On Lambda a function sees ``/var/task`` (its ``sam build`` artifact: CodeUri,
the closure of ``functions/requirements.txt`` and, through
``functions/Makefile``, their bytecode) and the runtime's own boto3.  The
development venv holds much more (moto, pillow, pytest...), and an import
that finds pillow there costs time that Lambda never pays (``qrcode`` imports
it when present).  So the fresh-process benchmarks run with ``python -S`` and
a ``PYTHONPATH`` of two folders:

- the task root: what ``sam build`` (from .venv-sam) put in
  ``<build>/<LogicalId>/``, built for this machine's Python and architecture
  (``PythonRuntime`` and ``Architecture`` overridden; the template's default
  architecture is arm64, whose native wheels cannot load here);
- the runtime: the closure of boto3, hard-linked from the venv.

``bytecode=False`` gives the same artifacts with every ``.pyc`` left out:
what ``sam build``'s own Python workflow shipped before the makefile build.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = ROOT / "functions"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
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


def sam_build(directory: Path) -> Path:
    """``sam build`` of template.yaml into ``directory/build`` for this Python and machine; the build dir."""
    build_dir = directory / "build"
    if (build_dir / "template.yaml").is_file():
        return build_dir
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    architecture = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="us-east-1")
    done = subprocess.run([str(SAM), "build", "--template-file", str(ROOT / "template.yaml"),
                           "--build-dir", str(build_dir), "--cache-dir", str(directory / "cache"),
                           "--parameter-overrides", f"PythonRuntime={runtime}", f"Architecture={architecture}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sam build failed (make sam installs it):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return build_dir


def build(directory: Path, *, bytecode: bool) -> dict[str, str]:
    """Build under ``directory``; function logical id -> the PYTHONPATH its cold start uses."""
    runtime = directory / "runtime"
    if not runtime.exists():
        _install(closure(RUNTIME_DISTRIBUTIONS), runtime, bytecode=True)
    build_dir = sam_build(directory)
    paths = {}
    for artifact in sorted(p for p in build_dir.iterdir() if p.is_dir()):
        task_root = artifact
        if not bytecode:
            task_root = directory / "no-pyc" / artifact.name
            if not task_root.exists():
                shutil.copytree(artifact, task_root, copy_function=_link_copy,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        paths[artifact.name] = os.pathsep.join([str(task_root), str(runtime)])
    return paths


def _link_copy(source: str, target: str) -> None:
    _link(Path(source), Path(target))
