"""Token scopes per method, calendar tokens, expiry, revocation and disabled users over HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from warroom.auth import service as auth
from warroom.auth import users
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

OVERRIDE = {
    "schedule": "payments",
    "person": "bob",
    "start": "2026-03-03T09:00:00Z",
    "end": "2026-03-03T18:00:00Z",
}


@pytest.fixture
def config() -> WarroomConfig:
    """One schedule, so the iCal routes have a feed to serve."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "alice", "name": "Alice Ng"}, {"id": "bob", "name": "Bob Ruiz"}],
            "schedules": [
                {
                    "id": "payments",
                    "timezone": "UTC",
                    "layers": [
                        {
                            "name": "primary",
                            "rotation": {
                                "every": "1w",
                                "handoff": "Mon 09:00",
                                "start": "2026-01-05",
                                "participants": ["alice", "bob"],
                            },
                        }
                    ],
                }
            ],
        }
    )


def token_for(
    runtime: Runtime,
    user: str,
    scopes: Iterable[str] = ("read", "write"),
    expires_in: timedelta | None = None,
) -> str:
    """Create another token for an existing user."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        return auth.create_token(
            session,
            user=auth.get_user(session, user),
            name="t",
            now=now,
            scopes=scopes,
            expires_at=now + expires_in if expires_in else None,
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def message(response: object) -> str:
    return str(response.json()["error"]["message"])  # type: ignore[attr-defined]


def count_incidents(runtime: Runtime) -> int:
    from sqlalchemy import func, select

    from warroom.incidents.models import Incident

    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def test_read_scope_reads_and_every_change_needs_write(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    read = bearer(token_for(runtime, "rita", ["read"]))
    assert client.get("/api/v1/incidents", headers=read).status_code == 200
    assert client.get("/api/v1/oncall", headers=read).status_code == 200
    assert client.get("/api/v1/schedules/payments/shifts", headers=read).status_code == 200
    denied = client.post("/api/v1/incidents", json={"title": "x"}, headers=read)
    assert denied.status_code == 403
    assert message(denied) == "this token has scope read; POST /api/v1/incidents needs write"
    assert count_incidents(runtime) == 0  # refused before anything was written
    both = bearer(tokens["responder"])  # a token made without scopes reads and writes
    assert client.post("/api/v1/incidents", json={"title": "x"}, headers=both).status_code == 201
    for method, path, body in (
        ("PATCH", "/api/v1/incidents/1", {"title": "renamed"}),
        ("POST", "/api/v1/incidents/1/acknowledge", {}),
        ("POST", "/api/v1/incidents/1/timeline", {"text": "note"}),
        ("POST", "/api/v1/oncall/overrides", OVERRIDE),
    ):
        refused = client.request(method, path, json=body, headers=read)
        assert refused.status_code == 403, (method, path)
        assert message(refused).endswith(f"{method} {path} needs write")
    shown = client.get("/api/v1/incidents/1", headers=read).json()
    assert shown["title"] == "x" and shown["status"] == "detected"


def test_write_scope_alone_cannot_read(
    client: TestClient, runtime: Runtime, tokens: object
) -> None:
    write = bearer(token_for(runtime, "rita", ["write"]))
    assert client.post("/api/v1/incidents", json={"title": "x"}, headers=write).status_code == 201
    refused = client.get("/api/v1/incidents", headers=write)
    assert refused.status_code == 403
    assert message(refused) == "this token has scope write; GET /api/v1/incidents needs read"


def test_scopes_do_not_lift_the_role(client: TestClient, runtime: Runtime, tokens: object) -> None:
    viewer = bearer(token_for(runtime, "vic", ["read", "write"]))
    refused = client.post("/api/v1/incidents", json={"title": "x"}, headers=viewer)
    assert refused.status_code == 403
    assert message(refused) == "this needs the responder role; vic is a viewer"


def test_calendar_token_opens_only_the_ical_feeds(
    client: TestClient, runtime: Runtime, tokens: object
) -> None:
    calendar = token_for(runtime, "ada", ["calendar"])  # even an admin's calendar token
    for method, path in (
        ("GET", "/api/v1/incidents"),
        ("GET", "/api/v1/oncall"),
        ("GET", "/api/v1/schedules/payments/shifts"),
        ("POST", "/api/v1/incidents"),
    ):
        refused = client.request(method, path, json={"title": "x"}, headers=bearer(calendar))
        assert refused.status_code == 403, path
        assert message(refused).startswith("this is a calendar token: it reads only the iCal")
    assert count_incidents(runtime) == 0
    in_url = client.get("/api/v1/schedules/payments/ical", params={"token": calendar})
    assert in_url.status_code == 200 and in_url.text.startswith("BEGIN:VCALENDAR")
    person = client.get("/api/v1/people/alice/ical", params={"token": calendar})
    assert person.status_code == 200
    as_header = client.get("/api/v1/schedules/payments/ical", headers=bearer(calendar))
    assert as_header.status_code == 200


def test_ical_url_refuses_read_and_write_tokens(
    client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    for token in (tokens["viewer"], tokens["admin"]):
        refused = client.get("/api/v1/schedules/payments/ical", params={"token": token})
        assert refused.status_code == 403
        assert "a token in a URL must be a calendar token" in message(refused)
    assert message(refused).endswith("`warroom tokens create ada --scope calendar`")
    # A header is not copied into calendars: a reading token may still fetch the feed there.
    header = client.get("/api/v1/schedules/payments/ical", headers=bearer(tokens["viewer"]))
    assert header.status_code == 200
    write_only = bearer(token_for(runtime, "vic", ["write"]))
    no_read = client.get("/api/v1/people/bob/ical", headers=write_only)
    assert no_read.status_code == 403 and message(no_read).endswith("iCal needs read")
    missing = client.get("/api/v1/schedules/payments/ical")
    assert missing.status_code == 401 and "--scope calendar" in message(missing)


def test_expired_token_says_when(
    client: TestClient, runtime: Runtime, clock: FrozenClock, tokens: object
) -> None:
    token = token_for(runtime, "rita", expires_in=timedelta(hours=1))
    calendar = token_for(runtime, "rita", ["calendar"], expires_in=timedelta(hours=2))
    assert client.get("/api/v1/incidents", headers=bearer(token)).status_code == 200
    clock.advance(timedelta(minutes=59))
    assert client.get("/api/v1/incidents", headers=bearer(token)).status_code == 200
    clock.advance(timedelta(minutes=1))
    expired = client.get("/api/v1/incidents", headers=bearer(token))
    assert expired.status_code == 401
    assert message(expired) == f"the API token {token[:10]}… expired at 2026-03-02 10:00 UTC"
    feed = client.get("/api/v1/schedules/payments/ical", params={"token": calendar})
    assert feed.status_code == 200
    clock.advance(timedelta(hours=1))
    late = client.get("/api/v1/schedules/payments/ical", params={"token": calendar})
    assert late.status_code == 401 and "expired at 2026-03-02 11:00 UTC" in message(late)


def test_revoked_token_says_so(
    client: TestClient, runtime: Runtime, clock: FrozenClock, tokens: dict[str, str]
) -> None:
    clock.advance(timedelta(minutes=30))
    with runtime.db.transaction() as session:
        auth.revoke_token(session, prefix=tokens["viewer"][:10], now=clock.now())
    refused = client.get("/api/v1/incidents", headers=bearer(tokens["viewer"]))
    assert refused.status_code == 401
    assert message(refused) == (
        f"the API token {tokens['viewer'][:10]}… was revoked at 2026-03-02 09:30 UTC"
    )


def test_token_validation_writes_nothing(runtime: Runtime, tokens: object) -> None:
    from warroom.core.errors import Conflict, Invalid

    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        before = len(auth.list_tokens(session))
        vic = auth.get_user(session, "vic")
        with pytest.raises(Invalid, match="calendar scope alone"):
            auth.create_token(session, user=vic, name="x", now=now, scopes=["calendar", "read"])
        with pytest.raises(Invalid, match="unknown scope 'admin'"):
            auth.create_token(session, user=vic, name="x", now=now, scopes=["admin"])
        with pytest.raises(Invalid, match="not in the future"):
            auth.create_token(session, user=vic, name="x", now=now, expires_at=now)
        users.disable_user(session, name="vic", now=now)
        with pytest.raises(Conflict, match="'vic' is disabled"):
            auth.create_token(session, user=vic, name="x", now=now)
        assert len(auth.list_tokens(session)) == before


def test_disabling_ends_tokens_at_once_and_enabling_does_not_revive_them(
    client: TestClient, runtime: Runtime, clock: FrozenClock, tokens: dict[str, str]
) -> None:
    second = token_for(runtime, "rita", ["read"])
    for token in (tokens["responder"], second):
        assert client.get("/api/v1/incidents", headers=bearer(token)).status_code == 200
    with runtime.db.transaction() as session:
        done = users.disable_user(session, name="rita", now=clock.now())
    assert (done.already, done.tokens_ended) == (False, 2)
    for token in (tokens["responder"], second):
        refused = client.get("/api/v1/incidents", headers=bearer(token))
        assert refused.status_code == 401 and message(refused) == "user 'rita' is disabled"
    with runtime.db.transaction() as session:
        assert users.disable_user(session, name="rita", now=clock.now()).already
        users.enable_user(session, name="rita")
    old = client.get("/api/v1/incidents", headers=bearer(second))
    assert old.status_code == 401 and "was revoked at" in message(old)
    fresh = token_for(runtime, "rita")
    assert client.get("/api/v1/incidents", headers=bearer(fresh)).status_code == 200
    # Other users' tokens were not touched.
    assert client.get("/api/v1/incidents", headers=bearer(tokens["viewer"])).status_code == 200


def test_the_last_enabled_admin_stays(runtime: Runtime, tokens: object) -> None:
    from warroom.core.errors import Conflict

    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        with pytest.raises(Conflict, match="ada: they are the last enabled admin"):
            users.set_role(session, name="ada", role="responder")
        with pytest.raises(Conflict, match="last enabled admin"):
            users.disable_user(session, name="ada", now=now)
        users.set_role(session, name="rita", role="admin")
        users.disable_user(session, name="rita", now=now)
        # A disabled admin does not count: ada is still the last one who can act.
        with pytest.raises(Conflict, match="last enabled admin"):
            users.set_role(session, name="ada", role="viewer")
        users.enable_user(session, name="rita")
        assert users.set_role(session, name="ada", role="viewer").role == "viewer"
    with runtime.db.session() as session:
        rows = {row.name: row for row in users.user_rows(session, now=now)}
    assert (rows["ada"].role, rows["rita"].role) == ("viewer", "admin")
    assert rows["rita"].disabled_at is None and rows["rita"].live_tokens == 0
    assert rows["vic"].live_tokens == 1
    assert rows["ada"].live_tokens == 1  # the refused disabling revoked nothing


def test_bootstrap_admin_token_reads_and_writes(client: TestClient, runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        first = auth.bootstrap_admin(session, now=runtime.clock.now())
    assert first is not None
    headers = bearer(first[1])
    assert client.post("/api/v1/incidents", json={"title": "x"}, headers=headers).status_code == 201
    assert client.get("/api/v1/incidents", headers=headers).status_code == 200
    with runtime.db.session() as session:
        assert auth.get_user(session, "admin").service_account
