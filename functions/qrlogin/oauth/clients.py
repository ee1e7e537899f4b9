"""OAuth clients: metadata as data, checked once at registration (DESIGN §8).

A client is a table item ``client#<client_id>``.  Its secret (256 random bits)
is stored only as a SHA-256 hash and compared in constant time; a slow hash
buys nothing for a secret of that entropy.  Endpoints never re-validate the
metadata: ``register`` refuses what is not allowed, ``authenticate`` and
``redirect_uri_registered`` only look it up.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from qrlogin import ids
from qrlogin.oauth import errors

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

# The OIDC registration default (OIDC Dynamic Client Registration §2).
DEFAULT_SIGNING_ALG = "RS256"
SIGNING_ALGS = ("RS256", "ES256")
MAX_REDIRECT_URIS = 10
MAX_URI_LENGTH = 2000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class InvalidClientMetadata(ValueError):
    """Registration refused (RFC 7591 §3.2.2 names it invalid_client_metadata / invalid_redirect_uri)."""


@dataclass(frozen=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    public: bool
    secret_hash: str | None = None
    id_token_signed_response_alg: str = DEFAULT_SIGNING_ALG
    name: str = ""
    created_at: int = 0

    @property
    def auth_methods(self) -> tuple[str, ...]:
        return ("none",) if self.public else ("client_secret_basic", "client_secret_post")

    def redirect_uri_registered(self, redirect_uri: str) -> bool:
        """Exact string comparison (RFC 9700 §2.1; DESIGN §8.1): no prefix, no normalisation."""
        return redirect_uri in self.redirect_uris

    def describe(self) -> dict[str, Any]:
        """Metadata without the secret hash (for listings)."""
        return {
            "client_id": self.client_id,
            "client_name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "token_endpoint_auth_method": self.auth_methods[0],
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "public": self.public,
            "created_at": self.created_at,
        }


def check_redirect_uri(uri: Any) -> str:
    """A redirect URI a client may register: absolute https, or http on a loopback host (RFC 8252 §7.3)."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        raise InvalidClientMetadata("each redirect_uri must be a non-empty string")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in uri):
        raise InvalidClientMetadata("a redirect_uri may not contain spaces or control characters")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise InvalidClientMetadata("a redirect_uri must not have a fragment (RFC 6749 §3.1.2)")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.netloc.rsplit("@", 1)[-1].rsplit(":", 1)[0] in LOOPBACK_HOSTS:
        return uri
    raise InvalidClientMetadata("a redirect_uri must be https, or http on a loopback address")


def new_client(redirect_uris: Any, *, public: bool = False, name: str = "",
               id_token_signed_response_alg: str | None = None, now: int = 0) -> tuple[Client, str | None]:
    """Check the metadata once and make a client; returns (client, secret or None for a public client)."""
    if not isinstance(redirect_uris, list) or not redirect_uris or len(redirect_uris) > MAX_REDIRECT_URIS:
        raise InvalidClientMetadata(f"redirect_uris must be a list of 1 to {MAX_REDIRECT_URIS} URIs")
    uris = tuple(dict.fromkeys(check_redirect_uri(uri) for uri in redirect_uris))
    if not isinstance(public, bool):
        raise InvalidClientMetadata("public must be true or false")
    if not isinstance(name, str) or len(name) > 100:
        raise InvalidClientMetadata("client_name must be a string of at most 100 characters")
    alg = id_token_signed_response_alg or DEFAULT_SIGNING_ALG
    if alg not in SIGNING_ALGS:
        raise InvalidClientMetadata(f"id_token_signed_response_alg must be one of {', '.join(SIGNING_ALGS)}")
    secret = None if public else secrets.token_urlsafe(32)
    client = Client(
        client_id=secrets.token_urlsafe(16),
        redirect_uris=uris,
        public=public,
        secret_hash=ids.hash_token(secret) if secret else None,
        id_token_signed_response_alg=alg,
        name=name,
        created_at=now,
    )
    return client, secret


# -- storage -------------------------------------------------------------------


def client_key(client_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"client#{client_id}"}}


