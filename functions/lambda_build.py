"""Build one function's Lambda package, with bytecode: what ``sam build`` runs (``Metadata: BuildMethod: makefile``).

``functions/Makefile`` has ``make build-<LogicalId>`` run
``python3 lambda_build.py <LogicalId> $(ARTIFACTS_DIR)``.  This script

1. finds the function's Lambda runtime (``python3.13``...) and architecture
   in SAM's own record of the build (``build.toml`` beside the build folder:
   SAM writes it, with parameter overrides applied, before any function is
   built), or from ``--runtime`` / ``--architecture``;
2. refuses to build when this Python is not the runtime's version: a ``.pyc``
   tagged ``cpython-311`` is silently ignored by a 3.13 runtime, so every cold
   start would compile every module again.  It first looks for the right
   ``pythonX.Y`` on PATH and, if one runs, builds with that instead;
3. installs ``requirements.txt`` with pip for the runtime's Python version,
   ABI and Lambda's platform (manylinux wheels for arm64 or x86_64, the glibc
   of the runtime's Amazon Linux), once per build into a shared stage;
4. copies the code (this folder, less the build files) and compiles all of
   it with ``compileall --invalidation-mode unchecked-hash``: the Lambda file
   system is read-only, so bytecode cannot be written at run time, and a zip
   does not keep source modification times exactly, so timestamp-checked
   ``.pyc`` files could be judged stale and ignored.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import fcntl
import hashlib
import os
import platform
import py_compile
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

SOURCE = Path(__file__).resolve().parent
REQUIREMENTS = SOURCE / "requirements.txt"
# Build files, not code: never shipped.
EXCLUDED = {"Makefile", Path(__file__).name, "requirements.txt", "__pycache__", ".pytest_cache", ".mypy_cache"}
# glibc of each runtime's Amazon Linux (python3.11: AL2; 3.12 and later: AL2023), as sam's pip workflow has it.
RUNTIME_GLIBC = {"python3.11": (2, 26), "python3.12": (2, 34), "python3.13": (2, 34), "python3.14": (2, 34)}
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Where the task root's files live on Lambda: the path tracebacks show, and bytes that do not depend on the build dir.
TASK_ROOT = "/var/task"
STAGE_FORMAT = "1"  # bump when the stage's layout changes


class BuildError(Exception):
    """The build cannot produce a correct package; the message says why and what to do."""


def loud(message: str) -> None:
    bar = "!" * 78
    print(f"\n{bar}\n{message}\n{bar}\n", file=sys.stderr, flush=True)


def sam_build_record(function: str, artifacts: Path) -> dict[str, str] | None:
    """The runtime and architecture SAM resolved for ``function``, from build.toml beside the build folder."""
    record = artifacts.parent.parent / "build.toml"
    if not record.is_file():
        return None
    with record.open("rb") as handle:
        definitions = tomllib.load(handle).get("function_build_definitions", {})
    for definition in definitions.values():
        if function in definition.get("functions", []):
            return {"runtime": str(definition.get("runtime", "")),
                    "architecture": str(definition.get("architecture", ""))}
    return None


def target(function: str, artifacts: Path, runtime: str | None, architecture: str | None) -> tuple[str, str]:
    record = sam_build_record(function, artifacts) or {}
    runtime = runtime or record.get("runtime")
    architecture = architecture or record.get("architecture")
    host = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not runtime:
        loud(f"WARNING: SAM's build.toml does not name {function}'s runtime (a container build, or a build of\n"
             f"one resource), so this package is compiled for this Python, {host}. That is right inside\n"
             f"`sam build --use-container`, whose image is the runtime's; elsewhere make sure PythonRuntime is\n"
             f"{host}, or pass --runtime.")
        runtime = host
    if not architecture:
        architecture = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    if runtime not in RUNTIME_GLIBC:
        raise BuildError(f"{function}: runtime {runtime!r} is not one this build knows ({', '.join(RUNTIME_GLIBC)})")
    if architecture not in MACHINES:
        raise BuildError(f"{function}: architecture {architecture!r} is not one of {', '.join(MACHINES)}")
    return runtime, architecture


def matching_python(runtime: str) -> str | None:
    """A ``pythonX.Y`` on PATH that really runs and is the runtime's version (a pyenv shim may not be)."""
    found = shutil.which(runtime)
    if not found:
        return None
    version = runtime.removeprefix("python")
    probe = subprocess.run([found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],  # noqa: S603
                           capture_output=True, text=True, check=False)
    return found if probe.returncode == 0 and probe.stdout.strip() == version else None


