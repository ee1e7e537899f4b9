"""Identifiers and secrets (DESIGN §3): drawn from ``secrets``, compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

# Matched with fullmatch: "$" would also accept a trailing newline.
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
BROWSER_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def new_session_id() -> str:
    """128 random bits, base64url: 22 characters."""
    return secrets.token_urlsafe(16)


def new_browser_token() -> str:
    """256 random bits, base64url: 43 characters."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the table stores instead of the browser token."""
    digest = hashlib.sha256(token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def is_session_id(value: object) -> bool:
    return isinstance(value, str) and SESSION_ID_PATTERN.fullmatch(value) is not None


def is_browser_token(value: object) -> bool:
    return isinstance(value, str) and BROWSER_TOKEN_PATTERN.fullmatch(value) is not None
