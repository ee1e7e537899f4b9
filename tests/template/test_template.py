"""template.yaml as AWS will read it: cfn-lint, sam validate, sam build, handlers, env vars.

sam (AWS SAM CLI) lives in its own virtualenv, .venv-sam, pinned in
requirements-sam.txt (its pins clash with ours); the fixture bootstraps it
with ``make sam`` when it is missing.  Outside CI a failed bootstrap skips
the sam tests with the reason; under CI=true it fails them.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.template import ROOT, TEMPLATE_PATH, functions, load_template
from qrlogin.config import ENVIRONMENT_VARIABLES
from tests.template.conftest import sam_env

pytestmark = pytest.mark.template

TEMPLATE = load_template()
FUNCTIONS = functions(TEMPLATE)
FUNCTIONS_DIR = ROOT / "functions"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
# Variables the runtime libraries read (not our code); the template may set them.
LIBRARY_VARIABLE_PREFIXES = ("POWERTOOLS_",)
# ELF e_machine values (little endian, offset 18): what the built native code runs on.
ELF_MACHINES = {0xB7: "aarch64", 0x3E: "x86_64"}


def run(command: list[str], *, timeout: float, env: dict[str, str] | None = None,
        cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


# -- cfn-lint ---------------------------------------------------------------------


def test_cfn_lint_reports_nothing():
    # Given the template  When cfn-lint (the one in our venv) reads it
    result = run([str(Path(sys.executable).with_name("cfn-lint")), str(TEMPLATE_PATH)], timeout=120)
    # Then it has no finding at all (errors, warnings or informational)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


# -- sam ------------------------------------------------------------------------------


def test_sam_validate_lint_passes(sam):
    result = run([str(sam), "validate", "--lint", "--template-file", str(TEMPLATE_PATH)], timeout=300, env=sam_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def elf_machine(path: Path) -> str:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), "other")


def test_sam_build_packages_every_function_for_arm64(sam_build):
    # Given the template's functions are arm64 by default and we build on this (x86_64) machine without a container
    assert TEMPLATE["Parameters"]["Architecture"]["Default"] == "arm64"
    assert all(p["Architectures"] == [{"Ref": "Architecture"}] for p in FUNCTIONS.values())

    # When sam builds into a temporary directory (the repository stays clean; conftest's sam_build, PythonRuntime=3.11)
    build_dir = sam_build

    # Then each function's artifact holds our packages and dependencies
    for name, props in FUNCTIONS.items():
        artifact = build_dir / name
        handler_module = props["Handler"].rsplit(".", 1)[0]
        assert (artifact / (handler_module.replace(".", "/") + ".py")).is_file(), f"{name}: handler not packaged"
        for package in ("qrlogin", "aws_lambda_powertools", "qrcode", "cryptography"):
            assert (artifact / package).is_dir(), f"{name}: {package} missing from the build"
    # And every native extension was downloaded for the target: aarch64, not this machine's x86_64
    native = sorted(build_dir.glob("*/**/*.so"))
    assert native, "expected native extensions (cryptography, cffi) in the build"
    machines = {str(p.relative_to(build_dir)): elf_machine(p) for p in native}
    assert set(machines.values()) == {"aarch64"}, {k: v for k, v in machines.items() if v != "aarch64"}


# -- handlers --------------------------------------------------------------------------


def test_every_handler_resolves_to_an_importable_callable():
    # Given only functions/ on the path (as in the Lambda package, CodeUri functions/) and no settings
    handlers = {name: props["Handler"] for name, props in FUNCTIONS.items()}
    assert {props["CodeUri"] for props in FUNCTIONS.values()} == {"functions/"}
    probe = (
        "import importlib, json, sys\n"
        "result = {}\n"
        "for name, handler in json.loads(sys.argv[1]).items():\n"
        "    module, attribute = handler.rsplit('.', 1)\n"
        "    result[name] = callable(getattr(importlib.import_module(module), attribute, None))\n"
        "print(json.dumps(result))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ENVIRONMENT_VARIABLES and not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(FUNCTIONS_DIR)
    # When each Handler is imported in a fresh interpreter
    result = run([sys.executable, "-s", "-c", probe, json.dumps(handlers)], timeout=120, env=env, cwd=FUNCTIONS_DIR)
    # Then each resolves to a callable (importing costs no settings and no AWS)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == dict.fromkeys(handlers, True)


# -- environment variables ------------------------------------------------------------------


def _reads_environment(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & {
                "environ", "getenv"}:
            return True
    return False


def _variable_names(tree: ast.Module) -> set[str]:
    """Upper-case string literals used as a call's first argument or a subscript: env.get("X"), required("X")."""
    names = set()
    for node in ast.walk(tree):
        candidate = None
        if isinstance(node, ast.Call) and node.args:
            candidate = node.args[0]
        elif isinstance(node, ast.Subscript):
            candidate = node.slice
        if (isinstance(candidate, ast.Constant) and isinstance(candidate.value, str)
                and candidate.value.isupper() and candidate.value.replace("_", "").isalnum()):
            names.add(candidate.value)
    return names


def environment_variables_read_by_code() -> dict[str, set[str]]:
    """Module path -> the variable names it reads, for every module of functions/ that touches the environment."""
    found = {}
    for path in sorted(FUNCTIONS_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        if _reads_environment(tree):
            found[str(path.relative_to(FUNCTIONS_DIR))] = _variable_names(tree)
    return found


def test_the_scan_finds_the_settings_module():
    # The scan must see what it is meant to see, or the next test proves nothing.
    readers = environment_variables_read_by_code()
    assert "qrlogin/config.py" in readers
    assert {"TABLE_NAME", "SIGNING_KEY_ID", "PHONE_JWKS_URL"} <= readers["qrlogin/config.py"]


def test_config_lists_exactly_the_variables_the_code_reads():
    read = set().union(*environment_variables_read_by_code().values())
    assert read == set(ENVIRONMENT_VARIABLES), {
        "read but not in ENVIRONMENT_VARIABLES": sorted(read - set(ENVIRONMENT_VARIABLES)),
        "listed but never read": sorted(set(ENVIRONMENT_VARIABLES) - read),
    }


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_every_variable_the_code_reads_is_set_for_the_function(function_name):
    read = set().union(*environment_variables_read_by_code().values())
    variables = FUNCTIONS[function_name]["Environment"]["Variables"]
    assert sorted(read - set(variables)) == [], f"{function_name} lacks these variables"
    unused = {v for v in variables if v not in read and not v.startswith(LIBRARY_VARIABLE_PREFIXES)}
    assert sorted(unused) == [], f"{function_name} sets variables nothing reads"
