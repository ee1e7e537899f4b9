"""QR rendering: a compact, standalone SVG document of the session link.

The ``qrcode`` package builds the module matrix; the SVG is written here as
one ``<path>`` of horizontal runs, which is several times smaller than the
package's per-module SVG.  A fixed mask pattern skips the eight-way mask
search: every mask yields a valid, decodable symbol (ISO/IEC 18004 §7.8), the
search only nudges the penalty score.
"""

from __future__ import annotations

import qrcode
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules of white border the standard asks for
MASK_PATTERN = 0


def qr_matrix(text: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=MASK_PATTERN)
    code.add_data(text)
    code.make(fit=True)
    return code.get_matrix()


def svg_for(text: str) -> str:
    matrix = qr_matrix(text)
    size = len(matrix) + 2 * QUIET_ZONE
    runs: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        width = len(row)
        while x < width:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < width and row[x]:
                x += 1
            runs.append(f"M{start + QUIET_ZONE} {y + QUIET_ZONE}h{x - start}v1h-{x - start}z")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )
