"""Concurrent complete logins: nothing lost, confirmed exactly once, redeemed exactly once.

The small version of ``python -m bench load`` (bench/load.py, 300 logins): the
same driver, 30 logins at once.
"""

from __future__ import annotations

import asyncio

import pytest
from stackclient import SECRETS

from bench.load import EXPECTED_STATUSES, drive, leaked, stack_logs

pytestmark = pytest.mark.load

LOGINS = 30


def test_concurrent_logins_are_each_confirmed_once_and_redeemed_once(stack):
    # When 30 browsers and 30 phones run complete logins all at once
    report = asyncio.run(asyncio.wait_for(drive(stack.base_url, LOGINS), timeout=240))
    SECRETS.extend(report.secrets)

    # Then none is lost: each browser saw pending, scanned, confirmed once each, in version order
    assert report.lost == 0, report.failures()
    assert len(report.completed) == LOGINS
    for login in report.logins:
        assert [status for status, _ in login.statuses] == EXPECTED_STATUSES
        assert [version for _, version in login.statuses] == [1, 2, 3]
        # And redeemed exactly once: the second redeem was refused
        assert login.redeems == [200, 400]
    assert report.double_redeems == 0
    # And nothing failed on the server's side
    assert report.server_errors == 0, report.http_statuses
    # And no browser token, phone token or id_token reached the stack's logs
    assert len(report.secrets) == 3 * LOGINS + 2  # the sentinel's browser and phone tokens too
    assert leaked(report.secrets, *stack_logs(stack)) == []
