"""Register, list and remove the OpenID Provider's clients (DESIGN §8) of a deployed or a local stack.

    PYTHONPATH=functions python scripts/oidc_clients.py --stack qrlogin register \\
        --redirect-uri https://app.example.com/callback [--redirect-uri ...] [--public] [--name "My app"] [--alg RS256]
    PYTHONPATH=functions python scripts/oidc_clients.py --stack qrlogin list
    PYTHONPATH=functions python scripts/oidc_clients.py --stack qrlogin remove <client_id>
    ... --local http://127.0.0.1:3000 ...        the same against `make dev`'s stack

A deployed stack's table is read from its CloudFormation output ``TableName``
(credentials and region as for any AWS CLI call; ``--region`` overrides).  The
client secret is printed once, at registration; the table keeps only its hash.
The rules a registration must pass are the functions' own
(``qrlogin.oauth.clients``), so nothing here can register a client the
endpoints would not accept.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

import boto3

from qrlogin.oauth.clients import DEFAULT_SIGNING_ALG, SIGNING_ALGS, ClientRegistry, InvalidClientMetadata

LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                     "aws_session_token": "testing"}


def table_of_stack(cloudformation: Any, stack_name: str) -> str:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "TableName" not in outputs:
        raise SystemExit(f"stack {stack_name} has no TableName output: is it a qrlogin stack?")
    return outputs["TableName"]


def registry_for(args: argparse.Namespace) -> ClientRegistry:
    if args.local:
        with urllib.request.urlopen(args.local.rstrip("/") + "/dev/stack", timeout=10) as answer:  # noqa: S310
            stack = json.load(answer)
        dynamodb = boto3.client("dynamodb", endpoint_url=stack["aws_endpoint"], region_name=stack["region"],
                                **LOCAL_CREDENTIALS)
        return ClientRegistry(stack["table_name"], dynamodb)
    session = boto3.session.Session(region_name=args.region)
    return ClientRegistry(table_of_stack(session.client("cloudformation"), args.stack), session.client("dynamodb"))


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = root.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed stack's name")
    where.add_argument("--local", metavar="URL", help="the local stack's base URL (make dev)")
    root.add_argument("--region", help="AWS region of the deployed stack")
    commands = root.add_subparsers(dest="command", required=True)
    register = commands.add_parser("register", help="register a client; prints its id and, once, its secret")
    register.add_argument("--redirect-uri", action="append", required=True, dest="redirect_uris")
    register.add_argument("--public", action="store_true", help="no secret (a SPA or native app; PKCE required)")
    register.add_argument("--name", default="", help="shown on the hosted sign-in page")
    register.add_argument("--alg", choices=SIGNING_ALGS, help=f"id_token algorithm (default {DEFAULT_SIGNING_ALG})")
    commands.add_parser("list", help="every client, without secrets")
    remove = commands.add_parser("remove", help="remove a client")
    remove.add_argument("client_id")
    return root


def main(argv: Sequence[str] | None = None, registry: ClientRegistry | None = None) -> int:
    args = parser().parse_args(argv)
    registry = registry or registry_for(args)
    if args.command == "register":
        try:
            client, secret = registry.register(args.redirect_uris, public=args.public, name=args.name,
                                               id_token_signed_response_alg=args.alg, now=int(time.time()))
        except InvalidClientMetadata as problem:
            print(f"refused: {problem}", file=sys.stderr)
            return 2
        print(json.dumps({**client.describe(), **({"client_secret": secret} if secret else {})}, indent=2))
    elif args.command == "list":
        print(json.dumps([client.describe() for client in registry.list()], indent=2))
    elif not registry.delete(args.client_id):
        print(f"no client {args.client_id}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
