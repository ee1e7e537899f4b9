"""QR rendering: a compact, standalone SVG document of the session link.

The ``qrcode`` package builds the module matrix; the SVG is written here as
one stroked ``<path>`` of horizontal runs in relative commands (``m2 0h3``:
skip two modules, draw three), about a fifth of the package's per-module SVG.
The viewBox starts at minus the quiet zone, so module coordinates need no
offset, and a white square paints the quiet zone on any page background.

A fixed mask pattern skips the eight-way mask search (five times the cost of
the rest): every mask yields a valid, decodable symbol (ISO/IEC 18004 §7.8),
the search only nudges the penalty score.
"""

from __future__ import annotations

import re

import qrcode
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules of white border the standard asks for
MASK_PATTERN = 0
_DARK_RUNS = re.compile(rb"\x01+")


def qr_matrix(text: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=MASK_PATTERN)
    code.add_data(text)
    code.make(fit=True)
    return code.get_matrix()


def run_path(matrix: list[list[bool]]) -> str:
    """Path data for a stroke of width 1: each dark run is ``h<length>`` along its row's middle line."""
    commands = ["M0 .5"]  # the middle of row 0; from here on every move is a whole number of modules
    x = y = 0
    for row_index, row in enumerate(matrix):
        for run in _DARK_RUNS.finditer(bytes(row)):  # bools as bytes: b"\x01" is a dark module
            start, end = run.span()
            commands.append(f"m{start - x} {row_index - y}h{end - start}")
            x, y = end, row_index
    return "".join(commands)


def svg_for(text: str) -> str:
    matrix = qr_matrix(text)
    size = len(matrix) + 2 * QUIET_ZONE
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="-{QUIET_ZONE} -{QUIET_ZONE} {size} {size}" '
        f'shape-rendering="crispEdges"><rect x="-{QUIET_ZONE}" y="-{QUIET_ZONE}" width="{size}" '
        f'height="{size}" fill="#fff"/><path stroke="#000" d="{run_path(matrix)}"/></svg>'
    )
