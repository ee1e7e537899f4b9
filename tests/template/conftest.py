"""Template tier fixtures: the unit tier's in-process AWS (moto) and API driver, reused.

The least-privilege and filter proofs run the same flows the unit tests run,
so they borrow those fixtures rather than keep a second copy that could drift.
"""

import os
import subprocess
from pathlib import Path

import pytest

from localcloud.template import ROOT, TEMPLATE_PATH
from tests.unit.conftest import api, aws, idp, issue, settings_env, signing_mode  # noqa: F401

# -- one sam build for the whole tier ----------------------------------------------

SAM = ROOT / ".venv-sam" / "bin" / "sam"
# This machine's Python builds the package, so the runtime is overridden to match it (the build refuses otherwise).
BUILD_RUNTIME = "python3.11"


def sam_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # No telemetry, no account: validate and build are local operations.
    env.update(SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1")
    return env


@pytest.fixture(scope="session")
def sam() -> Path:
    """The SAM CLI from .venv-sam, bootstrapped with ``make sam`` if missing."""
    stamp = SAM.parent.parent / ".installed"
    if not (SAM.exists() and stamp.exists()):
        result = subprocess.run(["make", "sam"], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0 or not SAM.exists():
            reason = f"AWS SAM CLI could not be installed into .venv-sam (`make sam`):\n{result.stderr[-2000:]}"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
    return SAM


@pytest.fixture(scope="session")
def sam_build(sam, tmp_path_factory) -> Path:
    """``sam build`` of template.yaml (PythonRuntime=python3.11) into a temporary folder; its build dir."""
    root = tmp_path_factory.mktemp("sam")
    build_dir = root / "build"
    result = subprocess.run(
        [str(sam), "build", "--template-file", str(TEMPLATE_PATH), "--build-dir", str(build_dir),
         "--cache-dir", str(root / "cache"), "--parameter-overrides", f"PythonRuntime={BUILD_RUNTIME}"],
        cwd=ROOT, env=sam_env(), capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return build_dir
