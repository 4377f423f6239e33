"""`GET /events` on a real server (SQLite): ids, Last-Event-ID replay, access, re-checks."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest

from tests.conftest import make_token
from tests.sse import Sse, stream
from warroom.auth import service as auth
from warroom.auth import sessions
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime
from warroom.web import events

INCIDENTS = "/api/v1/incidents"
MARKER = "BREACH-MARKER-91"
PASSWORD = "correct horse battery"
PEOPLE = [{"id": name, "name": name.capitalize()} for name in ("ada", "bob", "carol", "vic")]


@pytest.fixture
def config() -> WarroomConfig:
    """Four people; security incidents are restricted (the shipped type)."""
    return WarroomConfig.model_validate({"people": PEOPLE})


@pytest.fixture
def who(runtime: Runtime) -> dict[str, dict[str, str]]:
    """Authorization headers of ada (admin), bob (responder) and vic (viewer)."""
    users = {"ada": "admin", "bob": "responder", "vic": "viewer"}
    return {
        name: {"Authorization": f"Bearer {make_token(runtime, name, role)}"}
        for name, role in users.items()
    }


@pytest.fixture
def web(live_server: str, who: dict[str, dict[str, str]]) -> httpx.Client:
    """An API client of the live server as ada, with one public incident, INC-1."""
    client = httpx.Client(base_url=live_server, headers=who["ada"], timeout=30)
    answer = client.post(INCIDENTS, json={"title": "Search is slow"})
    assert answer.status_code == 201, answer.text
    return client


def note(web: httpx.Client, ref: str, text: str = "looking") -> int:
    """Add a note through the API; return its timeline event id."""
    answer = web.post(f"{INCIDENTS}/{ref}/timeline", json={"text": text})
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def test_a_note_reaches_the_stream_with_its_id(
    web: httpx.Client, live_server: str, who: dict[str, dict[str, str]]
) -> None:
    with stream(live_server, who["vic"]) as events_:
        assert events_.retry == 2000
        headers = events_.response.headers
        assert headers["cache-control"] == "no-store"
        assert headers["x-accel-buffering"] == "no"
        assert headers["content-type"].startswith("text/event-stream")
        written = note(web, "INC-1", "the cache is cold")
        (got,) = events_.timeline(1)
    assert got.id == str(written)
    assert got.json() == {"incident": "INC-1", "number": 1, "id": written, "kind": "note"}


def test_a_reconnect_replays_exactly_what_was_missed(
    web: httpx.Client, live_server: str, who: dict[str, dict[str, str]]
) -> None:
    with stream(live_server, who["vic"]) as events_:
        first = note(web, "INC-1")
        assert events_.timeline(1)[0].id == str(first)
    missed = [note(web, "INC-1"), note(web, "INC-1")]
    with stream(live_server, who["vic"] | {"Last-Event-ID": str(first)}) as events_:
        replayed = events_.timeline(2)
        assert [int(e.id or 0) for e in replayed] == missed
        after = note(web, "INC-1")  # and then it goes on live
        assert events_.timeline(1)[0].id == str(after)
    # The query parameter does the same, for a client that cannot set the header.
    with stream(live_server, who["vic"], f"/events?last_event_id={missed[0]}") as events_:
        assert [int(e.id or 0) for e in events_.timeline(2)] == [missed[1], after]


def test_a_long_absence_asks_for_a_reload(
    web: httpx.Client,
    live_server: str,
    who: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "REPLAY_LIMIT", 2)
    newest = [note(web, "INC-1") for _ in range(3)][-1]
    with stream(live_server, who["vic"] | {"Last-Event-ID": "0"}) as events_:
        got = events_.next()
        assert (got.event, got.id) == ("reload", str(newest))
        with pytest.raises(EOFError):
            events_.next()


def test_one_incident_room_streams_only_that_incident(
    web: httpx.Client, live_server: str, who: dict[str, dict[str, str]]
) -> None:
    assert web.post(INCIDENTS, json={"title": "Queue is backed up"}).status_code == 201
    with stream(live_server, who["vic"], "/events?incident=INC-2") as events_:
        note(web, "INC-1")
        wanted = note(web, "INC-2")
        # In id order: INC-2's note first means INC-1's was left out.
        assert events_.timeline(1)[0].id == str(wanted)


def test_a_restricted_incident_reaches_only_who_may_see_it(
    web: httpx.Client, live_server: str, who: dict[str, dict[str, str]]
) -> None:
    body = {"title": f"Customer data exposed {MARKER}", "incident_type": "security"}
    secret = web.post(INCIDENTS, json=body | {"commander": "carol"})
    assert secret.json()["visibility"] == "restricted", secret.text
    ref = secret.json()["ref"]
    # A room of a hidden incident does not exist for bob.
    hidden = httpx.get(f"{live_server}/events?incident={ref}", headers=who["bob"], timeout=30)
    assert hidden.status_code == 404
    with stream(live_server, who["bob"]) as bobs, stream(live_server, who["ada"]) as adas:
        note(web, ref, f"the dump holds {MARKER}")
        public = note(web, "INC-1")
        # Events arrive in id order: the public note coming first means the secret one never will.
        assert bobs.timeline(1)[0].id == str(public)
        assert [e.json()["incident"] for e in adas.timeline(2)] == [ref, "INC-1"]
        let_in = web.post(f"{INCIDENTS}/{ref}/access", json={"person": "bob", "reason": "DBA"})
        assert let_in.status_code == 200, let_in.text
        granted = bobs.timeline(1)[0]
        assert granted.json()["kind"] == "access_granted"
        after = note(web, ref, f"rotated {MARKER}")
        seen = bobs.timeline(1)[0]
        assert seen.id == str(after)
        for event in (granted, seen):
            assert MARKER not in event.data and "title" not in event.json()
    # A replay is filtered too: vic, no participant, gets only the public incident's events.
    with stream(live_server, who["vic"] | {"Last-Event-ID": "0"}) as vics:
        last = note(web, "INC-1")
        replay: list[Sse] = []
        while not replay or replay[-1].id != str(last):
            replay.append(vics.next())
    assert {e.json()["incident"] for e in replay} == {"INC-1"}
    assert all(MARKER not in json.dumps(e.data) for e in replay)


def test_a_revoked_token_ends_the_stream(
    web: httpx.Client,
    live_server: str,
    runtime: Runtime,
    who: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "RECHECK_SECONDS", 0.2)
    token = who["vic"]["Authorization"].removeprefix("Bearer ")
    with stream(live_server, who["vic"]) as events_:
        note(web, "INC-1")
        events_.timeline(1)
        with runtime.db.transaction() as session:
            auth.revoke_token(session, prefix=token[:10], now=runtime.clock.now())
        with pytest.raises(EOFError):
            events_.next()


def test_the_stream_needs_a_sign_in(live_server: str) -> None:
    assert httpx.get(f"{live_server}/events", timeout=30).status_code == 401


def test_making_an_incident_public_or_restricted_counts_at_once(
    web: httpx.Client, live_server: str, who: dict[str, dict[str, str]]
) -> None:
    body = {"title": f"Customer data exposed {MARKER}", "incident_type": "security"}
    ref = web.post(INCIDENTS, json=body).json()["ref"]
    with stream(live_server, who["bob"]) as bobs:
        note(web, ref)
        public = note(web, "INC-1")  # the answers for both incidents are now remembered
        assert bobs.timeline(1)[0].id == str(public)
        made = web.patch(f"{INCIDENTS}/{ref}", json={"visibility": "public", "reason": "told"})
        assert made.status_code == 200, made.text
        changed = bobs.timeline(1)[0].json()
        assert (changed["incident"], changed["kind"]) == (ref, "field_changed")
        seen = note(web, ref)
        assert bobs.timeline(1)[0].id == str(seen)
        back = {"visibility": "restricted", "reason": "legal asked"}
        assert web.patch(f"{INCIDENTS}/{ref}", json=back).status_code == 200
        note(web, ref)
        public = note(web, "INC-1")
        assert bobs.timeline(1)[0].id == str(public)


def test_a_bad_last_event_id_streams_live_without_replay(
    web: httpx.Client, live_server: str, who: dict[str, dict[str, str]]
) -> None:
    note(web, "INC-1")
    # An error status would stop a browser's EventSource for good: start live instead.
    with stream(live_server, who["vic"] | {"Last-Event-ID": "nonsense"}) as events_:
        written = note(web, "INC-1")
        assert events_.timeline(1)[0].id == str(written)


def carol_signed_in(live_server: str, runtime: Runtime, clock: FrozenClock) -> httpx.Client:
    """Make carol, a viewer, and return a client signed in as her (a session cookie)."""
    with runtime.db.transaction() as session:
        auth.create_user(session, name="carol", role="viewer", now=clock.now(), password=PASSWORD)
    browser = httpx.Client(base_url=live_server, timeout=30)
    signed_in = browser.post("/api/v1/auth/sign-in", json={"user": "carol", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    return browser


def test_a_session_cookie_streams_until_the_session_idles_out(
    web: httpx.Client,
    live_server: str,
    runtime: Runtime,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    browser = carol_signed_in(live_server, runtime, clock)
    cookie = {"Cookie": f"{sessions.COOKIE}={browser.cookies[sessions.COOKIE]}"}
    monkeypatch.setattr(events, "RECHECK_SECONDS", 0.2)
    with stream(live_server, cookie) as events_:
        written = note(web, "INC-1")
        assert events_.timeline(1)[0].id == str(written)
        # The open stream keeps nobody signed in: its re-checks (several in this half
        # second) do not count as use, so the session idles out, and the stream ends.
        idle = runtime.config().auth.sessions.idle_timeout
        clock.advance(idle / 2)
        time.sleep(0.5)
        clock.advance(idle / 2)
        with pytest.raises(EOFError):
            events_.next()


def test_what_commits_before_the_board_subscribes_still_reaches_it(
    web: httpx.Client, live_server: str, runtime: Runtime, clock: FrozenClock
) -> None:
    # The war board is rendered, an incident opens, then the browser opens its stream: the
    # URL the page was rendered with replays the gap (this was the intake race in issue 14).
    browser = carol_signed_in(live_server, runtime, clock)
    board = browser.get("/")
    assert board.status_code == 200, board.text
    (url,) = re.findall(r'data-live="([^"]+)"', board.text)
    assert url.startswith("/events?last_event_id=")
    opened = web.post(INCIDENTS, json={"title": "Checkout is down"})
    assert opened.status_code == 201, opened.text
    cookie = {"Cookie": f"{sessions.COOKIE}={browser.cookies[sessions.COOKIE]}"}
    with stream(live_server, cookie, url) as events_:
        got = events_.next()
        assert json.loads(got.data)["incident"] == opened.json()["ref"]


def test_a_reconnect_replays_from_its_last_event_id_not_the_pages(
    web: httpx.Client, live_server: str, who: dict[str, dict[str, str]]
) -> None:
    first = note(web, "INC-1", "one")
    second = note(web, "INC-1", "two")
    # The page's id says "after first"; the browser, reconnecting, says "after second".
    headers = who["vic"] | {"Last-Event-ID": str(second)}
    with stream(live_server, headers, f"/events?last_event_id={first}") as events_:
        third = note(web, "INC-1", "three")
        assert [e.id for e in events_.timeline(1)] == [str(third)]
