"""What a cold start imports: each handler, in a fresh interpreter, imports only what it uses.

The cold-start figures (make bench, docs/performance.md) depend on these:
Powertools' ``event_handler`` package is resolved lazily
(``qrlogin.lean_imports``), and functions that never verify a phone token do
not import the phone-token verifiers.  The lean package must offer every
public name of the real one, from the same objects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from localcloud.template import ROOT, functions, load_template
from qrlogin.lean_imports import PACKAGE, PUBLIC_NAMES

pytestmark = pytest.mark.template

FUNCTIONS = functions(load_template())
# Resolvers of the real package's __init__ that none of our handlers uses.
UNUSED_RESOLVERS = ("appsync", "bedrock_agent", "bedrock_agent_function", "vpc_lattice", "lambda_function_url",
                    "events_appsync.appsync_events")


def fresh(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    env["PYTHONPATH"] = str(ROOT / "functions")
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT / "functions", capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_lean_package_offers_every_name_of_powertools_own_from_the_same_objects():
    # Given Powertools' real event_handler package, imported normally in a fresh interpreter
    probe = (
        "import importlib, json\n"
        f"real = importlib.import_module({PACKAGE!r})\n"
        f"where = {PUBLIC_NAMES!r}\n"
        "same = {n: getattr(real, n) is getattr(importlib.import_module(real.__name__ + '.' + where[n]), n)\n"
        "        for n in where if hasattr(real, n)}\n"
        "print(json.dumps({'all': sorted(real.__all__), 'same': same}))\n"
    )
    result = fresh(probe)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    # Then the lean package names exactly its public names, each from the submodule that defines it
    assert sorted(PUBLIC_NAMES) == found["all"]
    assert found["same"] == dict.fromkeys(PUBLIC_NAMES, True)


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_a_handler_imports_no_resolver_it_does_not_use(function_name):
    # Given a fresh interpreter with only functions/ on the path, as on Lambda
    module, attribute = FUNCTIONS[function_name]["Handler"].rsplit(".", 1)
    probe = (
        "import importlib, json, sys\n"
        f"handler = getattr(importlib.import_module({module!r}), {attribute!r})\n"
        "print(json.dumps({'callable': callable(handler), 'loaded': sorted(sys.modules)}))\n"
    )
    # When the handler module is imported
    result = fresh(probe)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    loaded = set(found["loaded"])
    # Then it works, and none of the resolvers it never uses was imported
    assert found["callable"]
    assert not {f"{PACKAGE}.{name}" for name in UNUSED_RESOLVERS} & loaded
    # And only the function that verifies phone tokens imports their verifiers (urllib, http.client)
    if function_name != "ConfirmFunction":
        assert "qrlogin.phone_auth.jwt_mode" not in loaded and "qrlogin.phone_auth.introspection" not in loaded


def test_verifying_a_phone_token_imports_neither_pyjwt_nor_the_rest_of_cryptography():
    # Given a fresh interpreter that verifies an ES256 phone token as the confirm function's first request does
    probe = (
        "import base64, json, sys, time\n"
        "from cryptography.hazmat.primitives import hashes\n"
        "from cryptography.hazmat.primitives.asymmetric import ec, utils\n"
        "from qrlogin.phone_auth.claims import TokenPolicy\n"
        "from qrlogin.phone_auth.jwks import JwksCache\n"
        "from qrlogin.phone_auth.jwt_mode import JwtPhoneTokenVerifier\n"
        "b64 = lambda d: base64.urlsafe_b64encode(d).rstrip(b'=').decode()\n"
        "key = ec.generate_private_key(ec.SECP256R1()); pub = key.public_key().public_numbers()\n"
        "jwk = {'kty': 'EC', 'crv': 'P-256', 'kid': 'k', 'x': b64(pub.x.to_bytes(32, 'big')),\n"
        "       'y': b64(pub.y.to_bytes(32, 'big'))}\n"
        "head = b64(json.dumps({'alg': 'ES256', 'kid': 'k'}).encode())\n"
        "body = b64(json.dumps({'iss': 'https://i', 'sub': 'alice', 'aud': 'a', 'exp': time.time() + 60}).encode())\n"
        "r, s = utils.decode_dss_signature(key.sign(f'{head}.{body}'.encode(), ec.ECDSA(hashes.SHA256())))\n"
        "token = f'{head}.{body}.' + b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))\n"
        "verifier = JwtPhoneTokenVerifier('https://i', 'https://i/jwks', TokenPolicy(audience='a'),\n"
        "    jwks=JwksCache('https://i/jwks', fetch=lambda url, timeout: {'keys': [jwk]}))\n"
        "user = verifier.verify(token)\n"
        "print(json.dumps({'sub': user.sub, 'jwt': 'jwt' in sys.modules,\n"
        "                  'x509': 'cryptography.x509' in sys.modules}))\n"
    )
    result = fresh(probe)
    assert result.returncode == 0, result.stderr
    # Then it verified, and PyJWT (which imports cryptography's x509, SSH and cipher modules) never loaded
    assert json.loads(result.stdout) == {"sub": "alice", "jwt": False, "x509": False}
