"""Property-based tests, in-process (moto ``mock_aws``, no sockets):

- the WebSocket handler answers any message body with a JSON reply, never an exception;
- the store's transitions, driven by a hypothesis state machine against a model of
  DESIGN §2: the version moves by exactly one per change, final states stay final,
  a session is redeemed at most once, and every call answers as the model says.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from localcloud.events import LambdaContext, new_connection_id, websocket_event
from qrlogin import deps, errors, ids
from qrlogin.config import REDEEM_WINDOW_SECONDS
from qrlogin.sessions import PhoneUser, Session, Status
from qrlogin.store import SessionStore

pytestmark = pytest.mark.load

TTL_S = 120


@pytest.fixture
def moto_aws(aws, settings_env, monkeypatch) -> None:
    """The functions' settings and moto's AWS with the template's table and key: the unit tier's fixtures."""
    assert settings_env["SESSION_TTL_SECONDS"] == str(TTL_S)  # the model below assumes this lifetime
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


def new_session(store: SessionStore, now: float) -> tuple[Session, str]:
    token = ids.new_browser_token()
    session = Session(session_id=ids.new_session_id(), status=Status.PENDING, version=1, created_at=int(now),
                      expires_at=int(now) + TTL_S, browser_token_hash=ids.hash_token(token),
                      request_ip="198.51.100.7", request_user_agent="property test")
    store.create(session)
    return session, token


# -- the WebSocket handler -------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ACTIONS = st.sampled_from(["subscribe", "ping", "", "SUBSCRIBE", "$connect", "$default", "unknown"]) | st.text()
REPLY_TYPES = {"status", "error", "pong"}


def test_the_websocket_handler_answers_any_message_with_json(moto_aws):
    from status.websocket import handler

    store = deps.store()
    real, token = new_session(store, time.time())
    session_ids = st.sampled_from([real.session_id, ids.new_session_id()]) | st.text(max_size=40) | json_values
    tokens = st.sampled_from([token, ids.new_browser_token()]) | st.text(max_size=60) | json_values
    messages = st.fixed_dictionaries({}, optional={"action": ACTIONS, "session_id": session_ids,
                                                   "browser_token": tokens, "extra": json_values})
    bodies = messages.map(json.dumps) | json_values.map(json.dumps) | st.text(max_size=200) | \
        st.binary(max_size=200).map(lambda data: data.decode("utf-8", "replace")) | st.just("x" * 20_000)

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies, route_key=st.sampled_from(["subscribe", "ping", "$default"]))
    def always_a_json_reply(body, route_key):
        event = websocket_event(route_key=route_key, connection_id=new_connection_id(),
                                connected_at_ms=int(time.time() * 1000), body=body)
        reply = handler(event, LambdaContext("WebSocketFunction"))
        assert reply["statusCode"] == 200
        message = json.loads(reply["body"])
        assert isinstance(message, dict) and message["type"] in REPLY_TYPES, message
        if message["type"] == "error":
            assert message["error"] in ("invalid_request", "not_found", "payload_too_large"), message
            assert token not in reply["body"]
        if message["type"] == "status":
            assert message["session_id"] == real.session_id and route_key == "subscribe"

    always_a_json_reply()


# -- the store's state machine -----------------------------------------------------------

SETTLED = {Status.REDEEMED, Status.DENIED, Status.CANCELLED}
USERS = st.sampled_from(["ann", "ben"])


@dataclass
class Model:
    """DESIGN §2 as a table: what each call must answer and leave behind."""

    status: Status = Status.PENDING
    version: int = 1
    user: str | None = None
    expires_at: int = 0

    def effective(self, now: float) -> Status:
        return Status.EXPIRED if self.status not in SETTLED and now >= self.expires_at else self.status

    def final(self, now: float) -> bool:
        return self.effective(now) in SETTLED | {Status.EXPIRED}

    def change(self, status: Status, **fields: object) -> None:
        self.status, self.version = status, self.version + 1
        for name, value in fields.items():
            setattr(self, name, value)

    def phone(self, action: str, user: str, now: float) -> type[errors.DomainError] | None:
        """Apply a phone call; the error it must raise, or None (a change or an idempotent repeat)."""
        if self.effective(now) is Status.EXPIRED:
            return errors.SessionExpired
        sources, target, done = {
            "scan": ({Status.PENDING}, Status.SCANNED, {Status.SCANNED}),
            "confirm": ({Status.SCANNED}, Status.CONFIRMED, {Status.CONFIRMED, Status.REDEEMED}),
            "deny": ({Status.PENDING, Status.SCANNED}, Status.DENIED, {Status.DENIED}),
        }[action]
        bound_to_caller = self.user == user or (action != "confirm" and self.status is Status.PENDING)
        if self.status in sources and bound_to_caller:
            extra = {"expires_at": int(now) + REDEEM_WINDOW_SECONDS} if action == "confirm" else {}
            self.change(target, user=user, **extra)
            return None
        if self.status in done and self.user == user:
            return None
        return errors.SessionConflict

    def cancel(self, owner: bool, now: float) -> type[errors.DomainError] | None:
        if not owner:
            return errors.SessionNotFound
        if self.effective(now) in (Status.PENDING, Status.SCANNED):
            self.change(Status.CANCELLED)
            return None
        return errors.SessionConflict

    def redeem(self, owner: bool, now: float) -> type[errors.DomainError] | None:
        if not owner:
            return errors.SessionNotFound
        return {
            Status.CONFIRMED: None, Status.PENDING: errors.AuthorizationPending,
            Status.SCANNED: errors.AuthorizationPending, Status.DENIED: errors.AccessDenied,
            Status.CANCELLED: errors.AccessDenied, Status.EXPIRED: errors.ExpiredToken,
            Status.REDEEMED: errors.InvalidGrant,
        }[self.effective(now)]


class SessionLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = deps.store()
        self.now = 1_800_000_000.0
        session, self.token = new_session(self.store, self.now)
        self.session_id = session.session_id
        self.model = Model(expires_at=session.expires_at)
        self.redeemed = 0
        self.final_since: tuple[str, int] | None = None

    def stored(self) -> Session:
        session = self.store.get(self.session_id)
        assert session is not None
        return session

    def expect(self, call, expected: type[errors.DomainError] | None) -> None:
        try:
            call()
        except errors.DomainError as error:
            assert type(error) is expected, (error, expected, self.model)
        else:
            assert expected is None, (expected, self.model)

    @rule(action=st.sampled_from(["scan", "confirm", "deny"]), user=USERS)
    def phone(self, action, user):
        method = getattr(self.store, action)
        args = (self.session_id, PhoneUser(user, user.title()), self.now)
        if action == "confirm":
            args += (int(self.now) + REDEEM_WINDOW_SECONDS,)
        expected = self.model.phone(action, user, self.now)
        self.expect(lambda: method(*args), expected)

    @rule(owner=st.booleans())
    def cancel(self, owner):
        token = self.token if owner else ids.new_browser_token()
        expected = self.model.cancel(owner, self.now)
        self.expect(lambda: self.store.cancel(self.session_id, ids.hash_token(token), self.now), expected)

    @rule(owner=st.booleans())
    def redeem(self, owner):
        token = self.token if owner else ids.new_browser_token()
        expected = self.model.redeem(owner, self.now)
        if expected is None:
            self.model.change(Status.REDEEMED)
            self.redeemed += 1
        self.expect(lambda: self.store.redeem(self.session_id, ids.hash_token(token), self.now,
                                                 jti=ids.new_session_id()), expected)

    @rule(seconds=st.sampled_from([1, 30, 59, 61, 119, 121, 300]))
    def time_passes(self, seconds):
        self.now += seconds

    @invariant()
    def the_item_is_what_the_model_says(self):
        session = self.stored()
        # The version moves by exactly one per change, never otherwise
        assert (session.status, session.version) == (self.model.status, self.model.version)
        assert session.user_sub == self.model.user
        assert session.expires_at == self.model.expires_at

    @invariant()
    def final_states_stay_final_and_redeem_happens_at_most_once(self):
        session = self.stored()
        if self.final_since is not None:
            assert (session.status.value, session.version) == self.final_since
            assert session.is_final(self.now)
        elif session.is_final(self.now):
            self.final_since = (session.status.value, session.version)
        assert self.redeemed <= 1


def test_the_stores_transitions_follow_the_state_machine(moto_aws):
    run_state_machine_as_test(SessionLifecycle, settings=settings(
        max_examples=40, stateful_step_count=20, deadline=None, database=None,
        suppress_health_check=list(HealthCheck)))
