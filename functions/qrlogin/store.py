"""DynamoDB access for sessions and issue-rate counters.

Every state transition is ONE conditional UpdateItem (DESIGN §2): the
condition encodes the allowed source states, the expiry and, where it applies,
the acting user or browser.  When it fails, DynamoDB hands back the item as it
was (``ReturnValuesOnConditionCheckFailure``) and the state machine says why;
no read-modify-write, and nothing above this module sees botocore.

Item layout (one table, partition key ``pk``):
- session ``session#<id>``: the ``Session`` fields, plus ``last_write`` (which
  kind of write made this image: ``created`` | ``status`` | ``connection``) and
  ``subscribed``, so the stream's FilterCriteria invoke the notifier only for
  status changes that somebody is listening to.
- rate counter ``rate#<ip>#<minute>``: ``hits`` and ``expires_at``.
- signing keys ``signing-key#<alg>`` (one keyring per algorithm, qrlogin.keyring):
  ``generation`` and ``keys``, each with its kid, public JWK, binding (mode and
  KMS key ARN), ``active_from`` and, in envelope mode, the private key encrypted
  under that KMS key.  No ``expires_at``: TTL never deletes them.  The
  pre-keyring item ``signing-key`` is only read, once, to keep publishing its
  public key while tokens it signed may live.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from qrlogin import errors
from qrlogin.keyring import LEGACY, KeyEntry, Keyring
from qrlogin.sessions import (
    CANCEL,
    CONFIRM,
    DENY,
    REDEEM,
    SCAN,
    PhoneUser,
    Session,
    Status,
    Transition,
    check_redeemable,
    classify_phone_failure,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

# Connections one session holds at once; a subscribe to a full set replaces it (attach_connection).
MAX_CONNECTIONS = 10
# Longest user agent we keep (keeps a session item under 1 KB: one write unit).
MAX_USER_AGENT = 200

LAST_WRITE_STATUS = "status"
LAST_WRITE_CONNECTION = "connection"
LAST_WRITE_CREATED = "created"

Item = dict[str, Any]

# The pre-keyring envelope key (one item, no binding): read for migration only.
LEGACY_SIGNING_KEY_PK = "signing-key"
# Every signing-key item starts with this (the signing path's dynamodb:LeadingKeys).
SIGNING_KEY_PREFIX = "signing-key"


def signing_key_pk(algorithm: str) -> str:
    return f"{SIGNING_KEY_PREFIX}#{algorithm}"

# Fields an OAuth request binds to its session (DESIGN §8), kept as plain
# top-level string attributes so conditions can name them.
BOUND_FIELDS = ("client_id", "redirect_uri", "code_challenge", "nonce", "state", "scope")


def session_key(session_id: str) -> Item:
    return {"pk": {"S": f"session#{session_id}"}}


def session_to_item(session: Session) -> Item:
    item: Item = {
        **session_key(session.session_id),
        "session_id": {"S": session.session_id},
        "status": {"S": session.status.value},
        "version": {"N": str(session.version)},
        "created_at": {"N": str(session.created_at)},
        "expires_at": {"N": str(session.expires_at)},
        "browser_token_hash": {"S": session.browser_token_hash},
        "request_ip": {"S": session.request_ip},
        "request_user_agent": {"S": session.request_user_agent[:MAX_USER_AGENT]},
        "last_write": {"S": LAST_WRITE_CREATED},
    }
    if session.user_code:
        item["user_code"] = {"S": session.user_code}
    item.update({name: {"S": value} for name, value in session.bound.items()})
    return item


def session_from_item(item: Item) -> Session:
    """Read a session from a DynamoDB item or a stream image (same encoding)."""

    def optional(name: str) -> str | None:
        value = item.get(name)
        return value["S"] if value else None

    auth_time = item.get("auth_time")
    return Session(
        session_id=item["session_id"]["S"],
        status=Status(item["status"]["S"]),
        version=int(item["version"]["N"]),
        created_at=int(item["created_at"]["N"]),
        expires_at=int(item["expires_at"]["N"]),
        browser_token_hash=item["browser_token_hash"]["S"],
        request_ip=item["request_ip"]["S"],
        request_user_agent=item["request_user_agent"]["S"],
        user_sub=optional("user_sub"),
        user_name=optional("user_name"),
        auth_time=int(auth_time["N"]) if auth_time else None,
        connections=frozenset(item.get("connections", {}).get("SS", ())),
        user_code=optional("user_code"),
        bound={name: item[name]["S"] for name in BOUND_FIELDS if "S" in item.get(name, {})},
    )


class _ConditionFailed(Exception):
    def __init__(self, old: Item | None) -> None:
        self.raw = old or {}
        self.old = session_from_item(old) if old and "session_id" in old else None


def _dependency_failure(error: Exception) -> errors.ServiceUnavailable:
    # Throttling, a timeout or an internal error: nothing was written (DynamoDB
    # writes are atomic), so the client may safely retry.
    return errors.ServiceUnavailable(retry_after=1)


class SessionStore:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None,
                 client_factory: Callable[[], DynamoDBClient] | None = None) -> None:
        self.table_name = table_name
        self._client = client
        self._client_factory = client_factory

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                from qrlogin.aws import client

                self._client = client("dynamodb")
        return self._client

    # -- the one shape of every read and conditional write ----------------

    def read_item(self, key: Item, *, consistent: bool = False) -> Item | None:
        """One GetItem on this table: the item, or None; 503 when DynamoDB fails."""
        try:
            response = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=consistent)
        except (ClientError, BotoCoreError) as error:
            raise _dependency_failure(error) from None
        return response.get("Item")

    def conditional_write(self, write: Callable[..., Any], **request: Any) -> tuple[bool, Item]:
        """One conditional ``write`` (the client's ``update_item`` or ``put_item``) on this table.

        (True, the item after, if ``ReturnValues`` asked for it) or (False, the item as it
        was, if ``ReturnValuesOnConditionCheckFailure`` asked for it) when the condition
        failed; 503 when DynamoDB fails.
        """
        try:
            response = write(TableName=self.table_name, **request)
        except ClientError as error:
            if _is_condition_failure(error):
                return False, error.response.get("Item") or {}
            raise _dependency_failure(error) from None
        except BotoCoreError as error:
            raise _dependency_failure(error) from None
        return True, response.get("Attributes") or {}

    # -- reads -------------------------------------------------------------

    def get(self, session_id: str, *, consistent: bool = False) -> Session | None:
        """The session, or None.  Eventually consistent unless ``consistent``: half the
        read cost, for callers that tolerate a state one write old (a poll is followed
        by the next poll or a push); redeem is not one of them (docs/design.md)."""
        item = self.read_item(session_key(session_id), consistent=consistent)
        return session_from_item(item) if item else None

    # -- creation and rate limiting ----------------------------------------

    def create(self, session: Session) -> None:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=session_to_item(session),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except (ClientError, BotoCoreError) as error:
            raise _dependency_failure(error) from None

    def count_issue(self, source_ip: str, now: float, limit: int) -> None:
        """Count one session issued from ``source_ip``; RateLimited past ``limit`` a minute."""
        minute = int(now) // 60
        counted, _ = self.conditional_write(
            self.client.update_item,
            Key={"pk": {"S": f"rate#{source_ip}#{minute}"}},
            UpdateExpression="ADD hits :one SET expires_at = if_not_exists(expires_at, :expires)",
            ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":limit": {"N": str(limit)},
                ":expires": {"N": str((minute + 2) * 60)},
            },
        )
        if not counted:
            raise errors.RateLimited(retry_after=max(1, (minute + 1) * 60 - int(now)))

    # -- transitions -------------------------------------------------------

    def _transition(self, session_id: str, transition: Transition, now: float, *,
                    condition: str = "", sets: str = "", values: Item | None = None) -> Session:
        sources = {f":source{i}": {"S": s.value} for i, s in enumerate(transition.sources)}
        expression_values: Item = {
            ":target": {"S": transition.target.value},
            ":one": {"N": "1"},
            ":now": {"N": str(int(now))},
            ":status_write": {"S": LAST_WRITE_STATUS},
            **sources,
            **(values or {}),
        }
        full_condition = (
            f"attribute_exists(pk) AND expires_at > :now AND #status IN ({', '.join(sources)})"
            + (f" AND ({condition})" if condition else "")
        )
        update = "SET #status = :target, version = version + :one, last_write = :status_write, updated_at = :now"
        if sets:
            update += ", " + sets
        written, item = self.conditional_write(
            self.client.update_item,
            Key=session_key(session_id),
            UpdateExpression=update,
            ConditionExpression=full_condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=expression_values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        if not written:
            raise _ConditionFailed(item)
        return session_from_item(item)

    def _phone_transition(self, transition: Transition, session_id: str, user: PhoneUser, now: float,
                          condition: str, sets: str, values: Item) -> tuple[Session, bool]:
        """Returns (session, changed); changed is False for an idempotent repeat."""
        values = {":sub": {"S": user.sub}, **values}
        if user.name:
            sets = ", ".join(filter(None, [sets, "user_name = :name"]))
            values[":name"] = {"S": user.name}
        try:
            return self._transition(session_id, transition, now, condition=condition, sets=sets, values=values), True
        except _ConditionFailed as failure:
            return classify_phone_failure(transition, failure.old, user, now), False

    def scan(self, session_id: str, user: PhoneUser, now: float) -> tuple[Session, bool]:
        return self._phone_transition(SCAN, session_id, user, now, condition="", sets="user_sub = :sub", values={})

    def confirm(self, session_id: str, user: PhoneUser, now: float, redeem_deadline: int) -> tuple[Session, bool]:
        return self._phone_transition(
            CONFIRM, session_id, user, now,
            condition="user_sub = :sub",
            sets="expires_at = :deadline, auth_time = :now",
            values={":deadline": {"N": str(redeem_deadline)}},
        )

    def deny(self, session_id: str, user: PhoneUser, now: float) -> tuple[Session, bool]:
        # Denying straight from "pending" is allowed and binds the denier.
        return self._phone_transition(
            DENY, session_id, user, now,
            condition="#status = :source0 OR user_sub = :sub",
            sets="user_sub = :sub",
            values={},
        )

    def cancel(self, session_id: str, token_hash: str, now: float) -> Session:
        try:
            return self._transition(session_id, CANCEL, now, condition="browser_token_hash = :hash",
                                    values={":hash": {"S": token_hash}})
        except _ConditionFailed as failure:
            old = _owned(failure.old, token_hash)
            if old is None:
                raise errors.SessionNotFound() from None
            raise errors.SessionConflict(f"The session is already {old.effective_status(now).value}.") from None

    def redeem(self, session_id: str, token_hash: str, now: float, jti: str) -> Session:
        """confirmed -> redeemed, recording the ``jti`` of the id_token this redeem hands out."""
        try:
            return self._transition(session_id, REDEEM, now,
                                    # An OAuth session (client_id bound) is redeemed only through /token.
                                    condition="browser_token_hash = :hash AND attribute_not_exists(client_id)",
                                    sets="redeemed_at = :now, redeemed_jti = :jti",
                                    values={":hash": {"S": token_hash}, ":jti": {"S": jti}})
        except _ConditionFailed as failure:
            if failure.old is not None and failure.raw.get("redeemed_jti", {}).get("S") == jti:
                # Our own write committed and its response was lost; botocore's retry
                # then failed the condition. The redeem did happen: it is ours.
                return failure.old
            check_redeemable(_owned(failure.old, token_hash), now)
            # The condition failed yet the old image looks redeemable: only a
            # racing redeem between our read and write can do that.
            raise errors.InvalidGrant() from None

    # -- OAuth authorization requests (DESIGN §8) -------------------------

    def complete_authorization(self, session_id: str, token_hash: str, code_hash: str, now: float,
                               code_expires_at: int) -> tuple[Session | None, bool]:
        """confirmed -> redeemed for an authorization request: the page's browser gets a code.

        The code is stored only as its hash; the session's ``expires_at`` becomes the
        code's expiry.  Returns (session, True), or (the session as it was if this
        browser owns it, else None; False) when the condition failed.
        """
        try:
            return self._transition(session_id, REDEEM, now,
                                    condition="browser_token_hash = :hash AND attribute_exists(redirect_uri)",
                                    sets="redeemed_at = :now, code_hash = :code, expires_at = :code_expires",
                                    values={":hash": {"S": token_hash}, ":code": {"S": code_hash},
                                            ":code_expires": {"N": str(code_expires_at)}}), True
        except _ConditionFailed as failure:
            return _owned(failure.old, token_hash), False

    def exchange_code(self, session_id: str, code_hash: str, *, client_id: str, redirect_uri: str,
                      code_challenge: str | None, now: float, jti: str) -> Session:
        """Spend an authorization code: one conditional write, so exactly one of racing exchanges wins.

        The condition binds the code to its client, redirect_uri and PKCE challenge
        (``code_challenge`` is the S256 of the verifier sent, None when none was
        sent: then the request must have had no challenge, RFC 9700 §2.1.1).
        """
        pkce = "code_challenge = :challenge" if code_challenge else "attribute_not_exists(code_challenge)"
        values: Item = {
            ":redeemed": {"S": "redeemed"}, ":code": {"S": code_hash}, ":now": {"N": str(int(now))},
            ":client": {"S": client_id}, ":redirect": {"S": redirect_uri}, ":jti": {"S": jti},
        }
        if code_challenge:
            values[":challenge"] = {"S": code_challenge}
        written, item = self.conditional_write(
            self.client.update_item,
            Key=session_key(session_id),
            UpdateExpression="SET code_jti = :jti, code_used_at = :now",
            ConditionExpression=(
                "#status = :redeemed AND code_hash = :code AND expires_at > :now"
                " AND attribute_not_exists(code_jti) AND client_id = :client AND redirect_uri = :redirect"
                f" AND {pkce}"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        # A failed condition on our own write (its response was lost and the retry failed) is a success.
        if written or item.get("code_jti", {}).get("S") == jti:
            return session_from_item(item)
        raise errors.InvalidGrant(_why_code_refused(item, code_hash, client_id, redirect_uri, code_challenge, now))

    # -- WebSocket subscriptions ------------------------------------------

    def attach_connection(self, session_id: str, token_hash: str, connection_id: str) -> Session:
        """Subscribe a connection; returns the session as it is after the write (the snapshot).

        A session holds at most ``MAX_CONNECTIONS``.  ``$disconnect`` keeps no record
        (docs/design.md, departure 2), so a browser that reconnects ten times while one
        code lives fills the set with dead ids.  A subscribe to a full session is never
        refused: the newest connection evicts the older ones (one more write, only then).
        """
        values: Item = {":hash": {"S": token_hash}, ":connection": {"SS": [connection_id]}}
        try:
            return self._connection_write(
                session_id, "ADD connections :connection SET",
                " AND (attribute_not_exists(connections) OR size(connections) < :max"
                " OR contains(connections, :connection_id))",
                {**values, ":connection_id": {"S": connection_id}, ":max": {"N": str(MAX_CONNECTIONS)}},
            )
        except _ConditionFailed as failure:
            if _owned(failure.old, token_hash) is None:
                raise errors.SessionNotFound() from None
        try:  # full: the browser holds one socket at a time, so the older ids are its dead ones
            return self._connection_write(session_id, "SET connections = :connection,", "", values)
        except _ConditionFailed:
            raise errors.SessionNotFound() from None

    def _connection_write(self, session_id: str, update: str, condition: str, values: Item) -> Session:
        # last_write = connection: a subscription never invokes the notifier.
        written, item = self.conditional_write(
            self.client.update_item,
            Key=session_key(session_id),
            UpdateExpression=f"{update} subscribed = :true, last_write = :write",
            ConditionExpression=f"attribute_exists(pk) AND browser_token_hash = :hash{condition}",
            ExpressionAttributeValues={**values, ":true": {"BOOL": True},
                                       ":write": {"S": LAST_WRITE_CONNECTION}},
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        if not written:
            raise _ConditionFailed(item)
        return session_from_item(item)

    def detach_connection(self, session_id: str, connection_id: str) -> None:
        """Forget a connection that API Gateway says is gone (410)."""
        # A session already gone (the condition fails) has nothing to forget.
        self.conditional_write(
            self.client.update_item,
            Key=session_key(session_id),
            UpdateExpression="DELETE connections :connection SET last_write = :write",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={
                ":connection": {"SS": [connection_id]},
                ":write": {"S": LAST_WRITE_CONNECTION},
            },
        )

    # -- signing keys (only the signing path: StatusFunction, the token endpoint) --

    def get_keyring(self, algorithm: str, *, consistent: bool = False) -> Keyring | None:
        item = self.read_item({"pk": {"S": signing_key_pk(algorithm)}}, consistent=consistent)
        if not item:
            return None
        entries = tuple(_key_entry(value["M"], algorithm) for value in item["keys"]["L"])
        return Keyring(algorithm, int(item["generation"]["N"]), entries)

    def put_keyring(self, keyring: Keyring) -> bool:
        """Store ``keyring`` if the item is still at the generation before it; False if another writer won."""
        previous = keyring.generation - 1
        condition = "attribute_not_exists(pk)" if previous == 0 else "generation = :previous"
        values = {} if previous == 0 else {"ExpressionAttributeValues": {":previous": {"N": str(previous)}}}
        item: Item = {
            "pk": {"S": signing_key_pk(keyring.algorithm)},
            "generation": {"N": str(keyring.generation)},
            "keys": {"L": [{"M": _key_attributes(entry)} for entry in keyring.entries]},
        }
        return self.conditional_write(self.client.put_item, Item=item, ConditionExpression=condition, **values)[0]

    def get_legacy_signing_key(self) -> KeyEntry | None:
        """The pre-keyring envelope key's public half, as a LEGACY entry (never used to sign)."""
        item = self.read_item({"pk": {"S": LEGACY_SIGNING_KEY_PK}}, consistent=True)
        if not item:
            return None
        return KeyEntry(kid=item["kid"]["S"], algorithm="ES256", public_jwk=json.loads(item["public_jwk"]["S"]),
                        mode=LEGACY, protected_by="", active_from=int(item.get("created_at", {"N": "0"})["N"]))


