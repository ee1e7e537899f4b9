"""Flows the least-privilege proof runs after the QR login's (test_least_privilege.run_every_flow).

A function the template gains is proven by itself, but only over the calls its
flows make: a function that makes no call fails the proof.  Add a flow here
for each new endpoint, as a function ``(api, issue, idp, aws) -> None`` over
the unit tier's fixtures (tests/unit/conftest.py: ``api.http`` routes by the
template), appended to ``FLOWS``.  It must drive every route of the function
and every kind of item it touches (the proof derives a function's item kinds
from the keys its calls name, and refuses every other kind).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FLOWS: list[Callable[[Any, Any, Any, Any], None]] = []
