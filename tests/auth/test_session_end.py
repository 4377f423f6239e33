"""Ending sessions: a disabled user's cookie is refused; end_sessions ends only that user's."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.auth.test_sessions import PASSWORD, SIGN_IN, add_user
from warroom.app import create_app
from warroom.auth import sessions
from warroom.auth.models import User
from warroom.auth.service import create_user
from warroom.auth.sessions import BrowserSession
from warroom.auth.users import disable_user
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime


def signed_in(runtime: Runtime, user: str) -> TestClient:
    """Return a client signed in as `user`."""
    client = TestClient(create_app(runtime))
    assert client.post(SIGN_IN, json={"user": user, "password": PASSWORD}).status_code == 200
    return client


def test_a_disabled_users_cookie_is_refused(runtime: Runtime) -> None:
    add_user(runtime)
    client = signed_in(runtime, "alice")
    with runtime.db.transaction() as session:
        user = session.scalars(select(User).where(User.name == "alice")).one()
        user.disabled_at = runtime.clock.now()
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "user 'alice' is disabled"
    with runtime.db.transaction() as session:
        session.scalars(select(User).where(User.name == "alice")).one().disabled_at = None
    assert client.get("/api/v1/me").status_code == 200  # re-enabled: the session was kept


def test_end_sessions_ends_one_users_live_sessions(runtime: Runtime) -> None:
    add_user(runtime)
    add_user(runtime, "bob")
    alice = [signed_in(runtime, "alice") for _ in range(2)]
    bob = signed_in(runtime, "bob")
    with runtime.db.transaction() as session:
        user_id = session.scalars(select(User.id).where(User.name == "alice")).one()
        ended = sessions.end_sessions(
            session, user_id=user_id, now=runtime.clock.now(), reason="user disabled"
        )
        assert sessions.live_sessions(session, user_id=user_id, now=runtime.clock.now()) == []
    assert ended == 2
    assert all(c.get("/api/v1/me").status_code == 401 for c in alice)
    assert bob.get("/api/v1/me").status_code == 200
    with runtime.db.transaction() as session:
        again = sessions.end_sessions(session, user_id=user_id, now=runtime.clock.now())
        reasons = set(session.scalars(select(BrowserSession.end_reason)))
    assert again == 0  # already ended ones are left as they were
    assert reasons == {"user disabled", None}


def test_disabling_a_user_ends_their_browser_sessions(runtime: Runtime, clock: FrozenClock) -> None:
    with runtime.db.transaction() as session:
        user = create_user(session, name="lena", role="responder", now=clock.now())
        session.add(
            BrowserSession(
                user_id=user.id,
                digest="x" * 64,
                created_at=clock.now(),
                last_seen_at=clock.now(),
                expires_at=clock.now() + timedelta(days=1),
            )
        )
    with runtime.db.transaction() as session:
        disable_user(session, name="lena", now=clock.now())
    with runtime.db.session() as session:
        assert sessions.live_sessions(session, user_id=user.id, now=clock.now()) == []