def platforms(runtime: str, architecture: str) -> list[str]:
    """The wheel platform tags Lambda's runtime can load (manylinux up to its glibc)."""
    machine = MACHINES[architecture]
    tags = [f"manylinux2014_{machine}", f"manylinux_2_17_{machine}"]
    if machine == "x86_64":
        tags = [f"manylinux1_{machine}", f"manylinux2010_{machine}", *tags]
    if RUNTIME_GLIBC[runtime] >= (2, 34):
        tags += [f"manylinux_2_28_{machine}", f"manylinux_2_34_{machine}"]
    return tags


def compile_tree(root: Path) -> None:
    """Hash-based, unchecked bytecode for every module under ``root``; any module that fails fails the build."""
    ok = compileall.compile_dir(root, quiet=1, workers=0, stripdir=str(root), prependdir=TASK_ROOT,
                                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    if not ok:
        raise BuildError(f"compileall failed under {root} (see the errors above)")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """One builder at a time for a stage (sam build --parallel builds functions concurrently)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def dependencies(runtime: str, architecture: str, stages: Path) -> Path:
    """requirements.txt installed and compiled for the target, built once and shared by every function."""
    key = hashlib.sha256(b"\0".join([REQUIREMENTS.read_bytes(), runtime.encode(), architecture.encode(),
                                     STAGE_FORMAT.encode()])).hexdigest()[:16]
    stage = stages / f"{runtime}-{architecture}-{key}"
    with locked(stages / f"{stage.name}.lock"):
        if stage.is_dir():
            return stage
        partial = stages / f"{stage.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        version = runtime.removeprefix("python")
        abi = "cp" + version.replace(".", "")
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                   "--target", str(partial), "--only-binary=:all:", "--implementation", "cp",
                   "--python-version", version, "--abi", abi, "--abi", "abi3", "--abi", "none",
                   *[arg for tag in platforms(runtime, architecture) for arg in ("--platform", tag)],
                   "-r", str(REQUIREMENTS)]
        print(f"[lambda_build] pip install for {runtime} {architecture}", file=sys.stderr, flush=True)
        if subprocess.run(command, check=False).returncode != 0:  # noqa: S603 (pip, our own arguments)
            raise BuildError(f"pip could not install {REQUIREMENTS.name} for {runtime} on {architecture}")
        shutil.rmtree(partial / "bin", ignore_errors=True)  # console scripts: not used on Lambda
        compile_tree(partial)
        partial.rename(stage)
    return stage


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def build(function: str, artifacts: Path, runtime: str | None = None, architecture: str | None = None) -> None:
    runtime, architecture = target(function, artifacts, runtime, architecture)
    host = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != host:
        other = matching_python(runtime)
        if other is None:
            raise BuildError(
                f"{function}: PythonRuntime is {runtime} but this build runs on {host}, and no working {runtime}\n"
                f"is on PATH. Bytecode compiled by {host} would be silently ignored by {runtime}, so the build\n"
                f"stops here. Build for the deployed runtime with one of:\n"
                f"  sam build --use-container                       (the runtime's own build image)\n"
                f"  put {runtime} on PATH and run sam build again\n"
                f"  sam build --parameter-overrides PythonRuntime={host}   (and deploy with the same override)")
        print(f"[lambda_build] {function}: {host} is not {runtime}; building with {other}", file=sys.stderr)
        os.execv(other, [other, __file__, function, str(artifacts), "--runtime", runtime,  # noqa: S606
                         "--architecture", architecture])
    stage = dependencies(runtime, architecture, artifacts.parent.parent / "qrlogin-deps")
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copytree(stage, artifacts, dirs_exist_ok=True, copy_function=_link_or_copy)
    code = artifacts / ".code"
    shutil.rmtree(code, ignore_errors=True)
    shutil.copytree(SOURCE, code, ignore=lambda _dir, names: [
        n for n in names if n in EXCLUDED or n.endswith(".pyc") or n.startswith(".")])
    compile_tree(code)
    for entry in code.iterdir():
        destination = artifacts / entry.name
        if destination.is_dir():
            shutil.rmtree(destination)
        entry.rename(destination)
    code.rmdir()
    print(f"[lambda_build] {function}: {runtime} {architecture}, bytecode "
          f"{sys.implementation.cache_tag} -> {artifacts}", file=sys.stderr)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("function", help="the function's logical id (sam's build-<LogicalId> target)")
    parser.add_argument("artifacts", type=Path, help="where the package goes (sam's ARTIFACTS_DIR)")
    parser.add_argument("--runtime", help="pythonX.Y; default: what SAM resolved for the function")
    parser.add_argument("--architecture", choices=sorted(MACHINES), help="default: what SAM resolved")
    args = parser.parse_args(argv)
    if args.runtime and not re.fullmatch(r"python3\.\d+", args.runtime):
        parser.error(f"--runtime must look like python3.13, not {args.runtime!r}")
    try:
        build(args.function, args.artifacts.resolve(), args.runtime, args.architecture)
    except BuildError as error:
        loud(f"BUILD REFUSED: {error}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