def client_to_item(client: Client) -> dict[str, Any]:
    item: dict[str, Any] = {
        **client_key(client.client_id),
        "client_id": {"S": client.client_id},
        "redirect_uris": {"L": [{"S": uri} for uri in client.redirect_uris]},
        "public": {"BOOL": client.public},
        "id_token_signed_response_alg": {"S": client.id_token_signed_response_alg},
        "client_name": {"S": client.name},
        "created_at": {"N": str(client.created_at)},
    }
    if client.secret_hash:
        item["secret_hash"] = {"S": client.secret_hash}
    return item


def client_from_item(item: Mapping[str, Any]) -> Client:
    return Client(
        client_id=item["client_id"]["S"],
        redirect_uris=tuple(uri["S"] for uri in item["redirect_uris"]["L"]),
        public=item["public"]["BOOL"],
        secret_hash=item.get("secret_hash", {}).get("S"),
        id_token_signed_response_alg=item["id_token_signed_response_alg"]["S"],
        name=item.get("client_name", {}).get("S", ""),
        created_at=int(item.get("created_at", {}).get("N", "0")),
    )


class ClientRegistry:
    """The stack's clients, in the sessions table (items ``client#<id>``)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def dynamodb(self) -> DynamoDBClient:
        if self._client is None:
            from qrlogin.aws import client

            self._client = client("dynamodb")
        return self._client

    def get(self, client_id: str) -> Client | None:
        if not is_client_id(client_id):
            return None
        try:
            item = self.dynamodb.get_item(TableName=self.table_name, Key=client_key(client_id)).get("Item")
        except (ClientError, BotoCoreError):
            raise errors.TemporarilyUnavailable(retry_after=1) from None
        return client_from_item(item) if item else None

    def put(self, client: Client) -> None:
        self.dynamodb.put_item(TableName=self.table_name, Item=client_to_item(client),
                               ConditionExpression="attribute_not_exists(pk)")

    def delete(self, client_id: str) -> bool:
        try:
            self.dynamodb.delete_item(TableName=self.table_name, Key=client_key(client_id),
                                      ConditionExpression="attribute_exists(pk)")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def list(self) -> list[Client]:
        """Every client (an admin command's scan; no function's role may Scan)."""
        found: list[Client] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "begins_with(pk, :prefix)",
            "ExpressionAttributeValues": {":prefix": {"S": "client#"}},
        }
        while True:
            page = self.dynamodb.scan(**kwargs)
            found.extend(client_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(found, key=lambda c: c.created_at)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def register(self, redirect_uris: Any, *, public: bool = False, name: str = "",
                 id_token_signed_response_alg: str | None = None, now: int = 0) -> tuple[Client, str | None]:
        client, secret = new_client(redirect_uris, public=public, name=name,
                                    id_token_signed_response_alg=id_token_signed_response_alg, now=now)
        self.put(client)
        return client, secret


def is_client_id(value: object) -> bool:
    return ids.is_session_id(value)  # same shape: 22 base64url characters


# -- client authentication at the token endpoint (RFC 6749 §2.3, OIDC Core §9) ---


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise errors.InvalidClient("The Basic credentials are not valid base64.") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise errors.InvalidClient("The Basic credentials are malformed.")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def authenticate(registry: ClientRegistry, params: Mapping[str, str], authorization: str | None) -> Client:
    """The calling client: client_secret_basic, client_secret_post, or none (public clients).

    One method per request (RFC 6749 §2.3); any failure is 401 invalid_client.
    """
    basic = _basic_credentials(authorization)
    posted_secret = params.get("client_secret")
    if basic is not None and (posted_secret is not None or params.get("client_id") not in (None, basic[0])):
        raise errors.InvalidRequest("Use one client authentication method per request.")
    client_id, secret = basic if basic is not None else (params.get("client_id", ""), posted_secret)
    client = registry.get(client_id) if client_id else None
    if client is None:
        raise errors.InvalidClient("Unknown client.")
    if client.public:
        if secret is not None:
            raise errors.InvalidClient("A public client has no secret.")
        return client
    if secret is None or client.secret_hash is None or not hmac.compare_digest(
        ids.hash_token(secret), client.secret_hash
    ):
        raise errors.InvalidClient()
    return client
