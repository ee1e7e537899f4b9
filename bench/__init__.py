"""Benchmarks: ``python -m bench`` (``make bench``) runs them all.

Each module in ``bench.__main__.MODULES`` exposes ``run() -> dict``; the keys
it returns go to the top level of ``bench/results.json``.  A module may add
``"how"`` (``{key: how it was measured}``) and ``"rows"`` (``[(figure, value,
how)]`` for the printed table); both are folded into the one table.
"""

import sys
from pathlib import Path

# functions/ is the Lambda task root (CodeUri), so ``qrlogin`` and the handler
# packages import from there, as pytest's ``pythonpath`` arranges for the tests.
_FUNCTIONS = str(Path(__file__).resolve().parent.parent / "functions")
if _FUNCTIONS not in sys.path:
    sys.path.insert(0, _FUNCTIONS)