def _key_attributes(entry: KeyEntry) -> Item:
    attributes: Item = {
        "kid": {"S": entry.kid},
        "jwk": {"S": json.dumps(entry.public_jwk, separators=(",", ":"))},
        "mode": {"S": entry.mode},
        "protected_by": {"S": entry.protected_by},
        "active_from": {"N": str(entry.active_from)},
    }
    if entry.ciphertext is not None:
        attributes["ciphertext"] = {"B": entry.ciphertext}
    return attributes


def _key_entry(attributes: Item, algorithm: str) -> KeyEntry:
    ciphertext = attributes.get("ciphertext")
    return KeyEntry(kid=attributes["kid"]["S"], algorithm=algorithm, public_jwk=json.loads(attributes["jwk"]["S"]),
                    mode=attributes["mode"]["S"], protected_by=attributes["protected_by"]["S"],
                    active_from=int(attributes["active_from"]["N"]),
                    ciphertext=bytes(ciphertext["B"]) if ciphertext else None)


def _why_code_refused(old: Item, code_hash: str, client_id: str, redirect_uri: str,
                      code_challenge: str | None, now: float) -> str:
    """Says why, for the developer; only once the code itself matched (a guesser learns nothing)."""
    def text(name: str) -> str | None:
        return old.get(name, {}).get("S")

    stored = text("code_hash")
    if stored is None or not hmac.compare_digest(stored, code_hash):
        return "The authorization code is invalid."
    if "code_jti" in old:
        return "The authorization code was already used."
    if int(old["expires_at"]["N"]) <= int(now):
        return "The authorization code has expired."
    if text("client_id") != client_id:
        return "The authorization code was issued to another client."
    if text("redirect_uri") != redirect_uri:
        return "redirect_uri does not match the authorization request."
    return "The code_verifier does not match the code_challenge." if text("code_challenge") or code_challenge \
        else "The authorization code is invalid."


def _owned(session: Session | None, token_hash: str) -> Session | None:
    """The session if this browser token owns it; otherwise None (same answer as unknown)."""
    if session is None or not hmac.compare_digest(session.browser_token_hash, token_hash):
        return None
    return session


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
