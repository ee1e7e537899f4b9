"""Rotate and list the signing keys of a deployed or a local stack (README, "Signing keys and rotation").

    PYTHONPATH=functions python scripts/signing_keys.py --stack qrlogin list
    PYTHONPATH=functions python scripts/signing_keys.py --stack qrlogin rotate [--algorithm ES256] [--activate-in N]
    ... --local http://127.0.0.1:3000 ...        the same against `make dev`'s stack

``rotate`` adds a new key per algorithm (both unless ``--algorithm``), encrypted
under the stack's KMS key, published in the JWKS at once and signing from
``--activate-in`` seconds on (default: long enough for every cached JWKS and
every container to have seen it).  The previous key stays published until every
token it can have signed has expired.  ``--activate-in 0`` switches at once
(a compromised key: relying parties refetch the JWKS for the unknown kid).
SigningKeyMode=kms keys live in KMS: rotate them by replacing the KMS key.

A deployed stack is found by name (CloudFormation: output ``TableName``,
parameter ``SigningKeyMode``, resources ``SigningKey``/``RsaSigningKey``);
credentials and region as for any AWS CLI call (``--region`` overrides).  The
key is made with the functions' own code (``qrlogin.signing``), so it is bound
exactly as theirs would be.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from qrlogin.keyring import RETIRED_KEY_PUBLISHED_SECONDS, ROTATION_NOTICE_SECONDS, Keyring
from qrlogin.signing import SIGNING_ALGORITHMS, EnvelopeKeys
from qrlogin.store import SessionStore

LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                     "aws_session_token": "testing"}


@dataclass(frozen=True)
class Target:
    table_name: str
    mode: str
    kms_key_arns: dict[str, str]  # logical id -> ARN (envelope mode: SigningKey)
    dynamodb: Any
    kms: Any

    def keys(self) -> EnvelopeKeys:
        """The keys ``rotate`` makes: envelope mode's (kms mode's keys are KMS keys, never made here)."""
        store = SessionStore(self.table_name, client=self.dynamodb)
        return EnvelopeKeys(store, dict.fromkeys(SIGNING_ALGORITHMS, self.kms_key_arns["SigningKey"]),
                            client=self.kms)


def local_target(base_url: str) -> Target:
    with urllib.request.urlopen(base_url.rstrip("/") + "/dev/stack", timeout=10) as answer:  # noqa: S310
        stack = json.load(answer)
    clients = {name: boto3.client(name, endpoint_url=stack["aws_endpoint"], region_name=stack["region"],
                                  **LOCAL_CREDENTIALS) for name in ("dynamodb", "kms")}
    return Target(stack["table_name"], stack["signing_key_mode"], stack["key_arns"], clients["dynamodb"],
                  clients["kms"])


def stack_target(stack_name: str, region: str | None) -> Target:
    session = boto3.session.Session(region_name=region)
    cloudformation, kms = session.client("cloudformation"), session.client("kms")
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    if "TableName" not in outputs:
        raise SystemExit(f"stack {stack_name} has no TableName output: is it a qrlogin stack?")
    mode = parameters.get("SigningKeyMode", "envelope")
    arns = {}
    if mode != "kms":  # only rotate uses the key, and it refuses kms mode
        resource = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId="SigningKey")
        key_id = resource["StackResourceDetail"]["PhysicalResourceId"]
        # The functions name the key by ARN (!GetAtt SigningKey.Arn); so does the binding.
        arns["SigningKey"] = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    return Target(outputs["TableName"], mode, arns, session.client("dynamodb"), kms)


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(ring: Keyring, now: float) -> list[str]:
    current = ring.current(now)
    published = ring.published(now)
    lines = []
    for entry in ring.entries:
        retired = ring.retired_at(entry, now)
        if entry.active_from > now:
            state = f"upcoming: signs from {_when(entry.active_from)}"
        elif entry is current:
            state = "current"
        elif retired is not None and entry in published:
            state = f"retired: published until {_when(retired + RETIRED_KEY_PUBLISHED_SECONDS)}"
        else:
            state = "expired"
        lines.append(f"{ring.algorithm}  {entry.kid}  {entry.mode}  {entry.protected_by or '-'}  {state}")
    return lines


def list_keys(target: Target, now: float) -> int:
    store = SessionStore(target.table_name, client=target.dynamodb)
    for algorithm in SIGNING_ALGORITHMS:
        ring = store.get_keyring(algorithm, consistent=True)
        print("\n".join(describe(ring, now)) if ring else f"{algorithm}  (no key yet: the first token or JWKS "
                                                             "request makes one)")
    return 0


def rotate(target: Target, algorithms: Sequence[str], activate_in: int, now: float) -> int:
    if target.mode == "kms":
        print("SigningKeyMode=kms: the keys are the stack's KMS keys; rotate by replacing the KMS key "
              "(README, \"Signing keys and rotation\").", file=sys.stderr)
        return 2
    keys = target.keys()
    for algorithm in algorithms:
        entry = keys.rotate(algorithm, now, activate_in)
        print(f"{algorithm}: new key {entry.kid}, published now, signs from {_when(entry.active_from)}; "
              f"the previous key stays published until its tokens have expired")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    where = root.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed stack's name")
    where.add_argument("--local", metavar="URL", help="the local stack's base URL (make dev)")
    root.add_argument("--region", help="AWS region of the deployed stack")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="every key of every algorithm, and its state")
    rotating = commands.add_parser("rotate", help="publish a new key that becomes current after --activate-in")
    rotating.add_argument("--algorithm", choices=SIGNING_ALGORITHMS, action="append",
                          help="only this algorithm (repeatable; default: all)")
    rotating.add_argument("--activate-in", type=int, default=ROTATION_NOTICE_SECONDS, metavar="SECONDS",
                          help=f"seconds until the new key signs (default {ROTATION_NOTICE_SECONDS}; 0: at once)")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    target = local_target(args.local) if args.local else stack_target(args.stack, args.region)
    now = time.time()
    if args.command == "list":
        return list_keys(target, now)
    if args.activate_in < 0:
        raise SystemExit("--activate-in must be >= 0")
    return rotate(target, args.algorithm or SIGNING_ALGORITHMS, args.activate_in, now)


if __name__ == "__main__":
    sys.exit(main())
