"""The package ``sam build`` makes ships bytecode for the runtime (functions/Makefile, functions/lambda_build.py).

The Lambda file system is read-only, so a package without ``.pyc`` files
compiles every module at every cold start, and a ``.pyc`` tagged for another
Python version is silently ignored.  These tests read what ``sam build``
(conftest's ``sam_build``, PythonRuntime=python3.11) left in
``<build>/<Function>/``, and run the build script's refusal directly.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.template import ROOT, functions, load_template

pytestmark = pytest.mark.template

TEMPLATE = load_template()
FUNCTIONS = functions(TEMPLATE)
BUILD_SCRIPT = ROOT / "functions" / "lambda_build.py"
HOST_TAG = sys.implementation.cache_tag  # cpython-311 here: the build runs on this Python
BUILD_FILES = ("Makefile", "lambda_build.py", "requirements.txt")
# PEP 552 flags word: bit 0 hash-based, bit 1 check_source. unchecked-hash = 0b01.
UNCHECKED_HASH = 0b01


def pyc_for(source: Path, tag: str = HOST_TAG) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"


def test_every_function_is_built_by_the_makefile():
    # Given every function in the template (the OIDC ones too, as they appear)
    # Then each names the makefile build, whatever other Metadata (checkov skips...) it carries
    missing = {name for name, resource in TEMPLATE["Resources"].items()
               if resource["Type"] == "AWS::Serverless::Function"
               and (resource.get("Metadata") or {}).get("BuildMethod") != "makefile"}
    assert not missing, f"functions without Metadata: BuildMethod: makefile: {sorted(missing)}"


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_every_module_in_the_package_has_unchecked_hash_bytecode_of_the_runtime(sam_build, function_name):
    # Given the function's built artifact
    artifact = sam_build / function_name
    sources = sorted(artifact.rglob("*.py"))
    assert len(sources) > 100, "expected our code and the dependencies in the artifact"
    # Then every module has a .pyc of this Python's tag, and no .pyc of any other tag is shipped
    uncompiled = [str(s.relative_to(artifact)) for s in sources if not pyc_for(s).is_file()]
    assert not uncompiled, uncompiled[:20]
    tags = {p.name.split(".")[-2] for p in artifact.rglob("*.pyc")}
    assert tags == {HOST_TAG}, tags
    # And each .pyc is hash-based and unchecked (a zip keeps no exact mtimes; Lambda cannot rewrite it),
    # with the hash of the very source shipped beside it
    for source in sources:
        header = pyc_for(source).read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER, source
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, f"{source}: not unchecked-hash"
        assert header[8:16] == importlib.util.source_hash(source.read_bytes()), f"{source}: stale bytecode"


def test_the_build_files_are_not_shipped(sam_build):
    for function_name in FUNCTIONS:
        shipped = [name for name in BUILD_FILES if (sam_build / function_name / name).exists()]
        assert not shipped, f"{function_name} ships {shipped}"
        assert not (sam_build / function_name / "bin").exists(), f"{function_name} ships console scripts"


def test_python_loads_the_shipped_bytecode_without_compiling(sam_build):
    # Given a fresh interpreter whose source compiler is switched off: any module it would compile fails loudly
    probe = (
        "import importlib._bootstrap_external as ext, sys\n"
        "def refuse(self, data, path, *a, **k):\n"
        "    raise SystemExit(f'compiled from source: {path}')\n"
        "ext.SourceLoader.source_to_code = refuse\n"
        "import qrlogin.errors, qrlogin.sessions, aws_lambda_powertools.logging, jmespath, typing_extensions\n"
        "print(sys.modules['qrlogin.sessions'].__cached__)\n"
    )
    artifact = sam_build / "WebSocketFunction"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    env.update(PYTHONPATH=str(artifact), PYTHONDONTWRITEBYTECODE="1")
    # When it imports our modules and pure-Python dependencies from the artifact (the native ones are aarch64)
    result = subprocess.run([sys.executable, "-S", "-P", "-c", probe], env=env, cwd=artifact,
                            capture_output=True, text=True, timeout=60, check=False)
    # Then every import came from the shipped .pyc files
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(f"sessions.{HOST_TAG}.pyc"), result.stdout


def other_runtime() -> str:
    return "python3.13" if sys.version_info[:2] != (3, 13) else "python3.12"


def run_build_script(artifacts: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PATH"] = str(artifacts.parent)  # no pythonX.Y to switch to: the script must refuse
    return subprocess.run([sys.executable, str(BUILD_SCRIPT), "IssueFunction", str(artifacts), *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_the_build_refuses_a_runtime_other_than_its_python(tmp_path):
    # Given a build asked for another Python version than the one running it, and none on PATH
    artifacts = tmp_path / "build" / "IssueFunction"
    # When the build script runs
    result = run_build_script(artifacts, "--runtime", other_runtime(), "--architecture", "arm64")
    # Then it refuses loudly, names both versions and the ways out, and builds nothing
    assert result.returncode == 2, result.stdout + result.stderr
    assert "BUILD REFUSED" in result.stderr and other_runtime() in result.stderr
    assert "sam build --use-container" in result.stderr
    assert not artifacts.exists() and not (tmp_path / "qrlogin-deps").exists()


def test_the_build_reads_the_runtime_sam_resolved_from_build_toml(tmp_path):
    # Given SAM's record of the build (written before any function builds) naming another runtime for the function
    (tmp_path / "build.toml").write_text(
        "[function_build_definitions.abc]\n"
        f'codeuri = "functions"\nruntime = "{other_runtime()}"\narchitecture = "arm64"\n'
        'functions = ["IssueFunction"]\n')
    artifacts = tmp_path / "build" / "IssueFunction"
    # When the build script runs with no --runtime
    result = run_build_script(artifacts)
    # Then it took the runtime from the record, and refused
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"PythonRuntime is {other_runtime()}" in result.stderr


def test_the_package_ships_no_pyjwt(sam_build):
    # Phone tokens are verified with cryptography's primitives (qrlogin/jws.py); PyJWT is a dev tool here
    shipped = [name for name in FUNCTIONS if (sam_build / name / "jwt").exists()]
    assert not shipped, f"PyJWT is in {shipped}"
