"""The documented client command against the local stack (``--local``), end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from localcloud.template import ROOT
from tests.oidc.conftest import CALLBACK, Provider

pytestmark = pytest.mark.oidc


def command(provider: Provider, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "scripts/oidc_clients.py", "--local", provider.base_url, *argv],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": "functions"}, capture_output=True, text=True,
                          timeout=60, check=False)


def test_a_client_registered_with_the_command_can_start_an_authorization(provider):
    registered = command(provider, "register", "--redirect-uri", CALLBACK, "--name", "Command line app")
    assert registered.returncode == 0, registered.stderr
    client = json.loads(registered.stdout)
    page = provider.http.get(f"{provider.base_url}/authorize", params={
        "client_id": client["client_id"], "redirect_uri": CALLBACK, "response_type": "code", "scope": "openid"})
    assert page.status_code == 200 and "Command line app" in page.text
    listed = command(provider, "list")
    assert client["client_id"] in listed.stdout and client["client_secret"] not in listed.stdout
    assert command(provider, "remove", client["client_id"]).returncode == 0
    gone = provider.http.get(f"{provider.base_url}/authorize", params={
        "client_id": client["client_id"], "redirect_uri": CALLBACK, "response_type": "code", "scope": "openid"})
    assert gone.status_code == 400 and "location" not in gone.headers
