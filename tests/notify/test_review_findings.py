"""Regression tests from the review of issue 5 (engine, outbox, sender): one per finding."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from tests.helpers import SKIP
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.escalation import cadence
from warroom.escalation.models import Escalation
from warroom.incidents.actor import Actor
from warroom.notify import outbox
from warroom.notify.fakes import (
    FakeChat,
    FakeConference,
    FakeMailer,
    FakePager,
    FakeStatusPage,
    FakeWebhook,
)
from warroom.notify.models import Notification
from warroom.notify.outbox import Message
from warroom.notify.ports import Adapters, DeliveryError, IncidentCard
from warroom.notify.sender import Sender
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")

BASE: dict[str, Any] = {
    "people": [
        {"id": "alice", "name": "Alice", "email": "alice@example.com", "slack": "UALICE1"},
        {"id": "bob", "name": "Bob", "email": "bob@example.com", "slack": "UBOB1"},
    ],
    "teams": [{"id": "payments", "members": ["alice", "bob"], "leads": ["bob"]}],
    "schedules": [
        {
            "id": "payments",
            "timezone": "UTC",
            "layers": [
                {"name": "primary", "rotation": {"every": "1w", "participants": ["alice"]}},
                {"name": "secondary", "rotation": {"every": "1w", "participants": ["bob"]}},
            ],
        }
    ],
    "services": [{"id": "checkout", "team": "payments", "schedule": "payments"}],
    "integrations": {
        # Never contacted: the runtime's adapters are the recording fakes.
        "pagerduty_events": {"routing_key": "R" * 32},
    },
    "notifications": {
        "announce_channel": "#incident-response",
        "rate_limits": {"person": {"count": 50, "per": "1m"}, "channel": {"count": 2, "per": "1m"}},
    },
}


@pytest.fixture
def config() -> WarroomConfig:
    """One service paging alice, then bob; PagerDuty on; two posts a minute per channel."""
    return WarroomConfig.model_validate(BASE)


class Fakes:
    """Every adapter, recording."""

    def __init__(self, chat: FakeChat | None = None) -> None:
        self.chat = chat or FakeChat()
        self.mail = FakeMailer()
        self.pager = FakePager()
        self.adapters = Adapters(
            chat=self.chat,
            mailer=self.mail,
            conference=FakeConference(),
            pager=self.pager,
            status_page=FakeStatusPage(),
            webhook=FakeWebhook(),
        )

    def dms(self, user: str) -> list[dict[str, Any]]:
        """Return the chat posts sent to one person."""
        return [a for m, a in self.chat.calls if m == "post" and a["channel"] == user]


@pytest.fixture
def fakes(runtime: Runtime) -> Fakes:
    """Install recording fakes as the runtime's adapters; send on one thread."""
    recorded = Fakes()
    runtime.adapters_override = recorded.adapters
    runtime.engine.sender.workers = 1
    return recorded


def statuses(runtime: Runtime) -> dict[str, str]:
    """Return key -> status of every outbox row."""
    with runtime.db.session() as session:
        return {r.key: r.status for r in session.scalars(select(Notification))}


def test_resolve_after_reopen_reaches_pagerduty(runtime: Runtime, fakes: Fakes) -> None:
    incident = runtime.flows.declare(
        actor=ACTOR, title="Checkout down", severity="SEV-1", service="checkout"
    )
    ref = str(incident.number)
    runtime.engine.run_once()
    runtime.flows.transition(ref, "resolve", actor=ACTOR, skip_verification=SKIP)
    runtime.engine.run_once()
    runtime.flows.transition(ref, "reopen", actor=ACTOR)
    runtime.engine.run_once()
    runtime.flows.transition(ref, "resolve", actor=ACTOR, skip_verification=SKIP)
    runtime.engine.run_once()
    actions = [a["action"] for _, a in fakes.pager.calls]
    assert actions == ["trigger", "resolve", "trigger", "resolve"]


def test_channel_rate_limit_holds_within_one_batch(runtime: Runtime, fakes: Fakes) -> None:
    for title in ("one", "two", "three", "four", "five"):
        runtime.flows.declare(actor=ACTOR, title=title, severity="SEV-3", service="checkout")
    runtime.engine.run_once()
    announced = [a for m, a in fakes.chat.calls if a.get("channel") == "#incident-response"]
    assert len(announced) <= 2  # rate_limits.channel: 2 per minute


