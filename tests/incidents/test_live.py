"""The live bus on both backends: what commits is published once, what rolls back never is,
and a second instance on the same database hears the first (LISTEN/NOTIFY, or the poll)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tests.conftest import make_token
from tests.sse import listen, serve, stream
from warroom.app import build_runtime, create_app
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents import service, timeline
from warroom.incidents.actor import Actor
from warroom.incidents.models import TimelineEvent
from warroom.runtime import Runtime
from warroom.settings import Settings
from warroom.storage.bus import LiveEvent

ADA = Actor(name="ada", source="api", role="admin")


class Boom(Exception):
    """Raised to roll a transaction back."""


def add(runtime: Runtime, session: Session, words: str, kind: str = "note") -> None:
    """Write a timeline event for INC-1 in `session`."""
    incident = service.get(session, 1)
    at = runtime.clock.now()
    timeline.record(
        session, incident=incident, kind=kind, text=words, at=at, actor="ada", source="api"
    )
    session.flush()


def record(runtime: Runtime, words: str) -> None:
    """Write a timeline event for INC-1 in a transaction of its own."""
    with runtime.db.transaction() as session:
        add(runtime, session, words)


def rolled_back(runtime: Runtime) -> None:
    """Write an event in a transaction that then fails."""
    with runtime.db.transaction() as session:
        add(runtime, session, "never")
        raise Boom


def savepoint_rolled_back(runtime: Runtime, session: Session) -> None:
    """Write an event in a savepoint that then fails."""
    with session.begin_nested():
        add(runtime, session, "undone")
        raise Boom


def test_a_commit_publishes_its_events_once(runtime: Runtime) -> None:
    runtime.flows.declare(actor=ADA, title="Checkout is slow")

    def work() -> None:
        runtime.flows.note("INC-1", actor=ADA, text="looking")

    (got,) = listen(runtime, work, 1)
    assert (got.number, got.kind) == (1, "note")
    assert got.id == runtime.flows.get("INC-1").timeline[-1].id


def test_a_rollback_publishes_nothing(runtime: Runtime) -> None:
    runtime.flows.declare(actor=ADA, title="Checkout is slow")

    def work() -> None:
        with pytest.raises(Boom):
            rolled_back(runtime)
        # A savepoint rolled back inside a transaction that commits: its event is not out.
        with runtime.db.transaction() as session:
            with pytest.raises(Boom):
                savepoint_rolled_back(runtime, session)
            add(runtime, session, "kept", kind="status_update")
        record(runtime, "after")

    got = listen(runtime, work, 2)
    assert [e.kind for e in got] == ["status_update", "note"]
    texts = {e.id: e.text for e in runtime.flows.get("INC-1").timeline}
    assert [texts[e.id] for e in got] == ["kept", "after"]


def test_a_second_instance_streams_the_first_ones_events(
    runtime: Runtime, settings: Settings, clock: FrozenClock, config: WarroomConfig
) -> None:
    # Two instances on one database: on PostgreSQL the note goes over LISTEN/NOTIFY, on
    # SQLite (two workers) the other instance's poll of the newest id picks it up.
    other = build_runtime(settings, clock=clock, config=config, upgrade=False)
    try:
        headers = {"Authorization": f"Bearer {make_token(runtime, 'ada', 'admin')}"}
        with serve(create_app(runtime)) as a, serve(create_app(other)) as b:
            answer = httpx.post(f"{a}/api/v1/incidents", json={"title": "x"}, headers=headers)
            assert answer.status_code == 201, answer.text
            with stream(b, headers) as events:
                if other.live.postgres:
                    assert other.live.listening.wait(5)
                written = httpx.post(
                    f"{a}/api/v1/incidents/INC-1/timeline", json={"text": "hi"}, headers=headers
                )
                assert written.status_code == 201, written.text
                note_id = written.json()["id"]
                got = events.next()
                # On SQLite the poll may bring the declare's own events first (committed
                # just before the stream opened, seen on its next round): older ids only.
                while got.id != str(note_id):
                    assert got.event == "timeline" and int(got.id) < note_id, got
                    got = events.next()
                assert (got.event, got.id) == ("timeline", str(note_id))
    finally:
        other.close()
    assert not [t for t in threading.enumerate() if t.name == "live-bus"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_listener_reconnects_and_catches_up(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL only: SQLite has no LISTEN connection to lose.
    assert runtime.live.postgres
    runtime.flows.declare(actor=ADA, title="Checkout is slow")

    def work() -> None:
        # Cut the listener off, then commit before it is back: the catch-up brings it.
        with runtime.db.transaction() as session:
            session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'warroom-live' AND datname = current_database()"
                )
            )
        runtime.live.listening.clear()
        record(runtime, "while away")

    got = listen(runtime, work, 1)
    assert [e.kind for e in got] == ["note"]
    # Before or after it was back, the note came through a new connection.
    assert "the LISTEN connection failed" in caplog.text


def test_a_savepoints_events_are_published_once_the_whole_transaction_commits(
    runtime: Runtime,
) -> None:
    # The intake's group commit runs each delivery in a savepoint: a stream told of its
    # events at the savepoint's release would look for an incident nobody can read yet.
    runtime.flows.declare(actor=ADA, title="Checkout is slow")
    readable_when_published: list[bool] = []
    publish = runtime.live.publish

    def spy(events: Iterable[LiveEvent]) -> None:
        events = list(events)
        with runtime.db.reading() as connection:
            found = connection.scalars(
                select(TimelineEvent.id).where(TimelineEvent.id.in_([e.id for e in events]))
            )
            readable_when_published.append(set(found) == {e.id for e in events})
        publish(events)

    runtime.live.publish = spy  # type: ignore[method-assign]

    def work() -> None:
        with runtime.db.transaction() as session:
            with session.begin_nested():
                add(runtime, session, "in a savepoint")
            add(runtime, session, "after it")

    got = listen(runtime, work, 2)
    assert [e.kind for e in got] == ["note", "note"]
    assert readable_when_published and all(readable_when_published)


def add_unplanned(session: Session, words: str) -> None:
    """Write an "alert" event for INC-1 the way the intake writes alerts joining (no ORM)."""
    incident = service.get(session, 1)
    at = incident.detected_at
    event = (incident, "alert", words, {})
    timeline.record_unplanned(session, [event], at=at, actor="am", source="alertmanager")


def unplanned_rolled_back(session: Session, words: str, *, deeper: bool) -> None:
    """Write an unplanned event in a savepoint that then fails (`deeper`: in one inside it,
    released before the outer one fails)."""
    with session.begin_nested():
        if deeper:
            with session.begin_nested():
                add_unplanned(session, words)
        else:
            add_unplanned(session, words)
        raise Boom


def test_unplanned_events_of_a_savepoint_rolled_back_are_not_published(runtime: Runtime) -> None:
    # `record_unplanned` makes no ORM objects, so a rolled-back savepoint cannot expunge
    # them: the live bus drops what was written in it, however deep, and keeps the rest.
    runtime.flows.declare(actor=ADA, title="Checkout is slow")

    def work() -> None:
        with runtime.db.transaction() as session:
            with pytest.raises(Boom):
                unplanned_rolled_back(session, "undone", deeper=False)
            with pytest.raises(Boom):
                unplanned_rolled_back(session, "undone inside", deeper=True)
            with session.begin_nested():
                add_unplanned(session, "kept in a savepoint")
            add_unplanned(session, "kept")
        record(runtime, "after")

    got = listen(runtime, work, 3)
    texts = {e.id: e.text for e in runtime.flows.get("INC-1").timeline}
    assert [texts.get(e.id) for e in got] == ["kept in a savepoint", "kept", "after"]
    assert [e.kind for e in got] == ["alert", "alert", "note"]
    assert "undone" not in texts.values() and "undone inside" not in texts.values()
