"""Assertions shared by the unit tier's contract tests."""

from __future__ import annotations

from typing import Any

ERROR_STATUSES = {
    "invalid_request": 400, "authorization_pending": 400, "access_denied": 400, "expired_token": 400,
    "invalid_grant": 400, "unauthorized": 401, "not_found": 404, "conflict": 409, "expired": 410,
    "payload_too_large": 413, "rate_limited": 429, "auth_unavailable": 503,
}


def assert_error(result: Any, status: int, code: str) -> None:
    """The contract's error envelope: exact status, JSON ``{"error", "message"}`` and nothing else."""
    assert (result.status, (result.body or {}).get("error")) == (status, code), result.body
    assert result.headers["content-type"] == "application/json"
    assert set(result.body) == {"error", "message"}
    assert isinstance(result.body["message"], str) and result.body["message"]
    assert "Traceback" not in result.body["message"]


def assert_json(result: Any, status: int) -> None:
    assert result.status == status, result.body
    assert result.headers["content-type"] == "application/json"
