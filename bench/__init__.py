"""Benchmarks: ``python -m bench`` (``make bench``) runs them all.

Each module in ``bench.__main__.MODULES`` exposes ``run() -> dict``; the keys
it returns go to the top level of ``bench/results.json``.  A module may add
``"how"`` (``{key: how it was measured}``) and ``"rows"`` (``[(figure, value,
how)]`` for the printed table); both are folded into the one table.
"""
