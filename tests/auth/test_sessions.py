"""Browser sessions over real HTTP: the cookie, rotation, timeouts, sign-out, CSRF, /me."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from warroom.auth import service as auth
from warroom.auth import sessions
from warroom.auth.config import AuthConfig, SessionsConfig
from warroom.auth.sessions import COOKIE, BrowserSession
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.escalation.config import NotificationRules
from warroom.runtime import Runtime

SIGN_IN = "/api/v1/auth/sign-in"
SIGN_OUT = "/api/v1/auth/sign-out"
PASSWORD = "correct horse battery"
CSRF_WRONG = "missing or wrong CSRF token: send the X-CSRF-Token header (or csrf_token field)"


def add_user(runtime: Runtime, name: str = "alice", role: str = "responder") -> None:
    """Create a user with PASSWORD."""
    with runtime.db.transaction() as session:
        auth.create_user(session, name=name, role=role, now=runtime.clock.now(), password=PASSWORD)


@pytest.fixture
def http(live_server: str, runtime: Runtime) -> Iterator[httpx.Client]:
    """An httpx client of the live server (its own cookie jar), with user alice."""
    add_user(runtime)
    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


def sign_in(client: httpx.Client | TestClient, user: str = "alice") -> httpx.Response:
    """Sign in with PASSWORD and return the response."""
    return client.post(SIGN_IN, json={"user": user, "password": PASSWORD})


def session_rows(runtime: Runtime) -> list[BrowserSession]:
    """Return every session row, oldest first."""
    with runtime.db.session() as session:
        rows = list(session.scalars(select(BrowserSession).order_by(BrowserSession.id)))
        session.expunge_all()
    return rows


def test_sign_in_sets_an_httponly_lax_cookie_and_stores_only_a_hash(
    http: httpx.Client, runtime: Runtime, clock: FrozenClock
) -> None:
    response = sign_in(http)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == "alice" and body["role"] == "responder"
    assert body["expires_at"] == (clock.now() + timedelta(days=7)).isoformat().replace(
        "+00:00", "Z"
    )
    assert len(body["csrf_token"]) == 64
    assert response.headers["cache-control"] == "no-store"
    raw = response.headers["set-cookie"]
    parsed = SimpleCookie(raw)[COOKIE]
    assert parsed["httponly"] is True
    assert parsed["samesite"] == "lax"
    assert parsed["path"] == "/"
    assert parsed["max-age"] == str(7 * 24 * 3600)
    assert not parsed["secure"], "plain http without an https base_url: no Secure flag"
    secret = parsed.value
    assert len(secret) >= 43  # 32 random bytes
    [row] = session_rows(runtime)
    assert row.digest == sessions.digest(secret)
    stored = [row.digest, row.client_address, row.user_agent, row.end_reason]
    assert all(secret not in (value or "") for value in stored)
    assert body["csrf_token"] not in stored
    assert row.client_address == "127.0.0.1"
    assert row.user_agent is not None and row.user_agent.startswith("python-httpx")
    assert row.ended_at is None and row.expires_at == clock.now() + timedelta(days=7)


def test_me_by_cookie_and_by_token(
    http: httpx.Client, runtime: Runtime, clock: FrozenClock, tokens: dict[str, str]
) -> None:
    assert http.get("/api/v1/me").status_code == 401
    csrf = sign_in(http).json()["csrf_token"]
    me = http.get("/api/v1/me").json()
    assert me["user"] == "alice" and me["role"] == "responder"
    assert me["authenticated_by"] == "session"
    assert me["session"]["csrf_token"] == csrf
    assert me["session"]["expires_at"] == "2026-03-09T09:00:00Z"
    assert me["session"]["idle_expires_at"] == "2026-03-02T21:00:00Z"
    clock.advance(timedelta(seconds=30))  # last use is recorded at most once a minute
    assert http.get("/api/v1/me").json()["session"]["idle_expires_at"] == "2026-03-02T21:00:00Z"
    clock.advance(timedelta(minutes=2))
    assert http.get("/api/v1/me").json()["session"]["idle_expires_at"] == "2026-03-02T21:02:30Z"
    by_token = httpx.get(
        http.base_url.join("/api/v1/me"),
        headers={"Authorization": f"Bearer {tokens['viewer']}"},
    ).json()
    assert by_token == {
        "user": "vic",
        "role": "viewer",
        "teams": [],
        "authenticated_by": "token",
        "session": None,
    }


def test_me_names_the_users_teams(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime)
    runtime.config_value = WarroomConfig.model_validate(
        {
            "people": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}],
            "teams": [
                {"id": "payments", "members": ["alice"]},
                {"id": "search", "members": ["bob"]},
                {"id": "sre", "leads": ["alice"]},
            ],
        }
    )
    sign_in(client)
    assert client.get("/api/v1/me").json()["teams"] == ["payments", "sre"]


def test_a_new_sign_in_rotates_the_id_and_ends_the_old_session(
    http: httpx.Client, runtime: Runtime
) -> None:
    sign_in(http)
    first = http.cookies[COOKIE]
    second_response = sign_in(http)  # the browser still sends the first cookie
    assert second_response.status_code == 200
    second = http.cookies[COOKIE]
    assert second != first
    old, new = session_rows(runtime)
    assert old.digest == sessions.digest(first) and old.end_reason == "replaced"
    assert old.ended_at is not None and new.ended_at is None
    assert http.get("/api/v1/me").status_code == 200
    stale = httpx.get(http.base_url.join("/api/v1/me"), cookies={COOKIE: first})
    assert stale.status_code == 401
    assert stale.json()["error"]["message"] == "the session has ended or expired; sign in again"


def test_idle_timeout_counts_from_the_last_use(
    http: httpx.Client, runtime: Runtime, clock: FrozenClock
) -> None:
    sign_in(http)
    clock.advance(timedelta(hours=11, minutes=59))
    assert http.get("/api/v1/me").status_code == 200  # used: the idle clock restarts
    clock.advance(timedelta(hours=11, minutes=59))
    assert http.get("/api/v1/me").status_code == 200
    clock.advance(timedelta(hours=12))
    gone = http.get("/api/v1/me")
    assert gone.status_code == 401
    assert "ended or expired" in gone.json()["error"]["message"]


def test_absolute_timeout_ends_a_session_in_use(
    http: httpx.Client, runtime: Runtime, clock: FrozenClock
) -> None:
    runtime.config_value = WarroomConfig(
        auth=AuthConfig(
            sessions=SessionsConfig(idle_timeout=timedelta(hours=2), absolute_timeout="1d")
        )
    )
    body = sign_in(http).json()
    assert body["expires_at"] == "2026-03-03T09:00:00Z"
    assert body["idle_expires_at"] == "2026-03-02T11:00:00Z"
    for _ in range(12):  # used every 1h59m: the 2h idle timeout never strikes
        clock.advance(timedelta(hours=2) - timedelta(minutes=1))
        assert http.get("/api/v1/me").status_code == 200
    clock.advance(timedelta(minutes=11))
    assert clock.now().isoformat() == "2026-03-03T08:59:00+00:00"
    assert http.get("/api/v1/me").status_code == 200
    clock.advance(timedelta(minutes=1))
    assert http.get("/api/v1/me").status_code == 401


def test_sign_out_needs_the_csrf_token_then_ends_the_session(
    http: httpx.Client, runtime: Runtime
) -> None:
    csrf = sign_in(http).json()["csrf_token"]
    refused = http.post(SIGN_OUT)
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == CSRF_WRONG
    assert http.get("/api/v1/me").status_code == 200  # still signed in
    done = http.post(SIGN_OUT, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 204
    cleared = SimpleCookie(done.headers["set-cookie"])[COOKIE]
    assert cleared.value == "" and cleared["max-age"] == "0"
    [row] = session_rows(runtime)
    assert row.ended_at is not None and row.end_reason == "signed out"
    assert http.get("/api/v1/me").status_code == 401
    assert http.post(SIGN_OUT).status_code == 204  # nothing left to end: still fine


def test_csrf_form_field_is_accepted(http: httpx.Client, runtime: Runtime) -> None:
    csrf = sign_in(http).json()["csrf_token"]
    wrong = http.post(SIGN_OUT, data={"csrf_token": "0" * 64})
    assert wrong.status_code == 403
    assert http.post(SIGN_OUT, data={"csrf_token": csrf}).status_code == 204
    assert session_rows(runtime)[0].end_reason == "signed out"


def incident_count(runtime: Runtime) -> int:
    """Return how many incidents exist."""
    from warroom.incidents.models import Incident

    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def test_cookie_changes_need_the_csrf_token_bearer_ones_do_not(
    http: httpx.Client, runtime: Runtime, tokens: dict[str, str]
) -> None:
    csrf = sign_in(http).json()["csrf_token"]
    declare = {"title": "Checkout is slow", "severity": "SEV-3"}
    missing = http.post("/api/v1/incidents", json=declare)
    assert missing.status_code == 403 and missing.json()["error"]["message"] == CSRF_WRONG
    wrong = http.post("/api/v1/incidents", json=declare, headers={"X-CSRF-Token": csrf[:-1] + "x"})
    assert wrong.status_code == 403 and wrong.json()["error"]["message"] == CSRF_WRONG
    assert incident_count(runtime) == 0  # nothing was written by the refused requests
    assert http.get("/api/v1/incidents").status_code == 200  # reads need no token
    right = http.post("/api/v1/incidents", json=declare, headers={"X-CSRF-Token": csrf})
    assert right.status_code == 201, right.text
    assert incident_count(runtime) == 1
    incident = right.json()["number"]
    patched = http.patch(f"/api/v1/incidents/{incident}", json={"summary": "x"})
    assert patched.status_code == 403
    # A bearer token wins over the cookie and needs no CSRF token.
    bearer = http.post(
        "/api/v1/incidents",
        json=declare,
        headers={"Authorization": f"Bearer {tokens['responder']}"},
    )
    assert bearer.status_code == 201
    assert incident_count(runtime) == 2


def test_cookie_session_has_its_users_role(http: httpx.Client, runtime: Runtime) -> None:
    add_user(runtime, "val", "viewer")
    csrf = sign_in(http, "val").json()["csrf_token"]
    denied = http.post("/api/v1/incidents", json={"title": "x"}, headers={"X-CSRF-Token": csrf})
    assert denied.status_code == 403
    assert denied.json()["error"]["message"] == "this needs the responder role; val is a viewer"


def test_https_sets_the_secure_flag(runtime: Runtime, client: TestClient) -> None:
    add_user(runtime)
    on_https = TestClient(client.app, base_url="https://warroom.example")
    flags = SimpleCookie(sign_in(on_https).headers["set-cookie"])[COOKIE]
    assert flags["secure"] is True
    assert on_https.get("/api/v1/me").status_code == 200  # the Secure cookie comes back
    # Behind a proxy that talks plain http to warroom, the configured base_url decides.
    runtime.config_value = WarroomConfig(
        notifications=NotificationRules(base_url="https://warroom.example")
    )
    assert SimpleCookie(sign_in(client).headers["set-cookie"])[COOKIE]["secure"] is True
    runtime.config_value = WarroomConfig(
        notifications=NotificationRules(base_url="https://warroom.example"),
        auth=AuthConfig(sessions=SessionsConfig(secure_cookie="never")),
    )
    assert not SimpleCookie(sign_in(client).headers["set-cookie"])[COOKIE]["secure"]
