"""``python -m localcloud [--host 127.0.0.1] [--port 3000] [--param Name=Value ...] [--containers N]``

Prints ``ready http://HOST:PORT`` once it serves (``--port 0`` picks a free
port and the line names it), then one line per function invocation; stops
cleanly on SIGINT/SIGTERM.  See localcloud/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from localcloud.resolve import UnresolvableValue
from localcloud.runtime import DEFAULT_MAX_CONTAINERS
from localcloud.stack import LocalStack


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description="Run qrlogin on this machine.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="port to bind; 0 picks a free one (default 3000)")
    parser.add_argument("--param", action="append", default=[], metavar="Name=Value",
                        help="override a template parameter (repeatable)")
    parser.add_argument("--containers", type=int, default=DEFAULT_MAX_CONTAINERS, metavar="N",
                        help=f"most warm containers per function, its concurrency (default {DEFAULT_MAX_CONTAINERS})")
    arguments = parser.parse_args(argv)
    if arguments.containers < 1:
        parser.error("--containers takes a positive number")
    arguments.overrides = {}
    for item in arguments.param:
        name, separator, value = item.partition("=")
        if not separator or not name:
            parser.error(f"--param takes Name=Value, not {item!r}")
        arguments.overrides[name] = value
    return arguments


async def serve(stack: LocalStack) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stopping.set)
    base_url = await stack.start()
    print(f"ready {base_url}", flush=True)
    print(f"login page {base_url}/  phone simulator {base_url}/phone  (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        await stopping.wait()
    finally:
        await stack.stop()


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    stack = LocalStack(arguments.host, arguments.port, arguments.overrides, arguments.containers)
    try:
        asyncio.run(serve(stack))
    except UnresolvableValue as error:
        print(f"localcloud: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"localcloud: cannot serve on {arguments.host}:{arguments.port}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