class _SlowChat(FakeChat):
    """Each post takes 61 s of the frozen clock (a Slack timeout plus retries, say)."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__()
        self.clock = clock
        self.during_first: Any = None

    def post(self, *, channel: str, text: str, key: str, card: IncidentCard | None = None) -> str:
        answer = super().post(channel=channel, text=text, key=key, card=card)
        self.clock.advance(timedelta(seconds=61))
        hook, self.during_first = self.during_first, None
        if hook is not None:
            hook()
        return answer


def test_a_lease_that_ran_out_is_not_sent_by_its_old_owner(
    runtime: Runtime, clock: FrozenClock
) -> None:
    chat = _SlowChat(clock)
    fakes = Fakes(chat)
    runtime.adapters_override = fakes.adapters
    with runtime.db.transaction() as session:
        outbox.enqueue(
            session,
            [Message(f"k{i}", "chat", "post", f"#room-{i}", {"text": f"m{i}"}) for i in range(3)],
            now=clock.now(),
            retry=runtime.config().notifications.retry,
        )

    def sender(owner: str) -> Sender:
        return Sender(
            db=runtime.db,
            config=runtime.config,
            adapters=runtime.adapters,
            now=clock.now,
            owner=owner,
            workers=1,
        )

    first, second = sender("engine-a"), sender("engine-b")
    chat.during_first = second.send_due  # engine B runs while A is stuck in its first send
    first.send_due()
    # A's lease ran out during its first (61 s) send: it sends nothing more of that claim.
    assert chat.keys() == ["k0", "k0"]  # the one in flight went twice, under one key
    while second.send_due() or first.send_due():
        pass
    assert sorted(chat.keys()) == ["k0", "k0", "k1", "k2"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # SQLite's write lock
def test_on_call_lookup_does_not_hold_the_sqlite_write_lock(runtime: Runtime, fakes: Fakes) -> None:
    path = runtime.db.write_engine.url.database
    assert path is not None
    locked: list[bool] = []
    original = runtime.engine.on_call_everywhere

    def probe(at: Any) -> dict[str, dict[str, list[str]]]:
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            locked.append(False)
        except sqlite3.OperationalError:
            locked.append(True)
        finally:
            other.close()
        return original(at)

    runtime.engine.on_call_everywhere = probe
    runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-1", service="checkout")
    runtime.engine.run_once()
    assert locked and not any(locked)


def _reminder_statements(runtime: Runtime, clock: FrozenClock, incidents: int) -> int:
    """Declare incidents, let them go quiet past their cadence, count the SQL of reminders."""
    runtime.flows.declare(actor=ACTOR, title="warm-up", severity="SEV-3", service="checkout")
    runtime.engine.run_once()
    for index in range(incidents):
        runtime.flows.declare(
            actor=ACTOR, title=f"quiet {index}", severity="SEV-3", service="checkout"
        )
    clock.advance(timedelta(minutes=61))
    seen: list[str] = []

    def listener(*args: Any) -> None:
        seen.append(str(args[2])[:60])

    engine = runtime.db.write_engine
    with runtime.db.transaction() as session:
        session.connection()  # begin before counting
        event.listen(engine, "before_cursor_execute", listener)
        try:
            cadence.reminders(
                session, config=runtime.config(), channels={"chat", "email"}, now=clock.now()
            )
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    return len(seen)


def test_reminder_sql_does_not_grow_with_the_number_of_incidents(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    statements = _reminder_statements(runtime, clock, 12)
    assert statements <= 6, f"{statements} statements to plan reminders for 13 incidents"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite always counts
def test_enqueue_counts_the_rows_it_wrote_on_postgresql(runtime: Runtime) -> None:
    messages = [
        Message(f"inc{i}:page:0:0:p:chat", "chat", "page", f"person:p{i % 3}", {"text": "x"})
        for i in range(1500)
    ]
    with runtime.db.transaction() as session:
        count = outbox.enqueue(
            session, messages, now=runtime.clock.now(), retry=runtime.config().notifications.retry
        )
    assert count == 1500


def test_one_bad_escalation_row_does_not_stop_all_paging(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    runtime.flows.declare(actor=ACTOR, title="first", severity="SEV-2", service="checkout")
    runtime.flows.declare(actor=ACTOR, title="second", severity="SEV-2", service="checkout")
    runtime.engine.run_once()
    with runtime.db.transaction() as session:
        first = session.scalars(select(Escalation).order_by(Escalation.id)).first()
        assert first is not None
        session.execute(
            update(Escalation)
            .where(Escalation.id == first.id)
            .values(
                policy_version="0ld5naps40t0",
                policy={"id": "old", "steps": [{"after": "0m", "notify": ["pager:x"]}]},
            )
        )
    clock.advance(timedelta(minutes=5))
    # The engine's loop logs the failure and tries again next second, forever.
    with contextlib.suppress(Exception):
        runtime.engine.run_once()
    assert "UBOB1" in [a["channel"] for m, a in fakes.chat.calls if m == "post"], (
        "the second incident's secondary was never paged"
    )


def test_steps_are_due_after_the_start_of_the_escalation(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-2", service="checkout")
    clock.advance(timedelta(seconds=40))  # the first tick is late (a busy engine)
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=4, seconds=20))  # 5 min after the escalation began
    runtime.engine.run_once()
    assert fakes.dms("UBOB1"), "the secondary (after: 5m) was not paged 5 min after the start"


def test_updates_without_incident_channels_do_not_die(
    runtime: Runtime, fakes: Fakes, config: WarroomConfig
) -> None:
    config.notifications.incident_channels = False
    incident = runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-2", service="checkout")
    runtime.engine.run_once()
    runtime.flows.acknowledge(str(incident.number), actor=ACTOR)
    runtime.engine.run_once()
    dead = [key for key, status in statuses(runtime).items() if status == "dead"]
    assert dead == []
    kinds = [e.kind for e in runtime.flows.get(str(incident.number)).timeline]
    assert "notification_failed" not in kinds


def test_a_retrying_page_is_dropped_once_the_incident_is_acknowledged(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    fakes.chat.fail_with = DeliveryError("slack is down")
    incident = runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-2", service="checkout")
    runtime.engine.run_once()
    runtime.flows.acknowledge(str(incident.number), actor=Actor(name="alice", source="api"))
    fakes.chat.fail_with = None
    clock.advance(timedelta(minutes=11))
    for _ in range(3):
        runtime.engine.run_once()
    assert not fakes.dms("UALICE1"), "alice was paged for an incident already acknowledged"


def test_lowering_severity_does_not_mail_executives_again(
    runtime: Runtime, fakes: Fakes, config: WarroomConfig
) -> None:
    config.notifications.executives = ["cto@example.com"]
    incident = runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-1", service="checkout")
    runtime.engine.run_once()
    runtime.flows.update(str(incident.number), actor=ACTOR, changes={"severity": "SEV-2"})
    runtime.engine.run_once()
    executive = [a for _, a in fakes.mail.calls if a["to"] == ["cto@example.com"]]
    assert len(executive) == 1
