"""The QR SVG: a standalone document that decodes back to the session link.

Decoding goes through zxing-cpp on a rasterized image of the SVG
(``bench.qr.rasterize``, written from the SVG rules for the shapes used).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bench.qr import decode, rasterize
from qrlogin.ids import new_session_id
from qrlogin.qr import qr_matrix, svg_for

DEFAULT_TEMPLATE = "https://example.invalid/q/{session_id}"  # template.yaml's QrLinkTemplate default
QUIET_ZONE = 4  # modules, as ISO/IEC 18004 asks


def _link(template: str = DEFAULT_TEMPLATE) -> str:
    return template.replace("{session_id}", new_session_id())


@pytest.mark.parametrize("template", [
    DEFAULT_TEMPLATE,
    "https://login.example.com/q/{session_id}",
    "https://a-rather-long-product-domain.example.com/auth/qr-login/approve?session={session_id}&v=1",
])
def test_the_svg_decodes_to_the_link(template):
    # Given session links of several lengths
    links = [_link(template) for _ in range(5)]

    # When each is rendered and read back
    decoded = [decode(svg_for(link)) for link in links]

    # Then each decodes to exactly its own link
    assert decoded == [[link] for link in links]


def test_the_svg_is_a_standalone_svg_document_under_3_kib():
    # Given a default-length link
    svg = svg_for(_link())

    # Then it is one well-formed SVG element with its namespace, small enough to inline
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.attrib["shape-rendering"] == "crispEdges"
    assert len(svg.encode()) <= 3 * 1024


def test_a_white_quiet_zone_of_four_modules_surrounds_the_symbol():
    # Given a rendering at 4 px per module
    link = _link()
    modules = len(qr_matrix(link))
    image = rasterize(svg_for(link), scale=4)

    # Then the image is the symbol plus four modules each side, and the border is white
    side = (modules + 2 * QUIET_ZONE) * 4
    assert image.size == (side, side)
    border = QUIET_ZONE * 4
    pixels = image.load()
    edge = [pixels[x, y] for x in range(side) for y in range(side)
            if min(x, y) < border or max(x, y) >= side - border]
    assert set(edge) == {255}
    # And the symbol's corner (a finder pattern) starts dark right inside it
    assert pixels[border, border] == 0


def test_every_dark_module_and_only_those_are_painted():
    # Given the module matrix of a link and its rendering at 1 px per module
    link = _link()
    matrix = qr_matrix(link)
    image = rasterize(svg_for(link), scale=1)

    # Then each pixel of the symbol area is black exactly where the matrix is dark
    pixels = image.load()
    painted = [[pixels[x + QUIET_ZONE, y + QUIET_ZONE] == 0 for x in range(len(matrix))] for y in range(len(matrix))]
    assert painted == matrix


def test_the_issued_session_carries_a_qr_of_its_own_link(issue):
    # When a browser asks for a session
    login = issue()

    # Then the SVG it gets decodes to the link it gets, which names the session
    qr = login.body["qr"]
    assert decode(qr["svg"]) == [qr["url"]]
    assert login.session_id in qr["url"]
