"""DESIGN §3, scan's proximity.same_network: same IPv4 /24 or IPv6 /64."""

from __future__ import annotations

import pytest

from qrlogin.service import same_network


@pytest.mark.parametrize(("a", "b", "same"), [
    ("198.51.100.7", "198.51.100.7", True),
    ("198.51.100.0", "198.51.100.255", True),
    ("198.51.100.255", "198.51.101.0", False),
    ("10.0.0.1", "11.0.0.1", False),
    ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", True),
    ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
    ("2001:DB8:1:2::1", "2001:db8:1:2::2", True),           # spelling does not matter
    ("198.51.100.7", "::ffff:198.51.100.7", False),         # families differ
    ("198.51.100.7", "", False),
    ("not-an-ip", "not-an-ip", False),                      # equal garbage is no signal
    ("198.51.100.7/24", "198.51.100.8", False),
])
def test_same_network(a, b, same):
    assert same_network(a, b) is same
    assert same_network(b, a) is same
