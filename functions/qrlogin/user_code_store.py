"""DynamoDB access for typed user codes and the guessing budgets.

Items (one table, partition key ``pk``; prefixes announced for ``dynamodb:LeadingKeys``):
- ``usercode#<CODE>``: ``session_id``, ``expires_at`` (the session's).  Written
  only if no item exists or the one there has expired, so two live sessions
  never share a code; TTL removes it days later, and until then the
  ``expires_at`` condition lets a new session reuse the code.
- ``guess#user#<sha256(sub)>#<window>`` and ``guess#ip#<ip>#<window>``:
  ``hits`` (guesses taken in that window), ``expires_at``.
- the session item itself gets ``user_code`` once (``attribute_not_exists``).

Everything is UpdateItem or GetItem: one conditional write per decision.
"""

from __future__ import annotations

import hashlib
from typing import Any

from qrlogin import errors
from qrlogin.sessions import Session, Status
from qrlogin.store import (
    LAST_WRITE_CONNECTION,
    Item,
    SessionStore,
    _owned,
    session_from_item,
    session_key,
)

# Wrong codes allowed per phone user and per source address in one window.
# Fixed windows: a run of wrong codes that straddles a window boundary gets
# at most twice the bound before a 429, so the 21st wrong code in a row of one
# user is refused at the latest (DESIGN §8.1 asks for the 30th).
GUESS_WINDOW_SECONDS = 600
GUESSES_PER_USER = 10
GUESSES_PER_ADDRESS = 20


def code_key(code: str) -> Item:
    return {"pk": {"S": f"usercode#{code}"}}


def _budget_keys(user_sub: str, source_ip: str, window: int) -> list[tuple[Item, int]]:
    # Hashed: a subject may be long or hold any character, and need not sit in a key in clear.
    sub_hash = hashlib.sha256(user_sub.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return [
        ({"pk": {"S": f"guess#user#{sub_hash}#{window}"}}, GUESSES_PER_USER),
        ({"pk": {"S": f"guess#ip#{source_ip}#{window}"}}, GUESSES_PER_ADDRESS),
    ]


class UserCodeStore:
    """Shares the session store's table and client."""

    def __init__(self, sessions: SessionStore) -> None:
        self.sessions = sessions

    @property
    def _client(self) -> Any:
        return self.sessions.client

    # -- codes ---------------------------------------------------------------

    def reserve(self, code: str, session_id: str, expires_at: int, now: float) -> bool:
        """Claim ``code`` for a session until ``expires_at``; False if a live session holds it."""
        return self._conditional_update(
            Key=code_key(code),
            UpdateExpression="SET session_id = :session_id, expires_at = :expires_at",
            ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
            ExpressionAttributeValues={
                ":session_id": {"S": session_id},
                ":expires_at": {"N": str(expires_at)},
                ":now": {"N": str(int(now))},
            },
        )

    def resolve(self, code: str, now: float) -> str | None:
        """The session id a live code names, or None."""
        item = self.sessions.read_item(code_key(code))
        if not item or int(item["expires_at"]["N"]) <= now:
            return None
        return str(item["session_id"]["S"])

    def bind_to_session(self, session_id: str, token_hash: str, code: str, now: float) -> Session:
        """Record the code on the browser's session, once; returns the session with its code.

        Condition: owned by this browser, not expired, pending or scanned, and no
        code yet.  When another request bound one first, that one is returned.
        """
        bound, item = self.sessions.conditional_write(
            self._client.update_item,
            Key=session_key(session_id),
            # last_write "connection": not a status change, so the notifier's filter skips it.
            UpdateExpression="SET user_code = :code, last_write = :write",
            ConditionExpression=(
                "attribute_exists(pk) AND browser_token_hash = :hash AND expires_at > :now"
                " AND #status IN (:pending, :scanned) AND attribute_not_exists(user_code)"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":code": {"S": code},
                ":write": {"S": LAST_WRITE_CONNECTION},
                ":hash": {"S": token_hash},
                ":now": {"N": str(int(now))},
                ":pending": {"S": Status.PENDING.value},
                ":scanned": {"S": Status.SCANNED.value},
            },
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        if bound:
            return session_from_item(item)
        old = _owned(session_from_item(item) if item else None, token_hash)
        if old is None:
            raise errors.SessionNotFound()
        if old.user_code is not None:
            return old
        if old.effective_status(now) is Status.EXPIRED:
            raise errors.SessionExpired()
        raise errors.SessionConflict(f"The session is {old.status.value}; a code would lead nowhere.")

    # -- guessing budgets ------------------------------------------------------

    def take_guess(self, user_sub: str, source_ip: str, now: float) -> None:
        """One guess from the user's and the address's budgets; RateLimited when either is spent."""
        window = int(now) // GUESS_WINDOW_SECONDS
        taken: list[Item] = []
        for key, limit in _budget_keys(user_sub, source_ip, window):
            if not self._add(key, 1, now, window, limit=limit):
                for done in taken:  # the other budget keeps what it had
                    self._add(done, -1, now, window)
                retry_after = max(1, (window + 1) * GUESS_WINDOW_SECONDS - int(now))
                raise errors.RateLimited("Too many wrong codes; try again later.", retry_after=retry_after)
            taken.append(key)

    def give_back_guess(self, user_sub: str, source_ip: str, now: float) -> None:
        """A code that resolved costs nothing: only wrong codes count against the budgets."""
        window = int(now) // GUESS_WINDOW_SECONDS
        for key, _ in _budget_keys(user_sub, source_ip, window):
            self._add(key, -1, now, window)

    def _add(self, key: Item, delta: int, now: float, window: int, *, limit: int | None = None) -> bool:
        values: Item = {
            ":delta": {"N": str(delta)},
            ":expires": {"N": str((window + 2) * GUESS_WINDOW_SECONDS)},
        }
        condition: dict[str, Any] = {}
        if limit is not None:
            condition["ConditionExpression"] = "attribute_not_exists(hits) OR hits < :limit"
            values[":limit"] = {"N": str(limit)}
        return self._conditional_update(
            Key=key,
            UpdateExpression="ADD hits :delta SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeValues=values,
            **condition,
        )

    def _conditional_update(self, **request: Any) -> bool:
        """One UpdateItem on this table: False when its condition fails, 503 when DynamoDB does."""
        return self.sessions.conditional_write(self._client.update_item, **request)[0]
