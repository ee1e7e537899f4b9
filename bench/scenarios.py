"""The first invocation of each function, as events a cold container would get.

Shared by the cold-start and memory benchmarks: each function gets the
request that a login sends it first (the WebSocket function its $connect and
then the subscribe; the OpenID Provider's functions an authorization request,
a code exchange and a device authorization).  ``COLD_START_FUNCTIONS`` is every function of the
template, so a function added there is measured once it has an entry here.
"""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from bench.environment import ORIGIN, TEMPLATE, http_request_event, ws_event
from localcloud.events import http_event, new_connection_id, stream_record
from localcloud.template import functions
from qrlogin.ids import hash_token, new_browser_token, new_session_id
from qrlogin.sessions import PhoneUser, Session, Status
from qrlogin.store import LAST_WRITE_STATUS, session_to_item

# Every function of the template, by short name: IssueFunction -> issue, OidcTokenFunction -> oidctoken.
COLD_START_FUNCTIONS = {logical.removesuffix("Function").lower(): logical for logical in functions(TEMPLATE)}
# A well-formed client id (128 bits, base64url): the registry reads the table for it.
BENCH_CLIENT_ID = "QmVuY2hDbGllbnRJZDAwMDA"[:22]
# The functions first_invocations has events for.
WITH_SCENARIO = ("issue", "confirm", "status", "websocket", "notifier", "oidcauthorize", "oidctoken",
                 "oidcdevice")
STREAM_ARN = ("arn:aws:dynamodb:us-east-1:123456789012:table/qrlogin-bench-sessions/stream/"
              "2026-01-01T00:00:00.000")


def status_change_event(session: Session, connection_id: str) -> dict[str, Any]:
    """A DynamoDB stream batch of one MODIFY record that passes the template's FilterCriteria."""
    image = session_to_item(session)
    image.update({
        "last_write": {"S": LAST_WRITE_STATUS},
        "subscribed": {"BOOL": True},
        "connections": {"SS": [connection_id]},
        "updated_at": {"N": str(int(time.time()))},
    })
    if session.user_sub:
        image["user_sub"] = {"S": session.user_sub}
    if session.user_name:
        image["user_name"] = {"S": session.user_name}
    raw = {
        "eventName": "MODIFY",
        "dynamodb": {
            "ApproximateCreationDateTime": int(time.time()),
            "Keys": {"pk": image["pk"]},
            "NewImage": image,
            "SequenceNumber": str(secrets.randbelow(10**20)),
            "SizeBytes": 400,
            "StreamViewType": "NEW_IMAGE",
        },
    }
    return {"Records": [stream_record(raw, STREAM_ARN)]}


def first_invocations(phone_token: str) -> dict[str, list[dict[str, Any]]]:
    """Function short name -> the events its first container handles, in order."""
    session_id = new_session_id()
    browser_token = new_browser_token()
    connection_id = new_connection_id()
    now = int(time.time())
    session = Session(
        session_id=session_id, status=Status.SCANNED, version=2, created_at=now, expires_at=now + 120,
        browser_token_hash=hash_token(browser_token), request_ip="198.51.100.7",
        request_user_agent="Mozilla/5.0", user_sub="alice", user_name=PhoneUser("alice", "Alice").name,
    )
    return {
        "issue": [http_request_event("POST", "/sessions")[1]],
        "confirm": [http_request_event("POST", f"/sessions/{session_id}/scan", token=phone_token)[1]],
        "status": [http_request_event("POST", f"/sessions/{session_id}/token", token=browser_token)[1]],
        "websocket": [
            ws_event("$connect", connection_id),
            ws_event("subscribe", connection_id,
                     {"action": "subscribe", "session_id": session_id, "browser_token": browser_token}),
        ],
        "notifier": [status_change_event(session, connection_id)],
        "oidcauthorize": [authorization_request()],
        "oidctoken": [code_exchange()],
        "oidcdevice": [device_authorization()],
    }


def authorization_request() -> dict[str, Any]:
    """GET /authorize of a confidential client with PKCE (its first AWS call reads the client)."""
    query = urlencode({"client_id": BENCH_CLIENT_ID, "redirect_uri": "https://app.example.com/callback",
                       "response_type": "code", "scope": "openid", "state": "s" * 22, "nonce": "n" * 22,
                       "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                       "code_challenge_method": "S256"})
    return http_event(method="GET", path="/authorize", route_key="GET /authorize", query=query,
                      headers={"origin": ORIGIN, "user-agent": "Mozilla/5.0"})


def code_exchange() -> dict[str, Any]:
    """POST /token, authorization_code grant, client_secret_basic (its first AWS call reads the client)."""
    body = urlencode({"grant_type": "authorization_code", "code": "c" * 43,
                      "redirect_uri": "https://app.example.com/callback", "code_verifier": "v" * 43}).encode()
    basic = base64.b64encode(BENCH_CLIENT_ID.encode() + b":" + b"s" * 43).decode()
    return http_event(method="POST", path="/token", route_key="POST /token", body=body,
                      headers={"authorization": f"Basic {basic}",
                               "content-type": "application/x-www-form-urlencoded"})


def device_authorization() -> dict[str, Any]:
    """POST /device_authorization, client_secret_basic (its first AWS call reads the client)."""
    basic = base64.b64encode(BENCH_CLIENT_ID.encode() + b":" + b"s" * 43).decode()
    return http_event(method="POST", path="/device_authorization", route_key="POST /device_authorization",
                      body=b"scope=openid", headers={"authorization": f"Basic {basic}",
                                                     "content-type": "application/x-www-form-urlencoded"})
