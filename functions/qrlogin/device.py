"""The device authorization grant (RFC 8628; DESIGN §8, §8.1).

A device authorization IS a session of DESIGN §2 (one state machine): it is
issued ``pending`` with a typed code, the phone resolves the code (or opens
``verification_uri_complete``, the session's ordinary QR link), scans and
confirms it as any other, and the device's token polls spend it
(``confirmed -> redeemed``) exactly once.  What the session binds on top:

- ``client_id`` and ``scope`` (store.BOUND_FIELDS), ``device_code_hash``
  (SHA-256 of the device code: the table never holds the code);
- ``last_poll_ms`` (N): when the device last polled, and ``slow_downs`` (N):
  how often it was told to slow down; its interval is the stack's
  ``DevicePollIntervalSeconds`` plus 5 s per slow_down (RFC 8628 §3.5).

The device code is ``<session_id>.<256 random bits>``: it names its session,
so a poll is one GetItem plus one conditional UpdateItem, no index.
Nothing here knows HTTP: the endpoint (functions/oidc/device.py) and the
grant (oauth/grants/device_code.py) map its OAuth errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from qrlogin import ids, service, user_codes
from qrlogin.config import Settings
from qrlogin.oauth import errors
from qrlogin.oauth.authorize import new_code, session_of_code  # a device code has an authorization code's shape
from qrlogin.observability import count, logger, session_ref
from qrlogin.sessions import Session, Status
from qrlogin.store import Item, SessionStore, session_from_item, session_key
from qrlogin.user_code_store import UserCodeStore

# RFC 8628 §3.5: each slow_down adds 5 seconds to the interval, for this and all later polls.
SLOW_DOWN_STEP_SECONDS = 5
# A poll this much early still counts as on time: the device's timer starts when it got our
# previous answer, which is after our clock read for it, so only clock skew between two
# containers can make an honest poll look early.
POLL_TOLERANCE_MS = 200
DEVICE_CODE_FIELD = "device_code_hash"


@dataclass(frozen=True)
class DeviceAuthorization:
    session: Session
    device_code: str
    verification_uri: str
    verification_uri_complete: str


def verification_uri_of(qr_link_template: str) -> str:
    """Where a person types the code: the QR link without its session.

    ``http://host/phone?session={session_id}`` -> ``http://host/phone``;
    ``https://example.com/q/{session_id}`` -> ``https://example.com/q/``.
    The phone app that opens QR links is the one that takes typed codes.
    """
    parts = urlsplit(qr_link_template)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if "{session_id}" not in v]
    path = parts.path.split("{session_id}")[0]
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def interval_of(raw: Item, settings: Settings) -> int:
    """The grant's polling interval now: the stack's, plus 5 s per slow_down it was sent."""
    slow_downs = int(raw.get("slow_downs", {}).get("N", "0"))
    return settings.device_poll_interval_seconds + SLOW_DOWN_STEP_SECONDS * slow_downs


# -- the device authorization request (RFC 8628 §3.1-3.2) -------------------------


def authorize_device(store: SessionStore, codes: UserCodeStore, settings: Settings, *, client_id: str, scope: str,
                     source_ip: str, user_agent: str, now: float) -> DeviceAuthorization:
    service.count_issue(store, settings, source_ip, now)
    session_id = ids.new_session_id()
    device_code = new_code(session_id)
    expires_at = int(now) + settings.device_code_ttl_seconds
    user_code = user_codes.reserve_new_code(codes, session_id, expires_at, now)
    # The browser token is dropped: nobody holds one for a device grant, so the browser routes cannot act on it.
    session, _ = service.pending_session(
        session_id=session_id, source_ip=source_ip, user_agent=user_agent, now=now, expires_at=expires_at,
        user_code=user_code,
        bound={"client_id": client_id, "scope": scope, DEVICE_CODE_FIELD: ids.hash_token(device_code)})
    store.create(session)
    count("DeviceAuthorized")
    logger.info("device authorization issued", extra={"session_ref": session_ref(session_id), "client_id": client_id})
    return DeviceAuthorization(session, device_code, verification_uri_of(settings.qr_link_template),
                               settings.qr_link_template.replace("{session_id}", session_id))


def authorization_body(authorization: DeviceAuthorization, settings: Settings, now: float) -> dict[str, Any]:
    session = authorization.session
    assert session.user_code is not None
    return {
        "device_code": authorization.device_code,
        "user_code": user_codes.display(session.user_code),
        "verification_uri": authorization.verification_uri,
        "verification_uri_complete": authorization.verification_uri_complete,
        "expires_in": max(0, session.expires_at - int(now)),
        "interval": settings.device_poll_interval_seconds,
    }


# -- the token poll (RFC 8628 §3.4-3.5) --------------------------------------------


@dataclass(frozen=True)
class Approved:
    """A confirmed device grant, read before the tokens are signed."""

    session: Session


class DeviceGrantStore:
    """The device grant's writes; shares the session store's table and client."""

    def __init__(self, sessions: SessionStore, settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    def _update(self, session_id: str, update: str, condition: str, values: Item) -> tuple[bool, Item]:
        """One conditional UpdateItem: (True, new item) or (False, the item as it was)."""
        return self.sessions.conditional_write(
            self.sessions.client.update_item, Key=session_key(session_id),
            UpdateExpression=update, ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )

    def read(self, session_id: str) -> Item:
        return self.sessions.read_item(session_key(session_id), consistent=True) or {}

    def poll(self, device_code: str, client_id: str, now: float) -> Approved:
        """Approved when the tokens may be minted; otherwise raises what RFC 8628 §3.5 says."""
        session_id = session_of_code(device_code)
        if session_id is None:
            raise errors.InvalidGrant("The device code is invalid.")
        raw = self.read(session_id)
        session = _device_session(raw, device_code, client_id)
        _refuse_settled(session, now)
        if session.status is Status.CONFIRMED:
            return Approved(session)
        self._record_poll(session_id, raw, device_code, now)
        raise errors.AuthorizationPending()

    def _record_poll(self, session_id: str, raw: Item, device_code: str, now: float) -> None:
        """pending/scanned: on time -> remember this poll; early -> slow_down, and the interval grows."""
        now_ms = int(now * 1000)
        interval_ms = interval_of(raw, self.settings) * 1000
        values: Item = {
            ":now_ms": {"N": str(now_ms)}, ":due_ms": {"N": str(now_ms - interval_ms + POLL_TOLERANCE_MS)},
            ":hash": {"S": ids.hash_token(device_code)}, ":now": {"N": str(int(now))},
            ":pending": {"S": Status.PENDING.value}, ":scanned": {"S": Status.SCANNED.value},
        }
        live = f"{DEVICE_CODE_FIELD} = :hash AND expires_at > :now AND #status IN (:pending, :scanned)"
        on_time, old = self._update(
            session_id, "SET last_poll_ms = :now_ms",
            f"{live} AND (attribute_not_exists(last_poll_ms) OR last_poll_ms <= :due_ms)", values)
        if on_time:
            return
        if not old:
            raise errors.InvalidGrant("The device code is invalid.")
        current = session_from_item(old)
        if current.status not in (Status.PENDING, Status.SCANNED) or current.effective_status(now) is Status.EXPIRED:
            _refuse_settled(current, now)
            return  # confirmed meanwhile: the next poll gets the tokens
        slowed, _ = self._update(
            session_id, "SET last_poll_ms = :now_ms ADD slow_downs :one", live,
            {key: value for key, value in values.items() if key != ":due_ms"} | {":one": {"N": "1"}})
        if slowed:
            count("DeviceSlowDown")
            raise errors.SlowDown(
                f"Polling too fast: wait at least {interval_of(old, self.settings) + SLOW_DOWN_STEP_SECONDS}"
                " seconds between requests.")

    def redeem(self, approved: Approved, device_code: str, client_id: str, now: float, redeem_id: str) -> Session:
        """confirmed -> redeemed, exactly once, bound to the device code and the client."""
        session = approved.session
        done, item = self._update(
            session.session_id,
            "SET #status = :redeemed, version = version + :one, last_write = :write, updated_at = :now,"
            " redeemed_at = :now, redeemed_jti = :redeem_id",
            f"#status = :confirmed AND expires_at > :now AND {DEVICE_CODE_FIELD} = :hash AND client_id = :client",
            {
                ":redeemed": {"S": Status.REDEEMED.value}, ":confirmed": {"S": Status.CONFIRMED.value},
                ":one": {"N": "1"}, ":write": {"S": "status"}, ":now": {"N": str(int(now))},
                ":redeem_id": {"S": redeem_id}, ":hash": {"S": ids.hash_token(device_code)},
                ":client": {"S": client_id},
            },
        )
        if done:
            return session_from_item(item)
        if item.get("redeemed_jti", {}).get("S") == redeem_id:
            return session_from_item(item)  # our own write; its response was lost and botocore's retry failed
        _refuse_settled(_device_session(item, device_code, client_id), now)
        raise errors.InvalidGrant("The device code was already used.")


def _device_session(raw: Item, device_code: str, client_id: str) -> Session:
    """The device grant this code names for this client; invalid_grant for anything else."""
    if not raw or DEVICE_CODE_FIELD not in raw:
        raise errors.InvalidGrant("The device code is invalid.")
    if not ids.token_matches(device_code, raw[DEVICE_CODE_FIELD]["S"]):
        raise errors.InvalidGrant("The device code is invalid.")
    if raw.get("client_id", {}).get("S") != client_id:
        raise errors.InvalidGrant("The device code was issued to another client.")
    return session_from_item(raw)


def _refuse_settled(session: Session, now: float) -> None:
    """RFC 8628 §3.5 for a grant that will never be approved (or was already used)."""
    status = session.effective_status(now)
    if status is Status.EXPIRED:
        raise errors.ExpiredToken()
    if status in (Status.DENIED, Status.CANCELLED):
        raise errors.AccessDenied()
    if status is Status.REDEEMED:
        raise errors.InvalidGrant("The device code was already used.")
