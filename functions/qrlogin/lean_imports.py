"""Cold start: Powertools' ``event_handler`` package without importing every resolver it ships.

``aws_lambda_powertools/event_handler/__init__.py`` imports all of its
resolvers (AppSync with asyncio, AppSync Events, Bedrock agents, VPC
Lattice, Lambda function URLs and their event data classes) to re-export
them, and Python runs a package's ``__init__`` before any of its submodules.
Our functions use only ``api_gateway`` (``APIGatewayHttpResolver``,
``Response``, ``CORSConfig``), so that ``__init__`` is about half of what the
package costs at every cold start (docs/performance.md, "Cold start").

``install()`` registers the package as a module that resolves the same
public names on first use, from the very submodules Powertools' ``__init__``
takes them from (PEP 562 module ``__getattr__``); the submodules themselves
are Powertools' own, untouched.  It is a no-op when the package is already
imported (a test process that imported it first gets the real one).  Each
handler package imports this module first (``issue/__init__.py`` ...), so it
runs before any handler module imports Powertools.  ``PUBLIC_NAMES`` must
name every name of the real package's ``__all__``: a template-tier test
compares them, so a Powertools upgrade that moves a name fails a test, not a
cold start.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

PACKAGE = "aws_lambda_powertools.event_handler"
# Public name -> the submodule of PACKAGE that defines it (as Powertools' __init__ imports it).
PUBLIC_NAMES = {
    "ALBResolver": "api_gateway",
    "APIGatewayHttpResolver": "api_gateway",
    "ApiGatewayResolver": "api_gateway",
    "APIGatewayRestResolver": "api_gateway",
    "CORSConfig": "api_gateway",
    "Response": "api_gateway",
    "AppSyncResolver": "appsync",
    "BedrockAgentResolver": "bedrock_agent",
    "BedrockResponse": "bedrock_agent",
    "BedrockAgentFunctionResolver": "bedrock_agent_function",
    "BedrockFunctionResponse": "bedrock_agent_function",
    "DependencyResolutionError": "depends",
    "Depends": "depends",
    "AppSyncEventsResolver": "events_appsync.appsync_events",
    "HttpResolver": "http_resolver",
    "HttpResolverLocal": "http_resolver",
    "LambdaFunctionUrlResolver": "lambda_function_url",
    "Request": "request",
    "VPCLatticeResolver": "vpc_lattice",
    "VPCLatticeV2Resolver": "vpc_lattice",
}


def lazy_package() -> types.ModuleType | None:
    """The stand-in for PACKAGE, or None when Powertools is not installed the way we expect."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    module = types.ModuleType(PACKAGE, "Powertools event handlers (names resolved on first use).")
    module.__path__ = list(spec.submodule_search_locations)
    module.__file__ = spec.origin
    module.__package__ = PACKAGE
    module.__all__ = list(PUBLIC_NAMES)  # type: ignore[attr-defined]

    def __getattr__(name: str) -> Any:
        where = PUBLIC_NAMES.get(name)
        if where is None:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{PACKAGE}.{where}"), name)
        setattr(module, name, value)
        return value

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def install() -> None:
    if PACKAGE in sys.modules:
        return
    module = lazy_package()
    if module is not None:
        sys.modules[PACKAGE] = module


install()
