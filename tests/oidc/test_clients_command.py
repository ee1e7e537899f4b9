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


@pytest.mark.parametrize("body", [{}, {"redirect_uris": "https://a.example/cb"}, {"redirect_uris": ["http://a.example/cb"]},
                                  {"redirect_uris": ["https://a.example/cb#x"]},
                                  {"redirect_uris": ["https://a.example/cb"], "public": "no"}])
def test_dev_clients_refuses_what_registration_refuses(provider, body):
    answer = provider.http.post(f"{provider.base_url}/dev/clients", json=body)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client_metadata"


def test_dev_clients_registers_a_public_loopback_client_without_a_secret(provider):
    answer = provider.http.post(f"{provider.base_url}/dev/clients",
                                json={"redirect_uris": ["http://127.0.0.1:8765/cb"], "public": True})
    assert answer.status_code == 201
    body = answer.json()
    assert body["public"] is True and "client_secret" not in body and body["token_endpoint_auth_method"] == "none"
